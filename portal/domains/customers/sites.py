"""Sites: the properties of an organization that tickets (and later contracts) name.

A site is never deleted, only deactivated: tickets keep pointing at it, and a new
ticket can no longer choose it (``tickets.ticket_choices`` lists active sites only).
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Organization, Site

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
