"""The sales pipeline: the admin-edited lists (stages, types, sources, lost reasons,
competitors), leads, opportunities and their item lines.

An opportunity comes *from* a lead or a customer (an organization, optionally one of
its contacts). ``outcome`` copies the outcome of its stage (open, won, lost) so the
board and the lists filter on an indexed column of the one table, as tickets copy
their status's state. ``label_key`` is the search key of the title and the customer's
name together (kept by ``opportunities.refresh_label_key``), so one indexed column
answers the list's search box.

Several lists carry a ``key``: the stable name code relies on ("proposal_sent",
"signed", "no_reply", ...) while admins rename what people read.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.core.db import MONEY, QUANTITY, ZERO, created_at_column, utcnow
from portal.core.extensions import db
from portal.core.money import line_amount
from portal.core.queries.search import search_key, search_key_type, trigram_index
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem, Proposal


class Outcome:
    """What a stage means: still being worked, won, or lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"

    ALL = (OPEN, WON, LOST)
    CLOSED = (WON, LOST)


class StageKey:
    """The stages the proposal events move an opportunity to (``Stage.key``)."""

    NEW = "new"
    QUALIFIED = "qualified"
    PROPOSAL_SENT = "proposal_sent"
    SIGNED = "signed"
    WON = "won"
    LOST = "lost"


class LostReasonKey:
    """Lost reasons code refers to: the proposals' reason codes
    (``proposals.models.LOST_REASONS``) map onto the list by these keys, and the
    auto-close job closes with ``NO_REPLY``."""

    PRICE = "price"
    COMPETITOR = "competitor"
    TIMING = "timing"
    SCOPE = "scope"
    NO_DECISION = "no_decision"
    NO_REPLY = "no_reply"
    OTHER = "other"


class LeadStatus:
    OPEN = "open"
    CONVERTED = "converted"
    DISCARDED = "discarded"

    ALL = (OPEN, CONVERTED, DISCARDED)


class LeadOrigin:
    """How a lead came in: typed by staff, the public quote page, a portal contact."""

    STAFF = "staff"
    QUOTE_PAGE = "quote_page"
    PORTAL = "portal"

    ALL = (STAFF, QUOTE_PAGE, PORTAL)


# --- the admin-edited lists ----------------------------------------------------------


class Stage(db.Model):
    """A column of the board. A stage in use is deactivated or renamed, never deleted."""

    __tablename__ = "sales_stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str] = mapped_column(String(10), default=Outcome.OPEN)
    default_probability: Mapped[int] = mapped_column(default=0)
    # Waiting on the customer: the stages auto-close counts silence in.
    is_waiting_on_customer: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    key: Mapped[str | None] = mapped_column(String(40), unique=True)


class _ListMixin:
    """A small list admins edit: a name, an order, deactivated rather than deleted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    key: Mapped[str | None] = mapped_column(String(40), unique=True)


class OpportunityType(_ListMixin, db.Model):
    """Sales, Support, Maintenance..."""

    __tablename__ = "sales_opportunity_types"


class Source(_ListMixin, db.Model):
    """Where a lead or opportunity came from (website, referral, ...)."""

    __tablename__ = "sales_sources"


class LostReason(_ListMixin, db.Model):
    __tablename__ = "sales_lost_reasons"


class Competitor(_ListMixin, db.Model):
    __tablename__ = "sales_competitors"


# --- leads -------------------------------------------------------------------------


class Lead(db.Model):
    """Someone who may buy: typed by staff, from the quote page or the portal. Converted,
    it points at the organization, contact and/or opportunity it became."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_status_id", "status", "id"),
        Index("ix_leads_rep_id_id", "rep_id", "id"),
        trigram_index("ix_leads_name_key_trgm", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(search_key_type(400), default="", index=True)
    company: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sales_sources.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default=LeadStatus.OPEN)
    origin: Mapped[str] = mapped_column(String(12), default=LeadOrigin.STAFF)
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    # Leads and opportunities point at each other (converted into / from): the
    # constraint is added after both tables exist.
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", use_alter=True, name="fk_leads_opportunity_id_opportunities"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    source: Mapped[Source | None] = relationship(lazy="raise")
    rep: Mapped[StaffUser | None] = relationship(lazy="raise")
    organization: Mapped[Organization | None] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")

    @validates("name", "company")
    def _keep_name_key(self, key: str, value: str | None) -> str:
        value = (value or "").strip()
        name = value if key == "name" else (self.name or "")
        company = value if key == "company" else (self.company or "")
        self.name_key = search_key(f"{name} {company}")[:400]
        return value


# --- opportunities -------------------------------------------------------------------

opportunity_lost_reasons = Table(
    "opportunity_lost_reasons",
    db.metadata,
    Column("opportunity_id", ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True),
    Column("lost_reason_id", ForeignKey("sales_lost_reasons.id"), primary_key=True, index=True),
)

opportunity_competitors = Table(
    "opportunity_competitors",
    db.metadata,
    Column("opportunity_id", ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True),
    Column("competitor_id", ForeignKey("sales_competitors.id"), primary_key=True, index=True),
)


class Opportunity(db.Model):
    """A possible sale to a customer (or a lead not yet a customer).

    ``probability`` empty means the stage's default. ``closed_at`` is set when the
    outcome becomes won or lost and cleared on reopening.
    """

    __tablename__ = "opportunities"
    __table_args__ = (
        # The board: newest per stage, and its counts and sums per currency.
        Index("ix_opportunities_stage_id_id", "stage_id", "id"),
        Index("ix_opportunities_stage_id_currency_amount", "stage_id", "currency", "amount"),
        # A staff member's board: each part of the access rule (their own, an
        # organization's) an index range per stage (``queries.board``).
        Index("ix_opportunities_rep_id_stage_id_id", "rep_id", "stage_id", "id"),
        Index("ix_opportunities_organization_id_stage_id_id", "organization_id", "stage_id", "id"),
        # The list's filters and sorts, each with id for keyset pages.
        Index("ix_opportunities_outcome_id", "outcome", "id"),
        Index("ix_opportunities_rep_id_id", "rep_id", "id"),
        Index("ix_opportunities_type_id_id", "type_id", "id"),
        Index("ix_opportunities_source_id_id", "source_id", "id"),
        Index("ix_opportunities_organization_id_id", "organization_id", "id"),
        Index("ix_opportunities_expected_close_on_id", "expected_close_on", "id"),
        Index("ix_opportunities_next_contact_on_id", "next_contact_on", "id"),
        Index("ix_opportunities_updated_at_id", "updated_at", "id"),
        Index("ix_opportunities_amount_id", "amount", "id"),
        # Follow-ups of one person by day; auto-close's silent opportunities.
        Index("ix_opportunities_next_contact_by_id_on", "next_contact_by_id", "next_contact_on"),
        Index("ix_opportunities_outcome_last_activity", "outcome", "last_customer_activity_at"),
        Index("ix_opportunities_created_at", "created_at"),
        trigram_index("ix_opportunities_label_key_trgm", "label_key"),
        # One open opportunity per (contract, offered service): what makes a campaign
        # run, a second run, a double click or two staff at once make it only once.
        # Closing the opportunity (won, lost) frees the key for a later campaign.
        Index(
            "uq_opportunities_open_contract_service",
            "contract_id",
            "offered_service_id",
            unique=True,
            sqlite_where=text("outcome = 'open' AND contract_id IS NOT NULL"),
            postgresql_where=text("outcome = 'open' AND contract_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    label_key: Mapped[str] = mapped_column(search_key_type(400), default="", index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("sales_opportunity_types.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sales_sources.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stages.id"))
    outcome: Mapped[str] = mapped_column(String(10), default=Outcome.OPEN)
    amount: Mapped[Decimal] = mapped_column(MONEY, default=ZERO)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    probability: Mapped[int | None]
    expected_close_on: Mapped[date | None]
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    next_contact_on: Mapped[date | None]
    next_contact_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    last_customer_activity_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    lost_detail: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # The contract this opportunity sells an optional service of, and that service
    # (the Optional Service Opportunity screen); by table name, contracts sit above.
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    offered_service_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))
    # The Optional Service Opportunity campaign that made it (by table name: campaigns sit above).
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")
    lead: Mapped[Lead | None] = relationship(foreign_keys=[lead_id], lazy="raise")
    type: Mapped[OpportunityType] = relationship(lazy="raise")
    source: Mapped[Source | None] = relationship(lazy="raise")
    stage: Mapped[Stage] = relationship(lazy="raise")
    rep: Mapped[StaffUser | None] = relationship(foreign_keys=[rep_id], lazy="raise")
    next_contact_by: Mapped[StaffUser | None] = relationship(foreign_keys=[next_contact_by_id], lazy="raise")
    created_by: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_id], lazy="raise")
    lines: Mapped[list[OpportunityLine]] = relationship(
        back_populates="opportunity",
        order_by="(OpportunityLine.position, OpportunityLine.id)",
        cascade="all, delete-orphan",
        lazy="raise",
    )
    lost_reasons: Mapped[list[LostReason]] = relationship(
        secondary=opportunity_lost_reasons, lazy="raise", order_by="(LostReason.position, LostReason.id)"
    )
    competitors: Mapped[list[Competitor]] = relationship(
        secondary=opportunity_competitors, lazy="raise", order_by="(Competitor.position, Competitor.id)"
    )
    proposals: Mapped[list[Proposal]] = relationship(
        primaryjoin="Opportunity.id == foreign(Proposal.opportunity_id)",
        order_by="(Proposal.number, Proposal.revision)",
        lazy="raise",
        viewonly=True,
    )

    @validates("title")
    def _strip_title(self, _key: str, value: str | None) -> str:
        return (value or "").strip()

    @property
    def is_closed(self) -> bool:
        return self.outcome in Outcome.CLOSED


class OpportunityLine(db.Model):
    """An item of an opportunity: a catalog service or free text, quantity and price.
    Make proposal copies them into the proposal's lines."""

    __tablename__ = "opportunity_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"), index=True)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)

    opportunity: Mapped[Opportunity] = relationship(back_populates="lines")
    service: Mapped[CatalogItem | None] = relationship(lazy="raise")

    @property
    def amount(self) -> Decimal:
        return line_amount(self.quantity, self.unit_price)
