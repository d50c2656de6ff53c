"""Portal sign-in: a single-use link and a one-time code, mailed together.

A contact types their email; if it belongs to an active contact with portal access,
they get one email holding a link (for this device) and a 6-digit code (for when the
link opens on another device). Both work for ``PORTAL_SIGN_IN_MINUTES`` and only
once; the code locks after ``MAX_CODE_ATTEMPTS`` wrong tries.

Nothing here tells an unknown address from a known one: the request answers the same,
and a wrong code, an unknown address and an expired code get the same message.

Only hashes are stored: the token's SHA-256, and an HMAC of the code keyed with the
app's secret and bound to its token hash, so a copy of the database is not enough to
try the million codes offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.customers.languages import mail_for_contact
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.links import hash_token
from portal.domains.identity.models import PortalSignIn
from portal.mail.outbox import queue_mail
from portal.mail.rendering import brand

MAX_CODE_ATTEMPTS = 5
CODE_DIGITS = 6
MAX_EMAIL = 254


def lifetime_minutes() -> int:
    """How long a sign-in email works (config ``PORTAL_SIGN_IN_MINUTES``)."""
    return int(current_app.config.get("PORTAL_SIGN_IN_MINUTES", 10))


def normalise_email(email: str | None) -> str:
    """The form contacts' addresses are stored in: trimmed, lower case."""
    return (email or "").strip().lower()


def normalise_code(code: str | None) -> str:
    """What people type: digits, perhaps with spaces or a dash from copying."""
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-")[:20]


def _code_hash(token_hash: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode("utf-8") if isinstance(key, str) else key
    return hmac.new(key, f"{token_hash}:{code}".encode(), hashlib.sha256).hexdigest()


def _portal_contact(email: str) -> Contact | None:
    """The active contact with portal access at this address (one at most: a unique index)."""
    if not email or "@" not in email or len(email) > MAX_EMAIL:
        return None
    return db.session.scalar(
        select(Contact)
        .join(Organization, Organization.id == Contact.organization_id)
        .where(
            Contact.email == email,
            Contact.is_active.is_(True),
            Contact.portal_enabled.is_(True),
            Organization.is_active.is_(True),
        )
        # The organization rides along (its default language picks the mail's): a
        # known address must run no more statements than an unknown one.
        .options(contains_eager(Contact.organization))
        .limit(1)
    )


def request_sign_in(email: str, ip: str | None, language: str | None = None) -> None:
    """Mail a sign-in link and code to ``email`` if it has portal access; else nothing.

    The caller answers the same either way, and so does the work: an unknown address
    also draws a token, computes both hashes, writes the sign-in row and renders and
    queues the mail, inside a savepoint that is then rolled back. Returning early
    would make an unknown address measurably faster: a timing oracle for which
    addresses have portal access. ``language`` is the page's the request came from:
    the mail's, unless the contact or their organization chose one.
    """
    email = normalise_email(email)
    contact = _portal_contact(email)
    token = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    token_hash = hash_token(token)
    code_hash = _code_hash(token_hash, code)
    minutes = lifetime_minutes()
    # A stand-in for the mail's greeting; never added to the session.
    addressee = contact or Contact(first_name="", last_name="", email=email, timezone="UTC")
    savepoint = db.session.begin_nested()
    sign_in = PortalSignIn(
        contact_id=contact.id if contact else None,
        token_hash=token_hash,
        code_hash=code_hash,
        expires_at=utcnow() + timedelta(minutes=minutes),
        ip=(ip or "")[:64] or None,
    )
    db.session.add(sign_in)
    db.session.flush()
    queue_mail(
        addressee.email,
        # the business's name, in the recipient's words when it is the default one
        _l("Your sign-in link for %(app)s", app=LazyString(lambda: brand().name)),
        "portal_sign_in",
        kind="portal_sign_in",
        **mail_for_contact(addressee, default=language),
        contact=addressee,
        url=external_url("sign_in.link", token=token),
        code=code,
        minutes=minutes,
        expires_at=sign_in.expires_at,
    )
    if contact is None:
        savepoint.rollback()  # the same work, and nothing kept
    else:
        savepoint.commit()


def find_sign_in(token: str) -> PortalSignIn | None:
    """The sign-in behind a link's token, usable or not (reads only: scanners open links)."""
    if not token or len(token) > 200:
        return None
    return db.session.scalar(select(PortalSignIn).where(PortalSignIn.token_hash == hash_token(token)))


def check_usable(sign_in: PortalSignIn) -> None:
    """Raise ``NotAllowed`` with words for the contact when this link cannot sign in."""
    contact = sign_in.contact
    if not contact.has_portal_access:
        raise NotAllowed(_("Portal access for this address is not active. Please contact your account manager."))
    if sign_in.used_at is not None:
        raise NotAllowed(_("This sign-in link was already used. Each link works once."))
    if sign_in.expires_at <= utcnow():
        raise NotAllowed(_("This sign-in link has expired. Links work for %(n)s minutes.", n=lifetime_minutes()))


def complete_sign_in_by_link(token: str) -> Contact:
    """Use up a sign-in link and return its contact; ``NotAllowed`` if it cannot be used.

    The conditional update is the claim: of two tabs posting the same link at once,
    exactly one gets a row back.
    """
    sign_in = find_sign_in(token)
    if sign_in is None:
        raise NotAllowed(_("This sign-in link is not valid. Check that you opened the whole link from the email."))
    check_usable(sign_in)
    now = utcnow()
    claimed = (
        db.session.execute(
            update(PortalSignIn)
            .where(PortalSignIn.id == sign_in.id, PortalSignIn.used_at.is_(None), PortalSignIn.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not claimed:
        raise NotAllowed(_("This sign-in link was already used. Each link works once."))
    return sign_in.contact


def _code_refused() -> InvalidInput:
    # One message for an unknown address, a wrong code and an expired one: anything
    # more specific would tell a stranger which addresses have portal access.
    return InvalidInput(
        {
            "code": _(
                "That code did not work. Check that you typed the code from the newest email; codes work for "
                "%(n)s minutes. You can also ask for a new email.",
                n=lifetime_minutes(),
            )
        }
    )


def _code_locked() -> InvalidInput:
    return InvalidInput(
        {
            "code": _(
                "Too many wrong codes: this code is now locked. Ask for a new email below, or use the link in "
                "the email."
            )
        }
    )


def complete_sign_in_by_code(email: str, code: str) -> Contact:
    """Check a typed code against the contact's newest pending sign-in; return the contact.

    Each try is counted before the code is compared (a conditional update, so parallel
    guesses cannot get past the limit); a right code gives its count back. Raises
    ``InvalidInput`` (field ``code``). The count must survive a refused try: the view
    commits after ``InvalidInput`` here instead of rolling back.
    """
    contact = _portal_contact(normalise_email(email))
    code = normalise_code(code)
    if contact is None:
        _code_hash("0" * 64, code)  # about the same work as a known address
        raise _code_refused()
    now = utcnow()
    sign_in = db.session.scalar(
        select(PortalSignIn)
        .where(PortalSignIn.contact_id == contact.id, PortalSignIn.used_at.is_(None), PortalSignIn.expires_at > now)
        .order_by(PortalSignIn.created_at.desc(), PortalSignIn.id.desc())
        .limit(1)
    )
    if sign_in is None:
        raise _code_refused()
    if sign_in.failed_attempts >= MAX_CODE_ATTEMPTS:
        raise _code_locked()
    counted = (
        db.session.execute(
            update(PortalSignIn)
            .where(
                PortalSignIn.id == sign_in.id,
                PortalSignIn.used_at.is_(None),
                PortalSignIn.failed_attempts < MAX_CODE_ATTEMPTS,
            )
            .values(failed_attempts=PortalSignIn.failed_attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not counted:  # another request used it or spent the last try meanwhile
        db.session.refresh(sign_in)
        raise _code_locked() if sign_in.used_at is None else _code_refused()
    if not (
        code.isdigit()
        and len(code) == CODE_DIGITS
        and hmac.compare_digest(_code_hash(sign_in.token_hash, code), sign_in.code_hash)
    ):
        db.session.refresh(sign_in)
        raise _code_locked() if sign_in.failed_attempts >= MAX_CODE_ATTEMPTS else _code_refused()
    used = (
        db.session.execute(
            update(PortalSignIn)
            .where(PortalSignIn.id == sign_in.id, PortalSignIn.used_at.is_(None))
            .values(used_at=now, failed_attempts=PortalSignIn.failed_attempts - 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not used:
        raise _code_refused()
    return contact
