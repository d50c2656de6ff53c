"""Sites: the properties of an organization that tickets and contracts name (the UI
calls them properties: address, zone, notes, the site contact).

A site is never deleted, only deactivated: tickets keep pointing at it, and a new
ticket can no longer choose it (``tickets.ticket_choices`` lists active sites only).
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization, Site

MAX_NAME = 200
MAX_ADDRESS = 2000


def organization_sites(organization_id: int) -> list[Site]:
    """The organization's sites: active ones first, each group by name."""
    return list(
        db.session.scalars(
            select(Site)
            .where(Site.organization_id == organization_id)
            .order_by(Site.is_active.desc(), Site.name, Site.id)
        )
    )


def add_site(organization: Organization, name: str, address: str = "") -> Site:
    """Add an active site. Raises ``InvalidInput`` (a message per field) for a missing or
    too long name or address, or a name another active site of the organization has."""
    if not organization.is_active:
        raise NotAllowed(_("This organization is inactive: it takes no new sites."))
    name, address = (name or "").strip(), (address or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("Give the site a name.")
    elif len(name) > MAX_NAME:
        errors["name"] = _("Keep this under %(n)d characters.", n=MAX_NAME)
    elif (
        db.session.scalar(
            select(Site.id)
            .where(
                Site.organization_id == organization.id, Site.is_active.is_(True), func.lower(Site.name) == name.lower()
            )
            .limit(1)
        )
        is not None
    ):
        errors["name"] = _("This organization already has a site with this name.")
    if len(address) > MAX_ADDRESS:
        errors["address"] = _("Keep this under %(n)d characters.", n=MAX_ADDRESS)
    if errors:
        raise InvalidInput(errors)
    site = Site(organization_id=organization.id, name=name, address=address)
    db.session.add(site)
    db.session.flush()
    return site


def deactivate_site(site: Site) -> None:
    """New tickets can no longer name the site; those that did keep it. A second call changes nothing."""
    site.is_active = False
    db.session.flush()


MAX_ZONE = 80
MAX_NOTES = 5000


def update_site(
    site: Site,
    name: str,
    address: str = "",
    zone: str = "",
    notes: str = "",
    site_contact_id: int | None = None,
) -> None:
    """Change a property: name, address, zone, notes and its site contact (a contact of
    its organization, or none). ``InvalidInput`` (a message per field) for a missing or
    too long name, a name another active property of the organization has, or a
    contact who is not of this organization."""
    name, address, zone = (name or "").strip(), (address or "").strip(), (zone or "").strip()
    notes = notes or ""
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("Give the property a name.")
    elif len(name) > MAX_NAME:
        errors["name"] = _("Keep this under %(n)d characters.", n=MAX_NAME)
    elif (
        db.session.scalar(
            select(Site.id)
            .where(
                Site.organization_id == site.organization_id,
                Site.is_active.is_(True),
                Site.id != site.id,
                func.lower(Site.name) == name.lower(),
            )
            .limit(1)
        )
        is not None
    ):
        errors["name"] = _("This organization already has a property with this name.")
    if len(address) > MAX_ADDRESS:
        errors["address"] = _("Keep this under %(n)d characters.", n=MAX_ADDRESS)
    if len(zone) > MAX_ZONE:
        errors["zone"] = _("Keep this under %(n)d characters.", n=MAX_ZONE)
    if len(notes) > MAX_NOTES:
        errors["notes"] = _("Keep this under %(n)d characters.", n=MAX_NOTES)
    if site_contact_id is not None:
        contact = db.session.get(Contact, site_contact_id)
        if contact is None or contact.organization_id != site.organization_id or not contact.is_active:
            errors["site_contact_id"] = _("Choose an active contact of this organization, or none.")
    if errors:
        raise InvalidInput(errors)
    site.name, site.address, site.zone, site.notes = name, address, zone, notes
    site.site_contact_id = site_contact_id
    db.session.flush()


def site_contact_choices(organization_id: int) -> list[tuple[int, str]]:
    """The active contacts of the organization, by name, for a property's site contact."""
    rows = db.session.execute(
        select(Contact.id, Contact.first_name, Contact.last_name, Contact.email)
        .where(Contact.organization_id == organization_id, Contact.is_active.is_(True))
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
    )
    return [(cid, f"{first} {last} <{email}>".strip()) for cid, first, last, email in rows]
