"""Proposals, their lines, the catalog they draw on, signatures and the timeline."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import MONEY, QUANTITY, ZERO, created_at_column, utcnow
from portal.core.extensions import db
from portal.core.money import MAX_MONEY, line_amount
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser


class CatalogItem(db.Model):
    """A service the business sells, with a list price a proposal line starts from."""

    __tablename__ = "catalog_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    is_active: Mapped[bool] = mapped_column(default=True)


class ProposalStatus:
    DRAFT = "draft"
    DELIVERED = "delivered"
    WON = "won"
    LOST = "lost"
    SUPERSEDED = "superseded"

    ALL = (DRAFT, DELIVERED, WON, LOST, SUPERSEDED)


LOST_REASONS = ("price", "competitor", "timing", "scope", "no_decision", "other")

# Bounds of one line, so that its amount and the proposal's totals fit MONEY
# (Numeric(12, 2)): the product is checked as well (operations._clean_line).
MAX_QUANTITY = Decimal("1000000")
MAX_UNIT_PRICE = MAX_MONEY


class Proposal(db.Model):
    """An estimate sent to one contact: included lines plus optional services.

    ``number`` stays the same across revisions; each revision is its own row, so a
    signature always stays attached to exactly the content that was signed.
    """

    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("number", "revision", name="uq_proposals_number_revision"),
        # The sort keys of the keyset-paged lists (admin list, portal home sections).
        Index("ix_proposals_updated_at_id", "updated_at", "id"),
        Index("ix_proposals_status_updated_at_id", "status", "updated_at", "id"),
        Index("ix_proposals_delivered_at_id", "delivered_at", "id"),
        Index("ix_proposals_signed_at_id", "signed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(default=1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    sales_rep_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    terms: Mapped[str] = mapped_column(Text, default="")
    internal_notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=ProposalStatus.DRAFT, index=True)
    # Bumped by every content change; signing is conditional on the version read.
    content_version: Mapped[int] = mapped_column(default=1)
    # Kept by operations.refresh_totals on every line edit, for the lists.
    included_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    optional_total: Mapped[Decimal] = mapped_column(MONEY, default=ZERO, server_default="0")
    delivered_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    lost_reason: Mapped[str | None] = mapped_column(String(40))
    lost_competitor: Mapped[str | None] = mapped_column(String(200))
    lost_detail: Mapped[str | None] = mapped_column(Text)
    # The sales opportunity this proposal quotes (Make proposal); revisions keep it.
    # By table name only: the proposals domain never imports sales.
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship()
    contact: Mapped[Contact] = relationship(back_populates="proposals")
    sales_rep: Mapped[StaffUser] = relationship(foreign_keys=[sales_rep_id])
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
    lines: Mapped[list[ProposalLine]] = relationship(
        back_populates="proposal",
        order_by="(ProposalLine.position, ProposalLine.id)",
        cascade="all, delete-orphan",
        lazy="raise",
    )
    signature: Mapped[Signature | None] = relationship(back_populates="proposal", lazy="raise")

    @property
    def label(self) -> str:
        return f"P-{self.number}" if self.revision == 1 else f"P-{self.number} rev {self.revision}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def is_editable(self) -> bool:
        """Content may change only before signing and before a decision."""
        return self.signed_at is None and self.status in (ProposalStatus.DRAFT, ProposalStatus.DELIVERED)


class ProposalLine(db.Model):
    __tablename__ = "proposal_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    catalog_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    is_optional: Mapped[bool] = mapped_column(default=False)
    # What one unit costs the business (a supplier's price, or typed by staff): staff
    # only, never shown on the portal and never part of the signed content or its hash.
    unit_cost: Mapped[Decimal | None] = mapped_column(MONEY)

    proposal: Mapped[Proposal] = relationship(back_populates="lines")

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price)


class Signature(db.Model):
    """The customer's electronic signature of one proposal revision.

    ``proposal_id`` is unique: whatever the race, a revision has at most one.
    """

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    portal_link_id: Mapped[int | None] = mapped_column(ForeignKey("portal_links.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    strokes_json: Mapped[str] = mapped_column(Text)
    selected_line_ids: Mapped[str] = mapped_column(Text)  # JSON list of ints, sorted
    signed_total: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    content_hash: Mapped[str] = mapped_column(String(64))
    consent_version: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[datetime] = created_at_column()
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))

    proposal: Mapped[Proposal] = relationship(back_populates="signature")
    contact: Mapped[Contact] = relationship()
