"""What a contact may see on the portal, decided here and nowhere else.

A portal session (``session["portal"]``) holds:

- ``sid``: the id of its server-side record (``PortalSession``), made at sign-in. Every
  portal request checks the record in the same query that reads the contact; signing
  out deletes it, so a copy of the cookie stops working. A signed-in session without
  a record opens nothing. A session holding only opened links needs none (opening a
  link is a GET and writes nothing: mail scanners open links), since its cookie opens
  no more than the links themselves do; once signed in it carries the record;
- ``contact``: the contact's id;
- ``epoch``: the contact's ``portal_epoch`` when the session started. Bumping it in the
  database (portal access disabled, contact deactivated, email or organization changed,
  level lowered) ends every session of that contact on its next request, on any web
  process, because every portal request reads the contact's row;
- ``links``: ids of the portal links opened in this session; a link opens exactly one
  object for one contact, whatever the contact's level;
- ``signed_in``: set by the sign-in flow; then the contact's portal level decides:
  ``requester`` sees proposals addressed to them, ``organization`` everything of their
  organization, ``organization_tree`` also everything of its sub-organizations.

Anything else is a 404 that gives no hint the object exists. Drafts are never shown.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from flask import abort, g, session
from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.orm import aliased, joinedload

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.i18n import note_reader
from portal.core.queries.driver import DriverQuery
from portal.domains.customers.models import Contact, Organization
from portal.domains.customers.organizations import subtree_ids
from portal.domains.identity.models import PortalLink, PortalSession, StaffUser
from portal.domains.proposals.models import Proposal, ProposalStatus
from portal.domains.proposals.operations import STAMP_COLUMNS, ProposalStamp, load_proposal
from portal.domains.proposals.selection import ProposalSelection
from portal.domains.sales.models import Lead
from portal.domains.service_desk.models import Ticket

PORTAL_KEY = "portal"
MAX_LINKS_IN_SESSION = 20
LEVELS = ("requester", "organization", "organization_tree")


class LinkUnusable(Exception):
    """The contact's only way in to this object expired or was revoked."""

    def __init__(self, link: PortalLink):
        super().__init__(link.id)
        self.link = link


@dataclass(frozen=True)
class PortalGrant:
    """What the portal session claims; checked against the database on every request."""

    contact_id: int
    epoch: int
    link_ids: tuple[int, ...]
    signed_in: bool
    session_id: str | None


@dataclass(frozen=True)
class ContactFacts:
    """The current contact, as read (and checked) on this request."""

    contact_id: int
    contact_name: str
    organization_id: int
    organization_name: str
    timezone: str
    level: str
    signed_in: bool


@dataclass(frozen=True)
class PortalAccess:
    """Why the current contact may see an object: a usable link of theirs to it, or a
    signed-in session whose level covers it (then ``link_id`` is None).

    Decided from plain columns; ORM objects are loaded only by the views that act on
    them (signing), not by pages served from the render cache.
    """

    contact_id: int
    link_id: int | None
    organization_id: int
    contact_name: str
    organization_name: str
    timezone: str
    # Read in the same query as a proposal's stamp, for its page key: the proposal's
    # organization's name and this contact's kept selection (raw JSON), when known.
    page_facts: tuple[str, str | None] | None = None

    @property
    def contact(self) -> Contact:
        return db.session.get(Contact, self.contact_id, options=[joinedload(Contact.organization)])

    @property
    def link(self) -> PortalLink | None:
        return db.session.get(PortalLink, self.link_id) if self.link_id else None


# --- the session ---------------------------------------------------------------


def current_grant() -> PortalGrant | None:
    raw = session.get(PORTAL_KEY) or {}
    contact_id, epoch, sid = raw.get("contact"), raw.get("epoch"), raw.get("sid")
    if not isinstance(contact_id, int) or not isinstance(epoch, int):
        return None
    sid = sid if isinstance(sid, str) and sid else None
    signed_in = bool(raw.get("signed_in"))
    if signed_in and sid is None:  # from before session records, or forged: not a sign-in
        return None
    links = tuple(i for i in raw.get("links", []) if isinstance(i, int))
    return PortalGrant(contact_id, epoch, links, signed_in, sid)


def _live(grant: PortalGrant | None) -> bool:
    """Whether the grant's session record (if it has one) still exists: reads only."""
    return grant is not None and (
        grant.session_id is None or db.session.get(PortalSession, grant.session_id) is not None
    )


def remember_link(link: PortalLink) -> None:
    """Put an opened link in the portal session (another contact's session, or one
    whose record has ended, is replaced). Writes nothing to the database."""
    grant = current_grant()
    same = (
        grant is not None
        and grant.contact_id == link.contact_id
        and grant.epoch == link.contact.portal_epoch
        and _live(grant)
    )
    ids = [i for i in (grant.link_ids if same else ()) if i != link.id] + [link.id]
    session[PORTAL_KEY] = {
        "sid": grant.session_id if same else None,
        "contact": link.contact_id,
        "epoch": link.contact.portal_epoch,
        "links": ids[-MAX_LINKS_IN_SESSION:],
        "signed_in": bool(same and grant.signed_in),
    }
    session.permanent = True


def start_signed_in_session(contact: Contact) -> None:
    """After a completed sign-in: the contact's level now decides what they see. A new
    session record (the one of the links opened before is ended): a fresh id for a
    fresh sign-in. The caller commits."""
    grant = current_grant()
    same = grant is not None and grant.contact_id == contact.id and grant.epoch == contact.portal_epoch
    if grant is not None and grant.session_id is not None:
        _end_record(grant.session_id)
    record = PortalSession(id=secrets.token_urlsafe(32), contact_id=contact.id)
    db.session.add(record)
    db.session.flush()
    session[PORTAL_KEY] = {
        "sid": record.id,
        "contact": contact.id,
        "epoch": contact.portal_epoch,
        "links": list(grant.link_ids) if same else [],
        "signed_in": True,
    }
    session.permanent = True


def portal_contact_id() -> int | None:
    grant = current_grant()
    return grant.contact_id if grant else None


def forget_portal() -> None:
    session.pop(PORTAL_KEY, None)


def _end_record(session_id: str) -> None:
    db.session.execute(delete(PortalSession).where(PortalSession.id == session_id))


def end_portal_session() -> None:
    """Sign-out: delete this browser's session record and forget it. The caller commits."""
    grant = current_grant()
    if grant is not None and grant.session_id is not None:
        _end_record(grant.session_id)
    forget_portal()


ENDED_KEY = "portal_ended"  # why the last portal session ended, for the sign-in page


def _sign_in_needed() -> None:
    """404 as before (nothing is told about the object), flagged so the portal's 404
    handler offers sign-in and a way back to this page instead."""
    g.portal_sign_in_needed = True
    abort(404)


def _end_session(reason: str) -> None:
    """The session's contact lost or changed access: forget it, remember why."""
    forget_portal()
    session[ENDED_KEY] = reason
    _sign_in_needed()


def _require_grant() -> PortalGrant:
    grant = current_grant()
    if grant is None:
        _sign_in_needed()
    return grant


# --- queries, built once (constructing a statement costs more than running it) -----

CONTACT_COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.is_active,
    Contact.portal_enabled,
    Contact.organization_id,
    Organization.name,
    Contact.timezone,
    Contact.portal_epoch,
    Contact.portal_level,
    Organization.is_active,
    PortalSession.id,
    Contact.preferred_language,
    Organization.default_language,
)
# The session record rides along with the contact's row: no extra round trip.
_WITH_SESSION = and_(PortalSession.id == bindparam("sid"), PortalSession.contact_id == Contact.id)
LINK_COLUMNS = (PortalLink.id, PortalLink.expires_at, PortalLink.revoked_at)
_N_LINK, _N_CONTACT = len(LINK_COLUMNS), len(CONTACT_COLUMNS)

_LINKS_OF_CONTACT = (
    select(*LINK_COLUMNS, *CONTACT_COLUMNS)
    .join(Contact, Contact.id == PortalLink.contact_id)
    .join(Organization, Organization.id == Contact.organization_id)
    .outerjoin(PortalSession, _WITH_SESSION)
    .where(
        # Every link of the contact to the target; the session's own are picked in
        # Python (``_held``): an expanding IN of the session's link ids cost a fifth
        # of the query's time in SQLAlchemy's per-call SQL rewriting.
        PortalLink.contact_id == bindparam("contact_id"),
        PortalLink.target_type == bindparam("target_type"),
        PortalLink.target_id == bindparam("target_id"),
    )
    .order_by(PortalLink.expires_at.desc())
)

# The proposal's own organization (a sub-organization, for a tree-level contact) and the
# contact's kept selection ride along too: the page key needs nothing else, so a page
# served from the render cache costs this one query.
_ProposalOrganization = aliased(Organization, name="proposal_organization")
PAGE_FACT_COLUMNS = (_ProposalOrganization.name, ProposalSelection.line_ids)
_N_FACTS = len(PAGE_FACT_COLUMNS)
_WITH_SELECTION = and_(ProposalSelection.proposal_id == Proposal.id, ProposalSelection.contact_id == Contact.id)

# The hot path of the proposal page and the option toggle: the link, the contact, the
# proposal's version stamp and its page facts in one round trip.
_PROPOSAL_BY_LINK = (
    _LINKS_OF_CONTACT.add_columns(*STAMP_COLUMNS, *PAGE_FACT_COLUMNS)
    .join(Proposal, Proposal.id == PortalLink.target_id)
    .join(StaffUser, StaffUser.id == Proposal.sales_rep_id)
    .join(_ProposalOrganization, _ProposalOrganization.id == Proposal.organization_id)
    .outerjoin(ProposalSelection, _WITH_SELECTION)
)

_CONTACT = (
    select(*CONTACT_COLUMNS)
    .join(Organization, Organization.id == Contact.organization_id)
    .outerjoin(PortalSession, _WITH_SESSION)
    .where(Contact.id == bindparam("contact_id"))
)

# A signed-in contact asking for a proposal: the contact, the stamp and the addressee.
_PROPOSAL_SIGNED_IN = (
    select(*CONTACT_COLUMNS, *STAMP_COLUMNS, *PAGE_FACT_COLUMNS, Proposal.contact_id)
    .select_from(Contact)
    .join(Organization, Organization.id == Contact.organization_id)
    .outerjoin(PortalSession, _WITH_SESSION)
    .join(Proposal, Proposal.id == bindparam("proposal_id"))
    .join(StaffUser, StaffUser.id == Proposal.sales_rep_id)
    .join(_ProposalOrganization, _ProposalOrganization.id == Proposal.organization_id)
    .outerjoin(ProposalSelection, _WITH_SELECTION)
    .where(Contact.id == bindparam("contact_id"))
)

# These run on every portal view: straight on the driver (portal/core/queries/driver.py).
_CONTACT_ROW = DriverQuery(_CONTACT)
_LINK_ROWS = DriverQuery(_LINKS_OF_CONTACT)
_PROPOSAL_BY_LINK_ROWS = DriverQuery(_PROPOSAL_BY_LINK)
_PROPOSAL_SIGNED_IN_ROW = DriverQuery(_PROPOSAL_SIGNED_IN)


def _facts(row, grant: PortalGrant) -> ContactFacts:
    """Check the contact's row against the session: a changed epoch ends the session."""
    (
        contact_id,
        first,
        last,
        is_active,
        portal_enabled,
        organization_id,
        org_name,
        timezone,
        epoch,
        level,
        organization_active,
        session_id,
        preferred_language,
        default_language,
    ) = row
    # A deactivated customer's contacts lose the portal with it, at once; a session
    # whose record is gone (signed out) is over, whoever kept a copy of the cookie.
    if grant.session_id is not None and session_id is None:
        _end_session("signed_out")
    if not is_active or not portal_enabled or not organization_active:
        _end_session("ended")
    if epoch != grant.epoch:
        _end_session("changed")
    g.timezone = timezone  # the contact reads times in their own zone
    note_reader(preferred_language, default_language)  # ... and pages in their language
    return ContactFacts(
        contact_id,
        f"{first} {last}".strip(),
        organization_id,
        org_name,
        timezone,
        level if level in LEVELS else "requester",
        grant.signed_in,
    )


def current_contact() -> ContactFacts:
    """The signed-in (or link-carrying) contact of this session, checked, or 404."""
    grant = _require_grant()
    row = _CONTACT_ROW.first({"contact_id": grant.contact_id, "sid": grant.session_id})
    if row is None:
        _end_session("ended")
    return _facts(row, grant)


def _held(rows, grant: PortalGrant) -> list:
    """The rows of links this session holds (in the query's order)."""
    held = grant.link_ids
    return [row for row in rows if row[0] in held]


def _by_link(rows, grant: PortalGrant) -> PortalAccess:
    facts = _facts(rows[0][_N_LINK : _N_LINK + _N_CONTACT], grant)
    now = utcnow()
    usable = [row for row in rows if row[2] is None and row[1] > now]
    if not usable:
        raise LinkUnusable(db.session.get(PortalLink, rows[0][0]))
    return PortalAccess(
        facts.contact_id,
        usable[0][0],
        facts.organization_id,
        facts.contact_name,
        facts.organization_name,
        facts.timezone,
    )


def contact_access(target_type: str, target_id: int) -> PortalAccess:
    """The contact's usable link to this object, or 404 / ``LinkUnusable``."""
    grant = _require_grant()
    if not grant.link_ids:
        abort(404)
    params = {
        "contact_id": grant.contact_id,
        "sid": grant.session_id,
        "target_type": target_type,
        "target_id": target_id,
    }
    rows = _held(_LINK_ROWS.rows(params), grant)
    if not rows:
        abort(404)
    return _by_link(rows, grant)


# --- proposals -------------------------------------------------------------------


def level_covers(facts: ContactFacts, addressee_id: int, organization_id: int) -> bool:
    """Whether a signed-in contact's portal level covers an object of this organization
    addressed to this contact."""
    if facts.level == "requester":
        # Addressed to them in their own organization: a contact who moved leaves what
        # was addressed to them at the old one with it.
        return addressee_id == facts.contact_id and organization_id == facts.organization_id
    if organization_id == facts.organization_id:
        return True
    return facts.level == "organization_tree" and organization_id in subtree_ids(facts.organization_id)


def contact_proposal_stamp(proposal_id: int) -> tuple[ProposalStamp, PortalAccess]:
    """The version stamp of a proposal the contact may see, and why they may: the first
    step of pages served from the render cache (one query for a link)."""
    grant = _require_grant()
    if grant.link_ids:
        params = {
            "contact_id": grant.contact_id,
            "sid": grant.session_id,
            "target_type": "proposal",
            "target_id": proposal_id,
        }
        rows = _held(_PROPOSAL_BY_LINK_ROWS.rows(params), grant)
        if rows:
            stamp = ProposalStamp(*rows[0][_N_LINK + _N_CONTACT : -_N_FACTS])
            try:
                access = _by_link(rows, grant)
            except LinkUnusable:
                if not grant.signed_in:
                    raise
            else:
                if stamp.organization_id != access.organization_id:
                    abort(404)
                return stamp, replace(access, page_facts=tuple(rows[0][-_N_FACTS:]))
    if not grant.signed_in:
        abort(404)
    row = _PROPOSAL_SIGNED_IN_ROW.first(
        {"contact_id": grant.contact_id, "sid": grant.session_id, "proposal_id": proposal_id}
    )
    if row is None:
        abort(404)
    facts = _facts(row[:_N_CONTACT], grant)
    stamp = ProposalStamp(*row[_N_CONTACT : -1 - _N_FACTS])
    if stamp.status == ProposalStatus.DRAFT or not level_covers(facts, row[-1], stamp.organization_id):
        abort(404)
    return stamp, PortalAccess(
        facts.contact_id,
        None,
        facts.organization_id,
        facts.contact_name,
        facts.organization_name,
        facts.timezone,
        page_facts=tuple(row[-1 - _N_FACTS : -1]),
    )


def contact_proposal(proposal_id: int) -> tuple[Proposal, PortalAccess]:
    """A proposal the current contact may see, fully loaded, with the access that lets them."""
    _stamp, access = contact_proposal_stamp(proposal_id)
    proposal = load_proposal(proposal_id)
    if proposal is None:
        abort(404)
    return proposal, access


def _visible(facts: ContactFacts, model, target_type: str):
    """The WHERE clause of a portal list of ``model`` (proposals, tickets: each has
    ``contact_id`` and ``organization_id``): by level when signed in, else the
    objects of the usable links in this session."""
    if facts.signed_in:
        if facts.level == "requester":
            return and_(model.contact_id == facts.contact_id, model.organization_id == facts.organization_id)
        if facts.level == "organization":
            return model.organization_id == facts.organization_id
        return model.organization_id.in_(subtree_ids(facts.organization_id))
    grant = _require_grant()
    linked = select(PortalLink.target_id).where(
        PortalLink.id.in_(grant.link_ids or [0]),
        PortalLink.contact_id == facts.contact_id,
        PortalLink.target_type == target_type,
        PortalLink.revoked_at.is_(None),
        PortalLink.expires_at > utcnow(),
    )
    return model.id.in_(linked)


def contact_proposals_query(facts: ContactFacts):
    """The proposals a contact's portal home lists (drafts never)."""
    return select(Proposal).where(Proposal.status != ProposalStatus.DRAFT, _visible(facts, Proposal, "proposal"))


# --- tickets ---------------------------------------------------------------------


def contact_ticket(ticket_id: int, options=()) -> tuple[Ticket, PortalAccess]:
    """A ticket the current contact may see, with why: their usable link to it (the
    ticket still of the organization they are in), or a signed-in level covering it.
    A link that expired raises ``LinkUnusable`` unless the contact is signed in."""
    grant = _require_grant()
    ticket = db.session.get(Ticket, ticket_id, options=list(options))
    if ticket is None:
        abort(404)
    if grant.link_ids:
        params = {
            "contact_id": grant.contact_id,
            "sid": grant.session_id,
            "target_type": "ticket",
            "target_id": ticket_id,
        }
        rows = _held(_LINK_ROWS.rows(params), grant)
        if rows:
            try:
                access = _by_link(rows, grant)
            except LinkUnusable:
                if not grant.signed_in:
                    raise
            else:
                # The contact's own organization's tickets only: a link mailed to a contact
                # who has since moved does not open their old organization's ticket.
                if access.organization_id != ticket.organization_id:
                    abort(404)
                return ticket, access
    if not grant.signed_in:
        abort(404)
    facts = current_contact()
    if not level_covers(facts, ticket.contact_id, ticket.organization_id):
        abort(404)
    return ticket, PortalAccess(
        facts.contact_id, None, facts.organization_id, facts.contact_name, facts.organization_name, facts.timezone
    )


def contact_tickets_query(facts: ContactFacts):
    """The tickets a contact's portal lists."""
    return select(Ticket).where(_visible(facts, Ticket, "ticket"))


# --- quote requests (leads) ------------------------------------------------------


def contact_may_request_quote(facts: ContactFacts) -> bool:
    """Asking for a quote from the portal needs a signed-in session: a browser that only
    opened an emailed link is not known to be the contact's own."""
    return facts.signed_in


def quote_requester() -> ContactFacts:
    """The signed-in contact asking for a quote, or 404 (with the offer to sign in)."""
    facts = current_contact()
    if not contact_may_request_quote(facts):
        _sign_in_needed()
    return facts


def contact_lead(lead_id: int) -> tuple[Lead, ContactFacts]:
    """A quote request this signed-in contact made themselves (from their organization
    as it is now), or 404: the confirmation page shows nothing else."""
    facts = quote_requester()
    lead = db.session.get(Lead, lead_id)
    if lead is None or lead.contact_id != facts.contact_id or lead.organization_id != facts.organization_id:
        abort(404)
    return lead, facts


# --- contracts -------------------------------------------------------------------
# Only a signed-in contact sees contracts (no link targets one), and only active ones,
# as their level allows: ``requester`` those of their own organization at a property
# whose site contact they are (the contract is addressed to them there), ``organization``
# every one of their organization, ``organization_tree`` also the sub-organizations'.
# The imports are local so that this section stays appended to the file: its top is
# another feature's to change (the merge stays clean).


def _contract_visible(facts: ContactFacts):
    from sqlalchemy import false

    from portal.domains.contracts.models import Contract, ContractStatus
    from portal.domains.customers.models import Site

    if not facts.signed_in:
        return false()
    active = Contract.status == ContractStatus.ACTIVE
    if facts.level == "requester":
        at_their_sites = select(Site.id).where(
            Site.organization_id == facts.organization_id, Site.site_contact_id == facts.contact_id
        )
        return and_(active, Contract.organization_id == facts.organization_id, Contract.site_id.in_(at_their_sites))
    if facts.level == "organization":
        return and_(active, Contract.organization_id == facts.organization_id)
    return and_(active, Contract.organization_id.in_(subtree_ids(facts.organization_id)))


def contact_contracts_query(facts: ContactFacts):
    """The contracts a contact's portal lists (active ones their level covers)."""
    from portal.domains.contracts.models import Contract

    return select(Contract).where(_contract_visible(facts))


def contact_contract(contract_id: int):
    """An active contract the signed-in contact's level covers, loaded for its page,
    with the contact's facts; else 404."""
    from portal.domains.contracts.models import Contract
    from portal.domains.contracts.operations import load_contract

    facts = current_contact()
    visible = db.session.scalar(select(Contract.id).where(Contract.id == contract_id, _contract_visible(facts)))
    if visible is None:
        abort(404)
    return load_contract(contract_id), facts
