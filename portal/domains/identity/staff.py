"""Staff accounts: argon2 password hashes and server-side sessions."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import DateTime, delete, func, or_, select, update

from portal.core.db import utcnow
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.domains.identity.models import STAFF_ROLES, StaffSession, StaffUser

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the response time the same.
_DUMMY_HASH = _hasher.hash("not a real password")
MIN_PASSWORD = 10
# ``last_seen_at`` moves on at most this often: not a write per request.
TOUCH_EVERY = timedelta(minutes=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_staff(email: str, name: str, password: str, role: str = "sales", timezone: str = "UTC") -> StaffUser:
    email = (email or "").strip().lower()
    errors = {}
    if "@" not in email:
        errors["email"] = _("Enter an email address.")
    elif db.session.scalar(select(func.count()).where(StaffUser.email == email)):
        errors["email"] = _("A staff member with this email already exists.")
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = _("Use at least %(n)s characters.", n=MIN_PASSWORD)
    if role not in STAFF_ROLES:
        errors["role"] = _("Choose a role.")
    if errors:
        raise InvalidInput(errors)
    user = StaffUser(
        email=email, name=name.strip() or email, password_hash=hash_password(password), role=role, timezone=timezone
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> StaffUser | None:
    """The enabled staff user with these credentials, or None (same cost either way)."""
    user = db.session.scalar(select(StaffUser).where(StaffUser.email == (email or "").strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_enabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_session(user: StaffUser, ip: str | None, user_agent: str | None) -> StaffSession:
    record = StaffSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        ip=(ip or "")[:64],
        user_agent=(user_agent or "")[:255],
        last_seen_at=utcnow(),
    )
    db.session.add(record)
    db.session.flush()
    return record


def session_limits() -> tuple[timedelta, timedelta]:
    """(idle, absolute) lifetime of a staff session: ``STAFF_SESSION_IDLE_MINUTES``,
    ``STAFF_SESSION_MAX_DAYS``."""
    config = current_app.config
    return (
        timedelta(minutes=int(config.get("STAFF_SESSION_IDLE_MINUTES", 480))),
        timedelta(days=int(config.get("STAFF_SESSION_MAX_DAYS", 7))),
    )


def load_session_user(session_id: str | None, user_id: str) -> StaffUser | None:
    """The user of a live server-side session, or None once it has ended: logged out,
    idle longer than the idle limit, or older than the absolute one."""
    if not session_id or not str(user_id).isdigit():
        return None
    now = utcnow()
    idle, lifetime = session_limits()
    last_seen = func.coalesce(StaffSession.last_seen_at, StaffSession.created_at, type_=DateTime())
    row = db.session.execute(
        select(StaffUser, last_seen)
        .join(StaffSession, StaffSession.user_id == StaffUser.id)
        .where(
            StaffSession.id == session_id,
            StaffUser.id == int(user_id),
            StaffUser.is_enabled.is_(True),
            StaffSession.created_at > now - lifetime,
            last_seen > now - idle,
        )
    ).first()
    if row is None:
        return None
    user, seen = row
    if seen is None or seen <= now - TOUCH_EVERY:
        _touch_session(session_id, now)
    return user


def _touch_session(session_id: str, now: datetime) -> None:
    """Move ``last_seen_at`` on in a transaction of its own: a GET commits nothing, and
    a request that rolls back must not take the touch with it."""
    with db.engine.begin() as connection:
        connection.execute(
            update(StaffSession)
            .where(
                StaffSession.id == session_id,
                or_(StaffSession.last_seen_at.is_(None), StaffSession.last_seen_at <= now - TOUCH_EVERY),
            )
            .values(last_seen_at=now)
        )


def end_session(session_id: str | None) -> None:
    if session_id:
        db.session.execute(delete(StaffSession).where(StaffSession.id == session_id))


def mail_for_staff(user: StaffUser) -> dict[str, str]:
    """``queue_mail``'s locale and zone for a message to a staff member: staff have no
    language of their own, so the instance default, in their own zone."""
    return {"locale": current_app.config["DEFAULT_LANGUAGE"], "timezone": user.timezone or "UTC"}
