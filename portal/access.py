"""Who may see what, decided here and nowhere else.

Contacts: a portal session holds the contact and the ids of the portal links they
opened. A contact sees a proposal only through a usable link of theirs to that very
proposal, checked on every request, so revoking a link ends access at once. Anything
else is a 404 that gives no hint the object exists.

Staff: every staff member sees every proposal for now (roles narrow this in the
access-model issue); admin views still load objects only through this module.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, g, session
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import Contact, Organization, PortalLink, Proposal, StaffUser, utcnow
from portal.services.proposals import STAMP_COLUMNS, ProposalStamp, load_proposal

PORTAL_KEY = "portal"
MAX_LINKS_IN_SESSION = 20


class LinkUnusable(Exception):
    """The contact's only way in to this object expired or was revoked."""

    def __init__(self, link: PortalLink):
        super().__init__(link.id)
        self.link = link


@dataclass(frozen=True)
class PortalAccess:
    """Why the current contact may see an object: their usable link to it.

    Decided from plain columns (one prebuilt query per request); the ORM objects are
    loaded only by the views that act on them (signing), not by pages served from
    the render cache.
    """

    contact_id: int
    link_id: int
    organization_id: int
    contact_name: str
    organization_name: str
    timezone: str

    @property
    def contact(self) -> Contact:
        return db.session.get(Contact, self.contact_id, options=[joinedload(Contact.organization)])

    @property
    def link(self) -> PortalLink:
        return db.session.get(PortalLink, self.link_id)


# Built once: constructing a statement costs more than running it on a hot page.
_LINKS_OF_CONTACT = (
    select(PortalLink.id, PortalLink.expires_at, PortalLink.revoked_at, Contact.id, Contact.first_name,
           Contact.last_name, Contact.is_active, Contact.portal_enabled, Contact.organization_id, Organization.name,
           Contact.timezone)
    .join(Contact, Contact.id == PortalLink.contact_id)
    .join(Organization, Organization.id == Contact.organization_id)
    .where(
        PortalLink.id.in_(bindparam("link_ids", expanding=True)),
        PortalLink.contact_id == bindparam("contact_id"),
        PortalLink.target_type == bindparam("target_type"),
        PortalLink.target_id == bindparam("target_id"),
    )
    .order_by(PortalLink.expires_at.desc())
)
ACCESS_COLUMNS = 11


def remember_link(link: PortalLink) -> None:
    """Put an opened link in the portal session (a new contact replaces the old one)."""
    grant = session.get(PORTAL_KEY) or {}
    ids = grant.get("links", []) if grant.get("contact") == link.contact_id else []
    ids = [i for i in ids if i != link.id] + [link.id]
    session[PORTAL_KEY] = {"contact": link.contact_id, "links": ids[-MAX_LINKS_IN_SESSION:]}
    session.permanent = True


def portal_contact_id() -> int | None:
    grant = session.get(PORTAL_KEY) or {}
    return grant.get("contact")


def forget_portal() -> None:
    session.pop(PORTAL_KEY, None)


def _grant() -> dict:
    """The link ids and contact of the portal session, or 404 when there are none."""
    grant = session.get(PORTAL_KEY) or {}
    link_ids = [i for i in grant.get("links", []) if isinstance(i, int)]
    contact_id = grant.get("contact")
    if not link_ids or not isinstance(contact_id, int):
        abort(404)
    return {"link_ids": link_ids, "contact_id": contact_id}


def _decide(rows) -> PortalAccess:
    """The access the contact's links give, from rows of ``_LINKS_OF_CONTACT``'s columns."""
    if not rows:
        abort(404)
    (_, _, _, contact_id, first, last, is_active, portal_enabled, organization_id, organization_name,
     timezone) = rows[0][:ACCESS_COLUMNS]
    if not is_active or not portal_enabled:
        abort(404)
    g.timezone = timezone  # the contact reads times in their own zone
    now = utcnow()
    usable = [row for row in rows if row[2] is None and row[1] > now]
    if not usable:
        raise LinkUnusable(db.session.get(PortalLink, rows[0][0]))
    return PortalAccess(contact_id, usable[0][0], organization_id, f"{first} {last}".strip(), organization_name,
                        timezone)


def contact_access(target_type: str, target_id: int) -> PortalAccess:
    """The contact's usable link to this object, or 404 / ``LinkUnusable``."""
    params = {**_grant(), "target_type": target_type, "target_id": target_id}
    return _decide(db.session.connection().execute(_LINKS_OF_CONTACT, params).all())


def contact_proposal(proposal_id: int) -> tuple[Proposal, PortalAccess]:
    """A proposal the current contact may see, with the access that lets them."""
    access = contact_access("proposal", proposal_id)
    proposal = load_proposal(proposal_id)
    if proposal is None or proposal.organization_id != access.organization_id:
        abort(404)
    return proposal, access


# The hot path of the proposal page and the option toggle: access and the proposal's
# version stamp in one round trip.
_PROPOSAL_ACCESS = (
    _LINKS_OF_CONTACT.add_columns(*STAMP_COLUMNS)
    .join(Proposal, Proposal.id == PortalLink.target_id)
    .join(StaffUser, StaffUser.id == Proposal.sales_rep_id)
)


def contact_proposal_stamp(proposal_id: int) -> tuple[ProposalStamp, PortalAccess]:
    """Like ``contact_proposal`` but only the version stamp, in one query: the first
    step of pages served from the render cache."""
    params = {**_grant(), "target_type": "proposal", "target_id": proposal_id}
    rows = db.session.connection().execute(_PROPOSAL_ACCESS, params).all()
    access = _decide(rows)
    stamp = ProposalStamp(*rows[0][ACCESS_COLUMNS:])
    if stamp.organization_id != access.organization_id:
        abort(404)
    return stamp, access


def staff_proposal(user: StaffUser, proposal_id: int) -> Proposal:
    """A proposal the staff member may see, fully loaded, or 404."""
    proposal = load_proposal(proposal_id)
    if proposal is None or not staff_may_see_proposal(user, proposal):
        abort(404)
    return proposal


def staff_may_see_proposal(user: StaffUser, proposal: Proposal) -> bool:
    return user.is_enabled


def staff_proposals_query(user: StaffUser):
    """The base query of proposals this staff member may list."""
    return select(Proposal)
