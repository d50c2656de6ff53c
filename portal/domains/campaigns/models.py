"""Campaigns and their items.

A campaign is one run of the Optional Service Opportunity screen: a service and the
filters that chose the contracts. Its items are enumerated once, when the run starts
(one per qualifying contract); each item then ends ``made`` (an opportunity and its
draft proposal), ``skipped`` (an open opportunity for that contract and service
already exists, or no one to address) or ``failed``. The counters on the campaign are
kept by the chunk that processes the items, in the same transaction, so the progress
bar never counts an item that rolled back.

The key that makes a property's opportunity exactly once is not here: it is the
partial unique index ``uq_opportunities_open_contract_service`` on opportunities.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.core.db import MONEY, created_at_column
from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem


class CampaignStatus:
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"

    ALL = (QUEUED, RUNNING, DONE)


class ItemStatus:
    PENDING = "pending"
    MADE = "made"
    SKIPPED = "skipped"
    FAILED = "failed"

    ALL = (PENDING, MADE, SKIPPED, FAILED)


def name_key_of(name: str | None) -> str:
    """The unique key of a campaign's name: case and surrounding spaces do not count."""
    return " ".join((name or "").split()).casefold()[:120]


class Campaign(db.Model):
    """One run of the Optional Service Opportunity screen."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_created_at_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Unique whatever the case: "Aeration 2027" and "aeration 2027" are one name.
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"), index=True)
    # The filters (empty: any)
    zone: Mapped[str] = mapped_column(String(80), default="")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    include_sub_organizations: Mapped[bool] = mapped_column(default=False)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    ends_from: Mapped[date | None]
    ends_to: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default=CampaignStatus.QUEUED)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Kept by each chunk in its own transaction (see the module docstring).
    total_items: Mapped[int] = mapped_column(default=0)
    made_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    # Each Run (the first and every re-run) enqueues its chunk jobs under its own number.
    run_count: Mapped[int] = mapped_column(default=0)
    # Deliver all: asked once (a conditional update), then done by a job.
    delivery_requested_at: Mapped[datetime | None]
    delivery_finished_at: Mapped[datetime | None]
    delivered_count: Mapped[int] = mapped_column(default=0)

    service: Mapped[CatalogItem] = relationship(lazy="raise")
    organization: Mapped[Organization | None] = relationship(lazy="raise")
    rep: Mapped[StaffUser | None] = relationship(foreign_keys=[rep_id], lazy="raise")
    created_by: Mapped[StaffUser] = relationship(foreign_keys=[created_by_id], lazy="raise")

    @validates("name")
    def _keep_name_key(self, _key: str, value: str | None) -> str:
        value = " ".join((value or "").split())
        self.name_key = name_key_of(value)
        return value

    @property
    def processed(self) -> int:
        return self.made_count + self.skipped_count + self.failed_count

    @property
    def is_done(self) -> bool:
        return self.status == CampaignStatus.DONE


class CampaignItem(db.Model):
    """One qualifying contract of a campaign, found when the run started."""

    __tablename__ = "campaign_items"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contract_id", name="uq_campaign_items_campaign_id_contract_id"),
        # Chunks walk a campaign's items in id order; the page filters by status.
        Index("ix_campaign_items_campaign_id_status_id", "campaign_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(10), default=ItemStatus.PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    # The revision the chunk used (the one current when it reached the contract).
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("contract_revisions.id"))
    revision_number: Mapped[int | None]
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"), index=True)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    processed_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship(lazy="raise")
    organization: Mapped[Organization] = relationship(lazy="raise")
