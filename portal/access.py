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

from flask import abort, session
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import Contact, PortalLink, Proposal, StaffUser
from portal.services.proposals import ProposalStamp, load_proposal, proposal_stamp

PORTAL_KEY = "portal"
MAX_LINKS_IN_SESSION = 20


class LinkUnusable(Exception):
    """The contact's only way in to this object expired or was revoked."""

    def __init__(self, link: PortalLink):
        super().__init__(link.id)
        self.link = link


@dataclass(frozen=True)
class PortalAccess:
    contact: Contact
    link: PortalLink


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


def contact_access(target_type: str, target_id: int) -> PortalAccess:
    """The contact's usable link to this object, or 404 / ``LinkUnusable``."""
    grant = session.get(PORTAL_KEY) or {}
    link_ids = [i for i in grant.get("links", []) if isinstance(i, int)]
    if not link_ids:
        abort(404)
    candidates = list(db.session.scalars(
        select(PortalLink)
        .options(joinedload(PortalLink.contact).joinedload(Contact.organization))
        .where(
            PortalLink.id.in_(link_ids),
            PortalLink.contact_id == grant.get("contact"),
            PortalLink.target_type == target_type,
            PortalLink.target_id == target_id,
        )
        .order_by(PortalLink.expires_at.desc())
    ))
    if not candidates:
        abort(404)
    contact = candidates[0].contact
    if not contact.is_active or not contact.portal_enabled:
        abort(404)
    usable = [link for link in candidates if link.is_usable]
    if not usable:
        raise LinkUnusable(candidates[0])
    return PortalAccess(contact, usable[0])


def contact_proposal(proposal_id: int) -> tuple[Proposal, PortalAccess]:
    """A proposal the current contact may see, with the access that lets them."""
    access = contact_access("proposal", proposal_id)
    proposal = load_proposal(proposal_id)
    if proposal is None or proposal.organization_id != access.contact.organization_id:
        abort(404)
    return proposal, access


def contact_proposal_stamp(proposal_id: int) -> tuple[ProposalStamp, PortalAccess]:
    """Like ``contact_proposal`` but only the version stamp: the cheap first step of
    pages that are served from the render cache."""
    access = contact_access("proposal", proposal_id)
    stamp = proposal_stamp(proposal_id)
    if stamp is None or stamp.organization_id != access.contact.organization_id:
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
