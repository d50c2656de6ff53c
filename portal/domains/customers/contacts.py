"""Contacts: the people at a customer, their portal access and the primary contact.

Rules that hold whoever makes the change (admin, CLI, demo):

- first and last name required; the email is required, valid, stored lower-case and
  unique among *active* contacts (the partial unique index ``uq_contacts_active_email``
  is the final word; the check before writing only gives a clear message first);
- the time zone is a zoneinfo name; the portal level one of ``PORTAL_LEVELS``;
- one primary contact per organization (index ``uq_contacts_primary_per_org``), and
  only an active contact can be it;
- anything that narrows what the contact could reach (portal access disabled, the
  contact deactivated, the email or organization changed, the level lowered) ends
  their portal access at once: ``end_portal_access`` revokes their outstanding links
  and bumps ``portal_epoch``, which ends every open portal session on its next
  request (``portal.access.contacts._facts``). Raising the level, enabling access or
  editing name, phone, title or time zone ends nothing.

Functions flush and never commit: the caller commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.i18n import normalise
from portal.domains.customers.models import PORTAL_LEVELS, Contact, Organization
from portal.domains.identity import links
from portal.domains.identity.models import PortalLink, PortalSignIn

# Higher rank sees more: moving down the list narrows what the contact may reach.
LEVEL_RANK = {level: rank for rank, level in enumerate(PORTAL_LEVELS)}
MAX_LENGTHS = {"first_name": 100, "last_name": 100, "email": 254, "phone": 40, "title": 120, "timezone": 64}


@dataclass
class ContactInput:
    """What staff type for a contact. ``organization`` (updates only) moves the contact."""

    first_name: str
    last_name: str
    email: str
    phone: str = ""
    title: str = ""
    timezone: str = "UTC"
    is_primary: bool = False
    portal_enabled: bool = True
    portal_level: str = "requester"
    organization: Organization | None = None
    preferred_language: str = ""  # empty: the organization's default decides


def email_taken_message() -> str:
    return _("Another active contact already uses this email address.")


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_timezone(name: str) -> bool:
    return name in _zone_names()


def normalise_email(address: str) -> str:
    """The address as stored (lower-case), or ``InvalidInput`` on the email field."""
    address = (address or "").strip()
    if not address:
        raise InvalidInput({"email": _("Enter an email address.")})
    try:
        # .test addresses are reserved for tests: accepted only when the app is testing
        checked = validate_email(address, check_deliverability=False, test_environment=current_app.testing)
    except EmailNotValidError as error:
        raise InvalidInput({"email": _("Enter a valid email address, like name@example.com.")}) from error
    return checked.normalized.lower()


def email_in_use(email: str, except_id: int | None = None) -> bool:
    """Whether an active contact (other than ``except_id``) has this address."""
    stmt = select(Contact.id).where(Contact.email == email, Contact.is_active.is_(True))
    if except_id is not None:
        stmt = stmt.where(Contact.id != except_id)
    return db.session.scalar(stmt.limit(1)) is not None


@dataclass(frozen=True)
class _Clean:
    first_name: str
    last_name: str
    email: str
    phone: str | None
    title: str
    timezone: str
    preferred_language: str | None = None


def clean_language(value: str | None) -> str | None:
    """A language code ("es") or None for none; InvalidInput for anything else. A code
    without a catalog is kept (it may get one later) and falls back meanwhile."""
    value = (value or "").strip()
    if not value:
        return None
    code = normalise(value)
    if code is None:
        raise InvalidInput({"preferred_language": _("Choose a language from the list.")})
    return code


def _clean(data: ContactInput, contact: Contact | None) -> _Clean:
    """Validate everything at once, so the form shows every problem in one go."""
    errors: dict[str, str] = {}
    first_name, last_name = (data.first_name or "").strip(), (data.last_name or "").strip()
    if not first_name:
        errors["first_name"] = _("Enter a first name.")
    if not last_name:
        errors["last_name"] = _("Enter a last name.")
    email = ""
    try:
        email = normalise_email(data.email)
    except InvalidInput as error:
        errors.update(error.errors)
    timezone = (data.timezone or "").strip()
    if not is_valid_timezone(timezone):
        errors["timezone"] = _("Choose a time zone from the list, like America/New_York or Europe/Rome.")
    if data.portal_level not in PORTAL_LEVELS:
        errors["portal_level"] = _("Choose a portal level.")
    language = None
    try:
        language = clean_language(data.preferred_language)
    except InvalidInput as error:
        errors.update(error.errors)
    values = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "phone": (data.phone or "").strip(),
        "title": (data.title or "").strip(),
        "timezone": timezone,
    }
    for name, limit in MAX_LENGTHS.items():
        if name not in errors and len(values[name]) > limit:
            errors[name] = _("Use at most %(n)s characters.", n=limit)
    active = contact is None or contact.is_active
    if data.is_primary and not active:
        errors["is_primary"] = _("An inactive contact can't be the primary contact.")
    if "email" not in errors and active and email_in_use(email, contact.id if contact else None):
        errors["email"] = email_taken_message()
    if errors:
        raise InvalidInput(errors)
    return _Clean(first_name, last_name, email, values["phone"] or None, values["title"], timezone, language)


def _unique_violation(error: IntegrityError) -> InvalidInput:
    """A lost race on one of the partial unique indexes, as the same clear message."""
    text = str(error.orig).lower()
    if "uq_contacts_active_email" in text or "contacts.email" in text:
        return InvalidInput({"email": email_taken_message()})
    if "uq_contacts_primary_per_org" in text or "contacts.organization_id" in text:
        return InvalidInput({"is_primary": _("Another contact became the primary contact meanwhile. Try again.")})
    raise error


def _write(apply) -> None:
    """Run ``apply`` (attribute changes) in a savepoint and flush it, turning a unique
    violation into ``InvalidInput`` while leaving the outer transaction usable."""
    try:
        with db.session.begin_nested():
            apply()
    except IntegrityError as error:
        raise _unique_violation(error) from error


def reduces_portal_access(contact: Contact, enabled: bool, level: str) -> bool:
    """Whether going to (enabled, level) narrows what the contact may reach now."""
    if contact.portal_enabled and not enabled:
        return True
    return LEVEL_RANK.get(level, 0) < LEVEL_RANK.get(contact.portal_level, 0)


def end_portal_access(contact: Contact) -> int:
    """Revoke the contact's outstanding portal links, expire their pending sign-in
    links, and bump ``portal_epoch`` so every open portal session of theirs ends on
    its next request. Returns the number of links revoked."""
    revoked = links.revoke_links_for(contact.id)
    # A sign-in link mailed to an old address must not sign anyone in after the change.
    db.session.execute(
        update(PortalSignIn)
        .where(
            PortalSignIn.contact_id == contact.id, PortalSignIn.used_at.is_(None), PortalSignIn.expires_at > utcnow()
        )
        .values(expires_at=utcnow())
    )
    # In SQL, so two changes at once both count and neither is lost.
    contact.portal_epoch = Contact.portal_epoch + 1
    db.session.flush()
    return revoked


def create_contact(organization: Organization, data: ContactInput) -> Contact:
    """A new, active contact of ``organization``."""
    if not organization.is_active:
        raise NotAllowed(_("This organization is inactive: reactivate it before adding contacts."))
    clean = _clean(data, None)
    contact = Contact(
        organization_id=organization.id,
        first_name=clean.first_name,
        last_name=clean.last_name,
        email=clean.email,
        phone=clean.phone,
        title=clean.title,
        timezone=clean.timezone,
        preferred_language=clean.preferred_language,
        portal_enabled=bool(data.portal_enabled),
        portal_level=data.portal_level,
        is_active=True,
        is_primary=False,
    )
    _write(lambda: db.session.add(contact))
    if data.is_primary:
        set_primary_contact(contact)
    return contact


def update_contact(contact: Contact, data: ContactInput) -> bool:
    """Apply an edit; True when it ended the contact's portal access (see the module).

    A contact that moves stops being the primary contact of the organization it leaves;
    ``is_primary`` then applies to the organization it joins.
    """
    clean = _clean(data, contact)
    target = data.organization
    moved = target is not None and target.id != contact.organization_id
    if moved and not target.is_active:
        raise InvalidInput({"organization_id": _("Choose an active organization.")})
    must_end = (
        moved
        or clean.email != contact.email
        or reduces_portal_access(contact, bool(data.portal_enabled), data.portal_level)
    )

    def apply() -> None:
        contact.first_name, contact.last_name = clean.first_name, clean.last_name
        contact.email, contact.phone, contact.title = clean.email, clean.phone, clean.title
        contact.timezone = clean.timezone
        contact.preferred_language = clean.preferred_language
        contact.portal_enabled, contact.portal_level = bool(data.portal_enabled), data.portal_level
        if moved:
            contact.is_primary = False
            contact.organization = target
        elif contact.is_primary and not data.is_primary:
            contact.is_primary = False

    _write(apply)
    if data.is_primary and not contact.is_primary:
        set_primary_contact(contact)
    if must_end:
        end_portal_access(contact)
    return must_end


def set_preferred_language(contact: Contact, language: str) -> None:
    """The contact chose a language with the portal's switch: it is theirs from now on,
    for pages and mail. Ends no session (nothing about access changed)."""
    contact.preferred_language = clean_language(language)
    db.session.flush()


def set_primary_contact(contact: Contact) -> None:
    """Make ``contact`` the primary contact of its organization, in place of the
    previous one (the index allows one, so the old flag is cleared and flushed first)."""
    if not contact.is_active:
        raise InvalidInput({"is_primary": _("An inactive contact can't be the primary contact.")})
    if contact.is_primary:
        return
    db.session.flush()  # a pending move must land before we look at the organization
    db.session.execute(
        update(Contact)
        .where(
            Contact.organization_id == contact.organization_id, Contact.is_primary.is_(True), Contact.id != contact.id
        )
        .values(is_primary=False)
    )
    db.session.flush()

    def apply() -> None:
        contact.is_primary = True

    _write(apply)


def set_portal_access(contact: Contact, enabled: bool, level: str) -> bool:
    """Turn portal access on or off and set the level; True when access was ended."""
    if level not in PORTAL_LEVELS:
        raise InvalidInput({"portal_level": _("Choose a portal level.")})
    must_end = reduces_portal_access(contact, enabled, level)
    contact.portal_enabled, contact.portal_level = bool(enabled), level
    db.session.flush()
    if must_end:
        end_portal_access(contact)
    return must_end


def deactivate_contact(contact: Contact) -> None:
    """The contact leaves: no portal, not primary; their address is free for another."""
    if not contact.is_active:
        return
    contact.is_active = False
    contact.is_primary = False
    db.session.flush()
    end_portal_access(contact)


def reactivate_contact(contact: Contact) -> None:
    """Back in use, if nobody active took the address meanwhile. Revoked links stay
    revoked and ended sessions stay ended."""
    if contact.is_active:
        return
    if email_in_use(contact.email, contact.id):
        raise InvalidInput({"email": email_taken_message()})

    def apply() -> None:
        contact.is_active = True

    _write(apply)


# --- lists -------------------------------------------------------------------------


def matching(stmt, query: str):
    """Narrow a contact query to a search: the start of the first name, last name,
    full name or email, case-insensitive."""
    query = " ".join((query or "").split())[:100]
    if not query:
        return stmt
    full_name = Contact.first_name + " " + Contact.last_name
    return stmt.where(
        or_(
            Contact.email.startswith(query.lower(), autoescape=True),  # stored lower-case
            Contact.first_name.istartswith(query, autoescape=True),
            Contact.last_name.istartswith(query, autoescape=True),
            full_name.istartswith(query, autoescape=True),
        )
    )


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    open_links: int


def list_contacts(stmt, page: int = 1, page_size: int = 50) -> tuple[list[ContactRow], bool]:
    """One page of a contact query, each contact with its organization and the number of
    its usable portal links: two statements whatever the size of the page."""
    stmt = (
        stmt.options(joinedload(Contact.organization))
        .order_by(Contact.is_active.desc(), Contact.last_name, Contact.first_name, Contact.id)
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    )
    contacts = list(db.session.scalars(stmt))
    page_contacts, has_next = contacts[:page_size], len(contacts) > page_size
    # Counted for this page's contacts only (grouped, by the contact_id index), not
    # for every link in the table.
    counts = (
        dict(
            db.session.execute(
                select(PortalLink.contact_id, func.count())
                .where(
                    PortalLink.contact_id.in_([c.id for c in page_contacts]),
                    PortalLink.revoked_at.is_(None),
                    PortalLink.expires_at > utcnow(),
                )
                .group_by(PortalLink.contact_id)
            ).all()
        )
        if page_contacts
        else {}
    )
    return [ContactRow(contact, counts.get(contact.id, 0)) for contact in page_contacts], has_next


def has_primary_contact(organization_id: int) -> bool:
    return (
        db.session.scalar(
            select(Contact.id).where(Contact.organization_id == organization_id, Contact.is_primary.is_(True)).limit(1)
        )
        is not None
    )


def open_link_count(contact: Contact) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(PortalLink)
            .where(
                PortalLink.contact_id == contact.id, PortalLink.revoked_at.is_(None), PortalLink.expires_at > utcnow()
            )
        )
        or 0
    )
