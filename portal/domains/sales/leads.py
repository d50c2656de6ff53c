"""Leads: typed by staff, sent from the public *Request a quote* page, or asked for by
a signed-in portal contact; the list (search, filters, keyset pages); possible
duplicates (an existing contact with the lead's email, an organization with its
company's name); and conversion, once, into a customer (reusing the records that
match) or straight into an opportunity.

Rules that hold whoever acts (staff view, public page, portal, CLI, demo):

- a lead has a name and a way to answer it: an email or a phone number; an email is
  checked (and stored lower-case) like a contact's; lengths are bounded;
- a lead created without a rep goes through ``assignment.assign_owner`` (every path);
- only an open lead converts, and only once: the status changes by a conditional
  update first, so a double submit or a second tab converts nothing twice;
- every creation and conversion is on the lead's timeline (``Subject.LEAD``).

Functions flush and never commit: the caller commits once.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.queries import keyset
from portal.core.queries.search import prefix_match, search_key, word_start_match
from portal.domains.customers import contacts as contacts_service
from portal.domains.customers import organizations as organizations_service
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.sales import assignment, opportunities
from portal.domains.sales.models import (
    Lead,
    LeadOrigin,
    LeadStatus,
    Opportunity,
    OpportunityType,
    Outcome,
    Source,
    Stage,
)
from portal.domains.timeline.models import Subject, TimelineEntry
from portal.domains.timeline.operations import record_event
from portal.mail.outbox import queue_mail

MAX_LENGTHS = {"name": 200, "company": 200, "email": 254, "phone": 40, "address": 2000, "notes": 5000}
PAGE_SIZE = 50
# How each origin names its creation path to the assignment rules (and their timeline).
ASSIGNMENT_PATHS = {
    LeadOrigin.STAFF: "staff form",
    LeadOrigin.QUOTE_PAGE: "quote request",
    LeadOrigin.PORTAL: "portal request",
}
DUPLICATES_SHOWN = 5


@dataclass
class LeadInput:
    """What someone typed for a lead. ``source_id`` and ``rep_id`` are ids the caller
    offered from the lists (checked here); None leaves them empty."""

    name: str
    company: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""
    notes: str = ""
    source_id: int | None = None
    rep_id: int | None = None


def _clean(value: str | None) -> str:
    return (value or "").replace("\x00", "").strip()


def _email(value: str, errors: dict[str, str]) -> str:
    if not value:
        return ""
    try:
        return contacts_service.normalise_email(value)
    except InvalidInput as error:
        errors.update(error.errors)
        return value


def lead_errors(data: LeadInput) -> dict[str, str]:
    """Every rule ``data`` breaks, one message per field (empty when all is well)."""
    errors: dict[str, str] = {}
    if not _clean(data.name):
        errors["name"] = _("Enter a name.")
    for name, limit in MAX_LENGTHS.items():
        if name not in errors and len(_clean(getattr(data, name))) > limit:
            errors[name] = _("Use at most %(n)s characters.", n=limit)
    email = _clean(data.email)
    if "email" not in errors:
        _email(email, errors)
    if not email and not _clean(data.phone) and "phone" not in errors:
        errors["email"] = _("Enter an email address or a phone number, so that we can answer.")
    if data.source_id is not None and db.session.get(Source, data.source_id) is None:
        errors["source_id"] = _("Choose a source from the list.")
    if data.rep_id is not None:
        rep = db.session.get(StaffUser, data.rep_id)
        if rep is None or not rep.is_enabled or rep.role == "technician":
            errors["rep_id"] = _("Choose an enabled sales person from the list.")
    return errors


def create_lead(
    data: LeadInput,
    *,
    origin: str = LeadOrigin.STAFF,
    actor: StaffUser | None = None,
    contact: Contact | None = None,
) -> Lead:
    """A new open lead; raises ``InvalidInput`` with a message per field. Without a rep
    it goes to the assignment rules. ``actor`` is the staff member who typed it,
    ``contact`` the portal contact who asked (their organization goes with it)."""
    errors = lead_errors(data)
    if errors:
        raise InvalidInput(errors)
    lead = Lead(
        name=_clean(data.name),
        company=_clean(data.company),
        email=_email(_clean(data.email), {}),
        phone=_clean(data.phone),
        address=_clean(data.address),
        notes=_clean(data.notes),
        source_id=data.source_id,
        rep_id=data.rep_id,
        origin=origin if origin in LeadOrigin.ALL else LeadOrigin.STAFF,
        status=LeadStatus.OPEN,
    )
    if contact is not None:
        lead.contact_id = contact.id
        lead.organization_id = contact.organization_id
    db.session.add(lead)
    db.session.flush()
    record_event(Subject.LEAD, lead.id, "created", staff=actor, contact=contact, detail=origin_label(lead.origin))
    if lead.rep_id is None:
        assignment.assign_owner(lead, actor=actor, reason_context=ASSIGNMENT_PATHS.get(lead.origin, lead.origin))
    db.session.flush()
    return lead


def origin_label(origin: str) -> str:
    return {
        LeadOrigin.STAFF: _("Typed by staff"),
        LeadOrigin.QUOTE_PAGE: _("Request a quote page"),
        LeadOrigin.PORTAL: _("Asked from the customer portal"),
    }.get(origin, origin)


def status_label(status: str) -> str:
    return {
        LeadStatus.OPEN: _("Open"),
        LeadStatus.CONVERTED: _("Converted"),
        LeadStatus.DISCARDED: _("Discarded"),
    }.get(status, status)


# --- the public quote page and the portal ------------------------------------------


@dataclass
class QuoteRequest:
    """What a visitor types on the public *Request a quote* page."""

    name: str
    email: str
    phone: str = ""
    address: str = ""
    need: str = ""


def quote_request_errors(data: QuoteRequest) -> dict[str, str]:
    """The quote page's rules: the lead's, plus an email (the receipt goes there) and
    what they need."""
    errors = lead_errors(LeadInput(name=data.name, email=data.email, phone=data.phone, address=data.address))
    if not _clean(data.email):
        errors["email"] = _("Enter your email address: we send the receipt there.")
    if not _clean(data.need):
        errors["need"] = _("Tell us what you need, in a few words.")
    elif len(_clean(data.need)) > MAX_LENGTHS["notes"]:
        errors["need"] = _("Use at most %(n)s characters.", n=MAX_LENGTHS["notes"])
    return errors


def _source_id(key: str) -> int | None:
    """The source a lead of this origin gets (the list's "quote_page" or "portal"
    entry), if admins kept it active."""
    return db.session.scalar(select(Source.id).where(Source.key == key, Source.is_active.is_(True)))


def request_quote(data: QuoteRequest) -> Lead:
    """A lead from the public quote page, and its receipt mail to the visitor (queued
    in the same transaction: it leaves once the caller commits)."""
    errors = quote_request_errors(data)
    if errors:
        raise InvalidInput(errors)
    lead = create_lead(
        LeadInput(
            name=data.name,
            email=data.email,
            phone=data.phone,
            address=data.address,
            notes=data.need,
            source_id=_source_id(LeadOrigin.QUOTE_PAGE),
        ),
        origin=LeadOrigin.QUOTE_PAGE,
    )
    business = current_app.config.get("BUSINESS_NAME") or "Porchlight"
    queue_mail(
        lead.email,
        _("We received your request for a quote (%(business)s)", business=business),
        "quote_received",
        "quote_receipt",
        lead=lead,
        business=business,
    )
    return lead


def request_quote_from_portal(contact: Contact, need: str) -> Lead:
    """A lead asked for by a signed-in portal contact, tied to them and their
    organization (its name as the company)."""
    if not _clean(need):
        raise InvalidInput({"need": _("Tell us what you need, in a few words.")})
    if len(_clean(need)) > MAX_LENGTHS["notes"]:
        raise InvalidInput({"need": _("Use at most %(n)s characters.", n=MAX_LENGTHS["notes"])})
    organization = db.session.get(Organization, contact.organization_id)
    return create_lead(
        LeadInput(
            name=f"{contact.first_name} {contact.last_name}".strip() or contact.email,
            company=organization.name if organization is not None else "",
            email=contact.email,
            phone=contact.phone or "",
            notes=need,
            source_id=_source_id(LeadOrigin.PORTAL),
        ),
        origin=LeadOrigin.PORTAL,
        contact=contact,
    )


# --- the list -----------------------------------------------------------------------


@dataclass
class LeadFilters:
    q: str = ""
    status: str = LeadStatus.OPEN  # or "all"
    source_id: int | None = None
    rep: str = ""  # "", "me", "none" or a staff id


@dataclass
class LeadPage:
    leads: list[Lead]
    next_cursor: str | None = None


def list_leads(base, filters: LeadFilters, me: StaffUser, after: str | None = None, per_page: int = PAGE_SIZE):
    """One page of ``base`` (the access-checked query), newest first, in one statement:
    searched (a word of the name or company starts with the term, or the email does),
    filtered by status, source and rep; keyset-paged by id."""
    stmt = base.options(joinedload(Lead.rep), joinedload(Lead.source))
    term = search_key(filters.q)
    if term:
        stmt = stmt.where(word_start_match(Lead.name_key, term) | Lead.email.startswith(term, autoescape=True))
    if filters.status in LeadStatus.ALL:
        stmt = stmt.where(Lead.status == filters.status)
    if filters.source_id is not None:
        stmt = stmt.where(Lead.source_id == filters.source_id)
    if filters.rep == "me":
        stmt = stmt.where(Lead.rep_id == me.id)
    elif filters.rep == "none":
        stmt = stmt.where(Lead.rep_id.is_(None))
    elif filters.rep.isascii() and filters.rep.isdigit() and len(filters.rep) < 10:
        stmt = stmt.where(Lead.rep_id == int(filters.rep))
    values = keyset.decode_cursor(after)
    if values is not None and len(values) == 1 and isinstance(values[0], int) and 0 < values[0] < 2**31:
        stmt = stmt.where(Lead.id < values[0])
    rows = list(db.session.scalars(stmt.order_by(Lead.id.desc()).limit(per_page + 1)).unique())
    page = LeadPage(rows[:per_page])
    if len(rows) > per_page:
        page.next_cursor = keyset.encode_cursor([rows[per_page - 1].id])
    return page


def rep_choices() -> list[StaffUser]:
    """Who may own a lead: enabled staff who sell (not technicians), by name."""
    return list(
        db.session.scalars(
            select(StaffUser)
            .where(StaffUser.is_enabled.is_(True), StaffUser.role != "technician")
            .order_by(StaffUser.name, StaffUser.id)
        )
    )


def source_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Source.id, Source.name).where(Source.is_active.is_(True)).order_by(Source.position, Source.id)
    )
    return [(source_id, name) for source_id, name in rows]


# --- possible duplicates --------------------------------------------------------------

# ASCII letters that have accented forms in the languages of the business's customers
# (ă â î ș ț, é è ñ ç, ...): in the candidate pattern they match any one character.
_ACCENTABLE = set("acdegilnorstuyz")


def fold_accents(key: str) -> str:
    """A search key without accents ("café" -> "cafe", "ştefan" -> "stefan")."""
    decomposed = unicodedata.normalize("NFKD", key)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _candidate_pattern(key: str) -> tuple[str, str]:
    """A LIKE pattern (``/`` escapes) of the keys that may equal ``key`` once accents
    are folded (each letter that has accented forms, or is one, matches any one
    character), and its literal start (for an index range)."""
    pattern, literal, literal_open = [], [], True
    for ch in unicodedata.normalize("NFC", key):
        if ch.isascii() and not (ch.isalpha() and ch in _ACCENTABLE):
            pattern.append("/" + ch if ch in "/%_" else ch)
            if literal_open:
                literal.append(ch)
        else:
            pattern.append("_")
            literal_open = False
    return "".join(pattern), "".join(literal)


def _organizations_named(company: str, limit: int = DUPLICATES_SHOWN) -> list[Organization]:
    """Organizations whose name is ``company`` ignoring case and accents: the keys that
    could match are found by pattern (and index range on their literal start), then
    compared exactly once folded."""
    key = search_key(unicodedata.normalize("NFC", company or ""))
    if not key:
        return []
    pattern, literal = _candidate_pattern(key)
    stmt = select(Organization).where(Organization.name_key.like(pattern, escape="/"))
    if literal:
        stmt = stmt.where(prefix_match(Organization.name_key, literal))
    wanted = fold_accents(key)
    found = [
        org
        for org in db.session.scalars(stmt.order_by(Organization.is_active.desc(), Organization.id).limit(200))
        if fold_accents(unicodedata.normalize("NFC", org.name_key)) == wanted
    ]
    return found[:limit]


def _contacts_with_email(email: str, limit: int = DUPLICATES_SHOWN) -> list[Contact]:
    if not email:
        return []
    return list(
        db.session.scalars(
            select(Contact)
            .options(joinedload(Contact.organization))
            .where(Contact.email == email.lower())
            .order_by(Contact.is_active.desc(), Contact.id)
            .limit(limit)
        )
    )


@dataclass
class Duplicates:
    """Existing records a lead may be: contacts with its email, organizations with its
    company's name (case and accents aside)."""

    contacts: list[Contact] = field(default_factory=list)
    organizations: list[Organization] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.contacts or self.organizations)


def possible_duplicates(lead: Lead) -> Duplicates:
    """What the lead's page warns about; the records a conversion reuses."""
    found = Duplicates(_contacts_with_email(lead.email), _organizations_named(lead.company))
    # Already tied to a record (a portal request): that is the lead's own, not a duplicate.
    found.contacts = [c for c in found.contacts if c.id != lead.contact_id]
    found.organizations = [o for o in found.organizations if o.id != lead.organization_id]
    return found


# --- conversion ---------------------------------------------------------------------


def already_converted_message(lead: Lead) -> str:
    if lead.status == LeadStatus.DISCARDED:
        return _("This lead was discarded: it cannot be converted.")
    return _("This lead was already converted: nothing was done twice.")


def _claim(lead: Lead) -> None:
    """Mark the lead converted if it is still open, or refuse: the one conditional
    update every conversion starts with (a second submit or tab finds no open row)."""
    changed = db.session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.status == LeadStatus.OPEN)
        .values(status=LeadStatus.CONVERTED)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.refresh(lead)
        raise NotAllowed(already_converted_message(lead))
    db.session.refresh(lead)


@dataclass
class CustomerInput:
    """What staff confirm when converting into a customer; used only for the records
    that do not exist yet (the matching ones are reused)."""

    organization_name: str = ""
    billing_address: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""


def customer_defaults(lead: Lead) -> CustomerInput:
    """The conversion form's first values, from the lead."""
    first, _space, last = (lead.name or "").partition(" ")
    return CustomerInput(
        organization_name=lead.company or lead.name,
        billing_address=lead.address,
        first_name=first,
        last_name=last,
        email=lead.email,
        phone=lead.phone,
    )


@dataclass
class Conversion:
    organization: Organization
    contact: Contact
    reused_organization: bool
    reused_contact: bool


def _reusable(lead: Lead) -> tuple[Organization | None, Contact | None]:
    """The records a conversion reuses: the lead's own (portal), else the active contact
    with its email (and that contact's organization), else the active organization
    with its company's name."""
    organization = db.session.get(Organization, lead.organization_id) if lead.organization_id else None
    contact = db.session.get(Contact, lead.contact_id) if lead.contact_id else None
    if contact is None:
        contact = next((c for c in _contacts_with_email(lead.email) if c.is_active), None)
    if organization is None and contact is not None:
        organization = db.session.get(Organization, contact.organization_id)
    if organization is None:
        organization = next((o for o in _organizations_named(lead.company) if o.is_active), None)
    return organization, contact


def convert_to_customer(lead: Lead, data: CustomerInput, actor: StaffUser, join_team: bool = False) -> Conversion:
    """Turn an open lead into a customer organization and contact, reusing the matching
    ones instead of making a second. ``join_team``: the actor joins a new
    organization's account team (so a sales rep keeps seeing the customer)."""
    _claim(lead)
    organization, contact = _reusable(lead)
    reused_organization, reused_contact = organization is not None, contact is not None
    errors: dict[str, str] = {}
    if organization is None:
        try:
            organization = organizations_service.create_organization(
                organizations_service.OrganizationInput(
                    name=_clean(data.organization_name), billing_address=_clean(data.billing_address)
                )
            )
        except InvalidInput as error:
            errors.update({("organization_name" if k == "name" else k): v for k, v in error.errors.items()})
    if contact is None:
        if not _clean(data.first_name) and not _clean(data.last_name):
            errors["first_name"] = _("Enter the contact's name.")
        elif organization is not None:
            try:
                contact = contacts_service.create_contact(
                    organization,
                    contacts_service.ContactInput(
                        first_name=_clean(data.first_name),
                        last_name=_clean(data.last_name),
                        email=_clean(data.email),
                        phone=_clean(data.phone),
                        portal_enabled=False,
                    ),
                )
            except InvalidInput as error:
                errors.update(error.errors)
        elif not _clean(data.email):
            errors["email"] = _("Enter an email address.")
    if errors:
        raise InvalidInput(errors)
    if join_team and not reused_organization:
        organizations_service.set_account_team(organization, {actor.id})
    lead.organization_id, lead.contact_id = organization.id, contact.id
    detail = _(
        "Converted into the customer %(org)s (%(org_how)s) and the contact %(contact)s (%(contact_how)s).",
        org=organization.name,
        org_how=_("existing, reused") if reused_organization else _("new"),
        contact=f"{contact.first_name} {contact.last_name}".strip(),
        contact_how=_("existing, reused") if reused_contact else _("new"),
    )
    record_event(Subject.LEAD, lead.id, "converted", staff=actor, detail=detail)
    db.session.flush()
    return Conversion(organization, contact, reused_organization, reused_contact)


def _first(model, *conditions):
    return db.session.scalar(
        select(model).where(model.is_active.is_(True), *conditions).order_by(model.position, model.id).limit(1)
    )


def convert_to_opportunity(lead: Lead, actor: StaffUser) -> Opportunity:
    """Turn an open lead straight into an opportunity *from* the lead (with the lead's
    organization and contact when it has them: a portal request), in the first open
    stage, of the first type, through ``opportunities.create_opportunity`` (so without
    a rep it goes to the assignment rules, as every new opportunity does)."""
    stage = _first(Stage, Stage.outcome == Outcome.OPEN)
    kind = _first(OpportunityType)
    if stage is None or kind is None:
        raise NotAllowed(_("Add an open stage and an opportunity type (Sales lists) before converting."))
    _claim(lead)
    opportunity = opportunities.create_opportunity(
        actor,
        opportunities.OpportunityInput(
            title=_("Quote for %(who)s", who=lead.company or lead.name)[:200],
            organization_id=lead.organization_id,
            contact_id=lead.contact_id,
            lead_id=lead.id,
            type_id=kind.id,
            source_id=lead.source_id,
            stage_id=stage.id,
            currency=current_app.config.get("DEFAULT_CURRENCY") or "USD",
            rep_id=lead.rep_id,
        ),
        # Whoever may see the lead may use the customer it is tied to (a portal request).
        visible_org=lambda _id: True,
        reason_context="lead conversion",
    )
    lead.opportunity_id = opportunity.id
    record_event(
        Subject.LEAD,
        lead.id,
        "converted",
        staff=actor,
        detail=_("Converted into the opportunity %(title)s.", title=opportunity.title),
    )
    db.session.flush()
    return opportunity


def take_lead(lead: Lead, actor: StaffUser) -> None:
    """An unassigned lead picked up by a sales person (or a manager) for themselves: a
    conditional update, so two people taking it at once leave it with the first."""
    if actor.role == "technician":
        raise NotAllowed(_("Technicians do not own leads."))
    changed = db.session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.rep_id.is_(None))
        .values(rep_id=actor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(lead)
    if changed != 1:
        raise NotAllowed(_("Someone else took this lead first: it is no longer unassigned."))
    record_event(Subject.LEAD, lead.id, "assigned", staff=actor, detail=_("Taken by %(name)s.", name=actor.name))
    db.session.flush()


def discard_lead(lead: Lead, actor: StaffUser) -> None:
    """Set an open lead aside (spam, not a fit); refused once it is no longer open."""
    changed = db.session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.status == LeadStatus.OPEN)
        .values(status=LeadStatus.DISCARDED)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(lead)
    if changed != 1:
        raise NotAllowed(_("This lead is no longer open: nothing was changed."))
    record_event(Subject.LEAD, lead.id, "discarded", staff=actor)
    db.session.flush()


def converted_at(lead: Lead) -> datetime | None:
    """When the lead was converted (its timeline says), for its page."""
    return db.session.scalar(
        select(TimelineEntry.created_at)
        .where(
            TimelineEntry.subject_type == Subject.LEAD,
            TimelineEntry.subject_id == lead.id,
            TimelineEntry.kind == "converted",
        )
        .limit(1)
    )
