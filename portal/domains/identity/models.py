"""Staff users and their server-side sessions; portal links and sign-ins."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import created_at_column, utcnow
from portal.core.extensions import db

if TYPE_CHECKING:
    from portal.domains.customers.models import Contact

STAFF_ROLES = ("admin", "manager", "sales", "technician")


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="sales")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at_column()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled users
        return self.is_enabled


class StaffSession(db.Model):
    """A server-side record of a staff login, so logout ends the session for real.

    The cookie only carries the random id; deleting the row ends the session even if
    someone kept a copy of the cookie.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at_column()
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    # Touched at most once a minute (not a write per request), for the idle expiry.
    last_seen_at: Mapped[datetime | None]

    user: Mapped[StaffUser] = relationship()


class PortalSession(db.Model):
    """A server-side record of a portal session (opened link or sign-in).

    The cookie carries the random id; every portal request checks the row in the same
    query that reads the contact, and signing out deletes it, so a copy of the cookie
    ends with the session.
    """

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at_column()


class PortalLink(db.Model):
    """Only the SHA-256 of the token is stored; the token itself lives in the email."""

    __tablename__ = "portal_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # Set when a staff member copied the link to paste into a mail of their own: it
    # may have travelled anywhere, so a signature through it says so.
    issued_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    contact: Mapped[Contact] = relationship()
    issued_by: Mapped[StaffUser | None] = relationship(foreign_keys=[issued_by_staff_id])

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class PortalSignIn(db.Model):
    """A sign-in request: a single-use link and a one-time code, mailed together.

    Both are stored hashed. The link is used up by the POST behind its Continue page
    (a GET never uses it: mail scanners open links); the code locks after too many
    wrong tries.
    """

    __tablename__ = "portal_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL only inside the rolled-back savepoint of a request for an unknown address.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    ip: Mapped[str | None] = mapped_column(String(64))

    contact: Mapped[Contact] = relationship()
