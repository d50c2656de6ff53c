"""Supplier quotations and the first response of an opportunity (SALES-MORE's models,
beside SALES-CORE's ``models.py``).

- ``SupplierQuoteRequest``: one supplier contact asked for prices on an opportunity's
  items. Its link follows the portal link rules: 32 random bytes, only the SHA-256
  stored (``token_hash``), an expiry, and it opens this one request and nothing else.
  ``submitted_at`` is set once, by a conditional update: a second submit (or a second
  tab) changes nothing.
- ``SupplierQuoteLine``: what was asked (a copy of the item's description and quantity,
  so the answer keeps meaning what the supplier read) and the answer: unit price and
  lead time in days.
- ``OpportunityFirstResponse``: when staff first emailed the customer about the
  opportunity, and how many business minutes that was after its creation. One row per
  opportunity (the primary key), written once: the first response is final.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import MONEY, QUANTITY, created_at_column, utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Opportunity


class SupplierQuoteRequest(db.Model):
    __tablename__ = "supplier_quote_requests"
    __table_args__ = (Index("ix_supplier_quote_requests_opportunity_id_id", "opportunity_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    message: Mapped[str] = mapped_column(Text, default="")  # staff's note to the supplier
    expires_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = created_at_column()
    submitted_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")  # the supplier's note

    opportunity: Mapped[Opportunity] = relationship(lazy="raise")
    organization: Mapped[Organization] = relationship(lazy="raise")
    contact: Mapped[Contact] = relationship(lazy="raise")
    created_by: Mapped[StaffUser | None] = relationship(lazy="raise")
    lines: Mapped[list[SupplierQuoteLine]] = relationship(
        back_populates="request",
        order_by="(SupplierQuoteLine.position, SupplierQuoteLine.id)",
        cascade="all, delete-orphan",
        lazy="raise",
    )

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


class SupplierQuoteLine(db.Model):
    __tablename__ = "supplier_quote_lines"
    __table_args__ = (
        UniqueConstraint("request_id", "opportunity_line_id", name="uq_supplier_quote_lines_request_line"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("supplier_quote_requests.id", ondelete="CASCADE"), index=True)
    # The item asked about; NULL once staff removed that item from the opportunity.
    opportunity_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunity_lines.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal | None] = mapped_column(MONEY)
    lead_time_days: Mapped[int | None]

    request: Mapped[SupplierQuoteRequest] = relationship(back_populates="lines")


class OpportunityFirstResponse(db.Model):
    __tablename__ = "opportunity_first_responses"

    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True)
    responded_at: Mapped[datetime]
    business_minutes: Mapped[int]
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # What the first response was: "proposal_delivered", "staff_email", ...
    via: Mapped[str] = mapped_column(String(40))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"))

    staff: Mapped[StaffUser | None] = relationship(lazy="raise")


# Covering indexes of the sales reports (``reports.py``) on SALES-CORE's table, declared
# here with the reports that need them: the pipeline reads open opportunities by stage,
# rep, close date, currency, probability and amount from the index alone; the win rate
# reads closed ones by outcome and closing time; first response the ones created in a
# range with their rep and source.
Index(
    "ix_opportunities_pipeline",
    Opportunity.outcome,
    Opportunity.stage_id,
    Opportunity.rep_id,
    Opportunity.expected_close_on,
    Opportunity.currency,
    Opportunity.probability,
    Opportunity.amount,
)
Index("ix_opportunities_outcome_closed_at", Opportunity.outcome, Opportunity.closed_at)
Index("ix_opportunities_created_at_rep_source", Opportunity.created_at, Opportunity.rep_id, Opportunity.source_id)
