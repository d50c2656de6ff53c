"""Customers: organizations, sub-organizations, their contacts and sites."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.core.db import created_at_column
from portal.core.extensions import db
from portal.core.queries.search import search_key, search_key_type, trigram_index

if TYPE_CHECKING:
    from portal.domains.identity.models import StaffUser
    from portal.domains.proposals.models import Proposal

INVOICE_TEMPLATES = ("standard", "detailed", "summary", "parent_consolidated")
TAX_REGIONS = ("none", "us_ny", "us_ca", "us_tx", "eu_it", "eu_es", "eu_ro", "uk", "ca_on")
PORTAL_LEVELS = ("requester", "organization", "organization_tree")

organization_team = Table(
    "organization_team",
    db.metadata,
    Column("organization_id", ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Organization(db.Model):
    """A customer. ``parent_id`` makes it a sub-organization (franchise, location).

    The ``*_key`` columns are case-folded copies kept for indexed search
    (``core.queries.search``).
    """

    __tablename__ = "organizations"
    __table_args__ = (
        trigram_index("ix_organizations_name_key_trgm", "name_key"),
        trigram_index("ix_organizations_city_key_trgm", "city_key"),
        trigram_index("ix_organizations_tax_id_key_trgm", "tax_id_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(search_key_type(200), default="", index=True)
    city: Mapped[str] = mapped_column(String(120), default="")
    city_key: Mapped[str] = mapped_column(search_key_type(120), default="", index=True)
    # A sales territory ("North", "Downtown"): what assignment rules match besides city.
    zone: Mapped[str] = mapped_column(String(80), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    bill_to_parent: Mapped[bool] = mapped_column(default=False)
    # Billing settings
    invoice_template: Mapped[str] = mapped_column(String(40), default="standard")
    tax_region: Mapped[str] = mapped_column(String(40), default="none")
    tax_id: Mapped[str] = mapped_column(String(40), default="")
    tax_id_key: Mapped[str] = mapped_column(search_key_type(40), default="", index=True)
    billing_address: Mapped[str] = mapped_column(Text, default="")
    billing_attention: Mapped[str] = mapped_column(String(200), default="")
    billing_reviewed_at: Mapped[datetime | None]
    account_manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # The SLA of this customer's tickets: a shared one or its own; empty means the
    # parent's, then the default SLA.
    sla_id: Mapped[int | None] = mapped_column(ForeignKey("slas.id"), index=True)
    # The language of its contacts' portal and mail when they chose none (empty: the
    # browser's, else the instance default). See portal/core/i18n.py.
    default_language: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    # A supplier staff may ask for prices (supplier quotations of an opportunity).
    is_supplier: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()

    parent: Mapped[Organization | None] = relationship(remote_side=[id], lazy="raise")
    contacts: Mapped[list[Contact]] = relationship(back_populates="organization", lazy="raise")
    account_manager: Mapped[StaffUser | None] = relationship(lazy="raise")
    team: Mapped[list[StaffUser]] = relationship(secondary=organization_team, lazy="raise", order_by="StaffUser.name")

    @validates("name", "city", "tax_id")
    def _keep_search_keys(self, key: str, value: str | None) -> str:
        value = (value or "").strip()
        setattr(self, f"{key}_key", search_key(value))
        return value


class Contact(db.Model):
    """A person at a customer. ``portal_epoch`` ends every portal session of the
    contact when bumped (sessions carry the epoch they started with)."""

    __tablename__ = "contacts"
    __table_args__ = (
        # One active contact per address, and one primary contact per organization.
        Index(
            "uq_contacts_active_email",
            "email",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index(
            "uq_contacts_primary_per_org",
            "organization_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), index=True)  # stored lower-case
    phone: Mapped[str | None] = mapped_column(String(40))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Set by staff, or by the contact with the portal's language switch; empty: the
    # organization's default decides (portal/core/i18n.py).
    preferred_language: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    portal_enabled: Mapped[bool] = mapped_column(default=True)
    portal_level: Mapped[str] = mapped_column(String(20), default="requester")
    portal_epoch: Mapped[int] = mapped_column(default=1)
    is_primary: Mapped[bool] = mapped_column(default=False)
    title: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = created_at_column()

    organization: Mapped[Organization] = relationship(back_populates="contacts")
    proposals: Mapped[list[Proposal]] = relationship(back_populates="contact", lazy="raise")

    @property
    def has_portal_access(self) -> bool:
        """Active, portal enabled, and of an active organization (loads the organization)."""
        return self.is_active and self.portal_enabled and self.organization.is_active

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Site(db.Model):
    """A property or site of an organization that tickets (and later contracts) concern."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    # A property's territory ("North"); empty means the organization's zone applies.
    zone: Mapped[str] = mapped_column(String(80), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    # Who to address at this property (a contact of its organization); a campaign's
    # proposal goes to them, else to the organization's primary contact.
    site_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at_column()

    organization: Mapped[Organization] = relationship(lazy="raise")
    site_contact: Mapped[Contact | None] = relationship(foreign_keys=[site_contact_id], lazy="raise")
