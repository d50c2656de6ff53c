"""The Outbox: every queued, sent and dead message, with retry for dead letters.

With no SMTP server configured (the embedded default) mail stays here, and the portal
links inside it can be clicked, so the whole story can be walked on one laptop.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.access.staff import staff_may_see_outbox
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import parse_page
from portal.mail import outbox as mail
from portal.mail.models import OutboxMessage, OutboxStatus

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
PAGE_SIZE = 30


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
    messages = db.session.scalars(stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return render_page(
        "admin/outbox/index.html",
        messages=messages[:PAGE_SIZE],
        has_next=len(messages) > PAGE_SIZE,
        page=page,
        status_filter=status,
        smtp=mail.smtp_configured(),
    )


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
    """One delivery pass, for staff who do not want to wait for the worker."""
    if not mail.smtp_configured():
        flash(_("No SMTP server is configured: mail is kept here."), "error")
    else:
        report = mail.deliver_due(limit=100)
        flash(
            _(
                "Sent %(sent)s, will retry %(retried)s, failed %(dead)s.",
                sent=report.sent,
                retried=report.retried,
                dead=report.dead,
            ),
            "success",
        )
    return redirect_after_post(url_for(".index"))
