"""Mail: queue into the outbox (same transaction as the change) and deliver it.

``queue_mail`` is what the other services call. ``deliver_due`` is the worker's
loop body: it claims due messages with a lease (``FOR UPDATE SKIP LOCKED`` where the
engine has it, a conditional update everywhere), sends each over SMTP with a
timeout, and records the outcome. A 5xx answer is permanent: the message goes to the
dead letters, shown on the admin Outbox page with a retry button; anything else is
retried with exponential backoff.
"""

from __future__ import annotations

import re
import smtplib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from blinker import Namespace
from flask import current_app
from sqlalchemy import or_, select, update

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.i18n import rendering_for
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.mail.rendering import language_tag, render_mail

# A worker's claim on one message: far longer than one send can take (each SMTP step
# is bounded by MAIL_TIMEOUT), so a claim never runs out while the message is sent.
LEASE = timedelta(minutes=5)
CONNECT_FAILURES_PER_PASS = 3

# Sent with the message once the SMTP server accepted it (in the worker's transaction,
# before its commit): the proposal's evidence log records the delivery with its Message-ID.
mail_sent = Namespace().signal("mail-sent")


def queue_mail(
    to_addr: str,
    subject: str,
    template: str,
    kind: str,
    *,
    locale: str | None = None,
    timezone: str | None = None,
    **context,
) -> OutboxMessage:
    """Write a message to the outbox; it leaves when the surrounding transaction commits.

    The subject (a lazy string, ``lazy_gettext``) and both parts, by ``render_mail``
    (``emails/<template>.txt`` and ``.html``), are rendered now, in the recipient's
    ``locale`` and ``timezone`` (portal/core/i18n.py), never in those of the request
    that caused the mail (every caller passes them: ``mail_for_contact``,
    ``mail_for_staff``); without them, in the locale active around the call."""
    with rendering_for(locale, timezone):
        subject = str(subject)
        rendered = render_mail(template, **context)
    domain = parseaddr(current_app.config["MAIL_FROM"])[1].partition("@")[2] or "porchlight.localhost"
    message = OutboxMessage(
        message_id=f"<{uuid.uuid4().hex}@{domain}>",
        to_addr=to_addr,
        subject=subject,
        body_text=rendered.text,
        body_html=rendered.html,
        locale=rendered.locale,
        kind=kind,
    )
    db.session.add(message)
    db.session.flush()
    return message


# The secret parts of a mail: portal-link and sign-in tokens, and the 6-digit sign-in
# code on its own line of the text part or as the whole text of an HTML element
# (portal/templates/emails/). Whoever reads them can act as the customer, so a sent
# message keeps none of them and, with SMTP configured, no staff page shows them. The
# token patterns match in an href as in the text: a link's target is a key too.
LINK_SECRETS = (
    (re.compile(r"/l/[A-Za-z0-9_\-]+"), "/l/[removed]"),
    (re.compile(r"/sq/[A-Za-z0-9_\-]{16,}"), "/sq/[removed]"),
    (re.compile(r"/sign-in/(?!code\b)[A-Za-z0-9_\-]{16,}"), "/sign-in/[removed]"),
)
SECRETS = (
    *LINK_SECRETS,
    (re.compile(r"^(\s*)\d{6}(\s*)$", re.M), r"\1[code removed]\2"),
)
HTML_SECRETS = (*LINK_SECRETS, (re.compile(r"(>\s*)\d{6}(\s*<)"), r"\1[code removed]\2"))


def redact_secrets(body: str) -> str:
    """``body`` (a text part) with its tokens and codes replaced by a placeholder."""
    for pattern, placeholder in SECRETS:
        body = pattern.sub(placeholder, body)
    return body


def redact_html_secrets(html: str | None) -> str | None:
    """``html`` (an HTML part) with its tokens and codes replaced, in links and text alike."""
    if html is None:
        return None
    for pattern, placeholder in HTML_SECRETS:
        html = pattern.sub(placeholder, html)
    return html


def smtp_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead


def claim_due(limit: int = 20) -> list[OutboxMessage]:
    """Claim up to ``limit`` due messages for this worker and commit the claim."""
    now = utcnow()
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it
    )
    ids = list(db.session.scalars(due))
    claimed: list[int] = []
    for message_id in ids:
        # The conditional update is the claim on every engine.
        result = db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == OutboxStatus.PENDING,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .values(claimed_until=now + LEASE)
        )
        if result.rowcount == 1:
            claimed.append(message_id)
    db.session.commit()
    if not claimed:
        return []
    return list(
        db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id))
    )


def deliver_due(limit: int | None = None) -> DeliveryReport:
    """Send what is due (up to ``limit`` messages, or all of it), committing after each.

    Each message is claimed on its own just before it is sent, so a lease only has to
    outlast one message (bounded by MAIL_TIMEOUT per step), never a whole slow pass: a
    second worker cannot take a message this one is still sending. After a failure the
    connection is dropped and the next message opens a new one; a pass stops early when
    the server cannot be reached ``CONNECT_FAILURES_PER_PASS`` times in a row (the
    messages tried are retried with backoff; the rest stay due for the next pass).
    Does nothing without SMTP.
    """
    report = DeliveryReport()
    if not smtp_configured():
        return report
    connection: smtplib.SMTP | None = None
    connect_failures = 0
    try:
        while limit is None or report.handled < limit:
            claimed = claim_due(limit=1)
            if not claimed:
                break
            message = claimed[0]
            if connection is None:
                try:
                    connection = _connect()
                except (OSError, smtplib.SMTPException) as exc:
                    message.attempts += 1
                    _retry_later(message, f"connect: {exc!r}")
                    db.session.commit()
                    report.retried += 1
                    report.errors.append(repr(exc))
                    connect_failures += 1
                    if connect_failures >= CONNECT_FAILURES_PER_PASS:
                        break
                    continue
            connect_failures = 0
            outcome = _send(connection, message)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "dead":
                report.dead += 1
            else:
                report.retried += 1
                # The connection may be half-way through a message (a stall, a drop):
                # never reuse it, or every later message fails without being tried.
                _close(connection)
                connection = None
            db.session.commit()
    finally:
        if connection is not None:
            _close(connection)
    return report


def _close(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


def retry_message(message: OutboxMessage) -> None:
    """Put a dead letter back in the queue, due now (staff pressed Retry)."""
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = utcnow()
    message.claimed_until = None
    db.session.flush()


def _connect() -> smtplib.SMTP:
    config = current_app.config
    # The timeout bounds every socket operation: a server that never answers
    # cannot hold the worker longer than MAIL_TIMEOUT seconds per step.
    connection = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"])
    if config["MAIL_USE_TLS"]:
        connection.starttls()
    if config["MAIL_USERNAME"]:
        connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    return connection


def _build(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at.replace(tzinfo=UTC))
    email.set_content(message.body_text)
    if message.body_html:
        # multipart/alternative: clients show the last part they can, the HTML.
        email.add_alternative(message.body_html, subtype="html")
    if message.locale:  # after the content: setting it clears the Content-* headers
        email["Content-Language"] = language_tag(message.locale)
    return email


def _send(connection: smtplib.SMTP, message: OutboxMessage) -> str:
    message.attempts += 1
    try:
        refused = connection.send_message(_build(message))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return _fail(message, codes[0] if codes else 0, repr(exc))
    except smtplib.SMTPResponseException as exc:
        return _fail(message, exc.smtp_code, repr(exc))
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        _retry_later(message, repr(exc))
        return "retry"
    if refused:
        code = next(iter(refused.values()))[0]
        return _fail(message, code, repr(refused))
    message.status = OutboxStatus.SENT
    # delivered: the keys are the customer's alone
    message.body_text = redact_secrets(message.body_text)
    message.body_html = redact_html_secrets(message.body_html)
    message.sent_at = utcnow()
    message.claimed_until = None
    message.last_error = None
    mail_sent.send(message)
    return "sent"


def _fail(message: OutboxMessage, code: int, error: str) -> str:
    if 500 <= code < 600:
        message.status = OutboxStatus.DEAD
        message.claimed_until = None
        message.last_error = error[:2000]
        return "dead"
    _retry_later(message, error)
    return "retry"


def _retry_later(message: OutboxMessage, error: str) -> None:
    if message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        message.status = OutboxStatus.DEAD
        message.claimed_until = None
        message.last_error = f"gave up after {message.attempts} attempts: {error}"[:2000]
        return
    delay = min(30 * 2 ** max(message.attempts - 1, 0), 3600)
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    message.claimed_until = None
    message.last_error = error[:2000]
