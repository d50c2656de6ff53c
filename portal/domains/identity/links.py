"""Portal links: issue, resolve, revoke, renew.

A token is 32 random bytes; only its SHA-256 is stored, so a leaked database does not
leak working links. A link is bound to one contact and one target, reusable until it
expires or staff revoke it. Resolving a link reads only: mail scanners open links.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.models import PortalLink, StaffUser


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedLink:
    link: PortalLink
    token: str  # shown once, in the email; never stored


def issue_link(
    contact: Contact,
    target_type: str,
    target_id: int,
    created_by: StaffUser | None = None,
    days: int | None = None,
) -> IssuedLink:
    """Create a link for ``contact`` to open one object; returns the token to mail."""
    token = secrets.token_urlsafe(32)
    lifetime = days if days is not None else current_app.config["PORTAL_LINK_DAYS"]
    link = PortalLink(
        token_hash=hash_token(token),
        contact_id=contact.id,
        target_type=target_type,
        target_id=target_id,
        expires_at=utcnow() + timedelta(days=lifetime),
        created_by_id=created_by.id if created_by else None,
    )
    db.session.add(link)
    db.session.flush()
    return IssuedLink(link, token)


def issue_link_to_copy(contact: Contact, target_type: str, target_id: int, staff: StaffUser) -> IssuedLink:
    """A link a staff member copies to paste into a mail they write themselves ("Copy a
    link for this contact"). It is marked as issued by them: it may travel anywhere, so
    a signature made through it says so. The token is shown to them once, never again."""
    from flask_babel import gettext as _

    from portal.core.errors import NotAllowed

    if not contact.has_portal_access:
        raise NotAllowed(_("This contact has no portal access."))
    issued = issue_link(contact, target_type, target_id, created_by=staff)
    issued.link.issued_by_staff_id = staff.id
    db.session.flush()
    return issued


def find_link(token: str) -> PortalLink | None:
    """The link behind a token, usable or not (the caller tells the user which)."""
    if not token or len(token) > 200:
        return None
    return db.session.scalar(select(PortalLink).where(PortalLink.token_hash == hash_token(token)))


def revoke_link(link: PortalLink) -> None:
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        db.session.flush()


def revoke_links_for(contact_id: int, target_type: str | None = None, target_id: int | None = None) -> int:
    """Revoke a contact's outstanding links (all, or those to one target)."""
    stmt = update(PortalLink).where(PortalLink.contact_id == contact_id, PortalLink.revoked_at.is_(None))
    if target_type is not None:
        stmt = stmt.where(PortalLink.target_type == target_type, PortalLink.target_id == target_id)
    result = db.session.execute(stmt.values(revoked_at=utcnow()))
    return result.rowcount or 0


def links_for_target(target_type: str, target_id: int) -> list[PortalLink]:
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            select(PortalLink)
            .options(joinedload(PortalLink.contact))
            .where(PortalLink.target_type == target_type, PortalLink.target_id == target_id)
            .order_by(PortalLink.created_at.desc())
        )
    )


def mask_email(address: str) -> str:
    """``jane.doe@example.com`` -> ``j•••@example.com``: enough to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


def renew_link(old: PortalLink, language: str | None = None) -> IssuedLink:
    """Mail a fresh link to the same object, to the address on file (never a typed one).

    Only for an expired link: a revoked one stays revoked, whoever holds it."""
    from flask_babel import gettext as _
    from flask_babel import lazy_gettext as _l

    from portal.core.errors import NotAllowed
    from portal.core.urls import external_url
    from portal.domains.customers.languages import mail_for_contact
    from portal.mail.outbox import queue_mail

    if old.revoked_at is not None:  # revocation is final; only an expired link is renewed
        raise NotAllowed(_("This link was withdrawn and cannot be renewed."))
    contact = old.contact
    if not contact.has_portal_access:
        raise NotAllowed(_("This contact has no portal access."))
    issued = issue_link(contact, old.target_type, old.target_id)
    queue_mail(
        contact.email,
        _l("Your new link"),
        "link_renewed",
        kind="link_renewed",
        **mail_for_contact(contact, default=language),
        contact=contact,
        url=external_url("links.open", token=issued.token),
        expires_at=issued.link.expires_at,
    )
    return issued
