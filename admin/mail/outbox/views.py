"""The Outbox: every queued, sent and dead message, with retry for dead letters.

With no SMTP server configured (the embedded default) mail stays here, and the portal
links inside it can be clicked, so the whole story can be walked on one laptop.
"""

from __future__ import annotations

import time

from flask import Blueprint, abort, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.access.staff import staff_may_see_outbox
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import parse_page
from portal.jobs import enqueue
from portal.mail import outbox as mail
from portal.mail.models import OutboxMessage, OutboxStatus

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
PAGE_SIZE = 30

# The HTML part is shown in a sandboxed frame of the Outbox page, from its own URL with
# its own policy: its inline styles apply, nothing else loads or runs (no script, no
# remote file, no form), and its links can only open a new tab.
HTML_PART_CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
        "sandbox allow-popups allow-popups-to-escape-sandbox",
    ]
)


@bp.before_request
def only_admins_and_managers():
    """The outbox holds every customer's mail: admins and managers only."""
    if not staff_may_see_outbox(current_user):
        abort(404)


@bp.get("/")
def index():
    status = request.args.get("status") or None
    page = parse_page(request.args.get("page"))
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in (OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.DEAD):
        stmt = stmt.where(OutboxMessage.status == status)
    rows = db.session.scalars(stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    messages = rows[:PAGE_SIZE]
    smtp = mail.smtp_configured()
    return render_page(
        "admin/outbox/index.html",
        messages=messages,
        # In production a mail's links and codes are the customer's keys: staff see the
        # mail without them. Without SMTP this page is the development mail catcher.
        bodies={m.id: mail.redact_secrets(m.body_text) if smtp else m.body_text for m in messages},
        has_next=len(rows) > PAGE_SIZE,
        page=page,
        status_filter=status,
        smtp=smtp,
    )


@bp.get("/<int:message_id>/html")
def html_part(message_id: int):
    """A message's HTML part as its recipient's client gets it, for the frame on the
    Outbox page; with SMTP configured without its tokens and codes (as the text)."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or not message.body_html:
        abort(404)
    html = mail.redact_html_secrets(message.body_html) if mail.smtp_configured() else message.body_html
    # Links open in a new tab, never inside the frame.
    html = html.replace("<head>", '<head><base target="_blank">', 1)
    response = make_response(html)
    response.headers["Content-Security-Policy"] = HTML_PART_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/<int:message_id>/retry")
def retry(message_id: int):
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    if message.status != OutboxStatus.DEAD:
        flash(_("Only a failed message can be retried."), "error")
    else:
        mail.retry_message(message)
        db.session.commit()
        flash(_("Queued again."), "success")
    return redirect_after_post(url_for(".index"))


@bp.post("/send")
def send_now():
    """Hand a delivery pass to the worker now; never send inside the web request (a
    hanging SMTP server would outlast the request and leave mail claimed)."""
    if not mail.smtp_configured():
        flash(_("No SMTP server is configured: mail is kept here."), "error")
    else:
        # one job per ten seconds, however often the button is pressed
        enqueue("mail.deliver", key=f"mail.deliver@{int(time.time()) // 10}")
        db.session.commit()
        flash(_("The worker is sending the due mail now."), "success")
    return redirect_after_post(url_for(".index"))
