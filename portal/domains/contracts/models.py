"""Contracts and their revisions.

A contract belongs to an organization and one of its properties (``sites``). Its
header (number, dates, status, billing cycle) lives on ``contracts``; what it lists
lives on a revision: included services (quantity x price, the contract's price) and
optional services (a price offered for this property, for information, never part of
the contract's price). Revision 0 is edited in place while the contract is a draft;
changing an active contract's services makes revision N+1 and moves
``current_revision_id``, so every earlier revision stays readable as it was.

``current_revision_id`` is denormalized on purpose: "active contracts whose current
revision lists service S as optional" (the Optional Service Opportunity preview) is
one indexed join, ``contract_lines (service_id, kind) -> contracts
(current_revision_id)``, whatever the number of revisions.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import MONEY, QUANTITY, ZERO, created_at_column, utcnow
from portal.core.extensions import db
from portal.core.money import line_amount
from portal.domains.customers.models import Organization, Site
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem


class ContractStatus:
    DRAFT = "draft"
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    ALL = (DRAFT, ACTIVE, EXPIRED, CANCELLED)


class BillingCycle:
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    ONE_OFF = "one_off"

    ALL = (MONTHLY, QUARTERLY, YEARLY, ONE_OFF)


class LineKind:
    INCLUDED = "included"
    OPTIONAL = "optional"

    ALL = (INCLUDED, OPTIONAL)


class Contract(db.Model):
    """A customer's contract at one property; its services are on its revisions."""

    __tablename__ = "contracts"
    __table_args__ = (
        Index("ix_contracts_status_ends_on", "status", "ends_on"),
        Index("ix_contracts_organization_id_id", "organization_id", "id"),
        Index("ix_contracts_site_id_id", "site_id", "id"),
        Index("ix_contracts_updated_at_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(12), default=ContractStatus.DRAFT)
    billing_cycle: Mapped[str] = mapped_column(String(12), default=BillingCycle.MONTHLY)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    # The opportunity of its type ("Maintenance"), by table name: a campaign's
    # opportunity takes its type from the contract.
    type_id: Mapped[int | None] = mapped_column(ForeignKey("sales_opportunity_types.id"))
    # The won opportunity it was made from, if any (by table name: sales sits below).
    # use_alter: opportunities.contract_id points back here (a campaign's opportunity).
    # Unique: one contract per won opportunity, held by the index and not only a check
    # (a double tap on "Make contract"); NULLs (typed contracts) never collide.
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", use_alter=True, name="fk_contracts_opportunity_id_opportunities"),
        index=True,
        unique=True,
    )
    # Points at the revision in force; use_alter breaks the contracts <-> revisions cycle.
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("contract_revisions.id", use_alter=True, name="fk_contracts_current_revision_id_contract_revisions"),
        index=True,
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    activated_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(lazy="raise")
    site: Mapped[Site] = relationship(lazy="raise")
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id], lazy="raise")
    current_revision: Mapped[ContractRevision | None] = relationship(
        foreign_keys=[current_revision_id], post_update=True, lazy="raise"
    )
    revisions: Mapped[list[ContractRevision]] = relationship(
        back_populates="contract",
        foreign_keys="ContractRevision.contract_id",
        order_by="ContractRevision.number",
        cascade="all, delete-orphan",
        lazy="raise",
    )

    @property
    def is_active(self) -> bool:
        return self.status == ContractStatus.ACTIVE


class ContractRevision(db.Model):
    """One version of a contract's services (v.0, v.1 ...); never edited once superseded."""

    __tablename__ = "contract_revisions"
    __table_args__ = (UniqueConstraint("contract_id", "number", name="uq_contract_revisions_contract_id_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(default=0)
    # Kept by the operations on every line change: the price of what is included.
    included_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = created_at_column()
    # The won opportunity whose signed services this revision added (a campaign's "Add
    # to contract"). Unique: an opportunity changes its contract once, held by the
    # index (a double tap, a second tab), not only a check.
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True, unique=True)

    contract: Mapped[Contract] = relationship(back_populates="revisions", foreign_keys=[contract_id], lazy="raise")
    created_by: Mapped[StaffUser | None] = relationship(lazy="raise")
    lines: Mapped[list[ContractLine]] = relationship(
        back_populates="revision",
        order_by="(ContractLine.kind, ContractLine.position, ContractLine.id)",
        cascade="all, delete-orphan",
        lazy="raise",
    )

    @property
    def label(self) -> str:
        return f"v.{self.number}"


class ContractLine(db.Model):
    """A service a revision lists: included (quantity x price) or optional (price offered)."""

    __tablename__ = "contract_lines"
    __table_args__ = (
        # The campaign preview: every revision listing service S as optional.
        Index("ix_contract_lines_service_id_kind_revision_id", "service_id", "kind", "revision_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("contract_revisions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=LineKind.INCLUDED)
    service_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    position: Mapped[int] = mapped_column(default=0)

    revision: Mapped[ContractRevision] = relationship(back_populates="lines", lazy="raise")
    service: Mapped[CatalogItem] = relationship(lazy="raise")

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price)
