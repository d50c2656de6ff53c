"""Service tickets on the portal: open one, follow it, reply, close and reopen.

Every ticket is loaded through ``portal.access.contacts`` (``contact_ticket``,
``contact_tickets_query``): what the contact may not see is a 404. The services hold
the rules and flush; each view commits once. htmx requests get a block of the same
template; plain posts get a 303, so everything also works without JavaScript.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, redirect, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, NotFound

from portal.access import (
    LinkUnusable,
    contact_ticket,
    contact_tickets_query,
    remember_link,
)
from portal.access.contacts import (
    ContactFacts,
    PortalAccess,
    current_contact,
    current_grant,
)
from portal.core.error_pages import CSRF_RERENDER, error_page
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, render_partial, wants_partial
from portal.core.parsing import optional_id
from portal.domains.customers.models import Contact
from portal.domains.service_desk import attachments
from portal.domains.service_desk import tickets as service
from portal.domains.service_desk import tickets as tickets_service
from portal.domains.service_desk.attachments import upload_limits
from portal.domains.service_desk.clocks import first_response_clock, resolution_clock
from portal.domains.service_desk.conversation import (
    TICKET_PAGE_OPTIONS,
    list_tickets,
    newest_ticket_link,
    public_attachment,
    public_conversation,
)
from portal.domains.service_desk.models import Ticket
from portal.links.views import link_unusable_page
from portal.tickets.forms import ReplyForm, TicketForm

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

INDEX = "tickets/index.html"
NEW = "tickets/new.html"
SHOW = "tickets/show.html"


@bp.errorhandler(LinkUnusable)
def link_unusable(error: LinkUnusable):
    return link_unusable_page(error.link)


def _limits() -> dict:
    return upload_limits()


def _too_large_message() -> str:
    limits = _limits()
    return _(
        "Those files are too large together: at most %(n)d files of %(mb)s MB.",
        n=limits["max_files"],
        mb=limits["max_mb"],
    )


def _files_chosen(files) -> bool:
    return any(getattr(f, "filename", "") for f in files or ())


def _portal_contact() -> ContactFacts | None:
    """The contact of this portal session, or None (no session, or it ended)."""
    try:
        return current_contact()
    except NotFound:
        return None


# --- the list --------------------------------------------------------------------


@bp.get("", endpoint="index")
def index():
    """The tickets the contact may see, newest first; htmx asks for the results block
    when a tab or the "older" link is followed. Without a session: the sign-in page
    (the list names nothing that could exist or not)."""
    facts = _portal_contact()
    if facts is None:
        return redirect(url_for("sign_in.start"), code=303)
    listing = list_tickets(
        contact_tickets_query(facts), request.args.get("show", "open"), optional_id(request.args.get("before"))
    )
    return render_page(
        INDEX,
        block="results",
        who=facts,
        signed_in=facts.signed_in,
        listing=listing,
        priority_label=service.priority_label,
    )


# --- a new ticket ----------------------------------------------------------------


def _form_page(
    form: TicketForm,
    facts: ContactFacts,
    status: int = 200,
    errors: dict | None = None,
    notice: str | None = None,
    files_lost: bool = False,
    partial: str | None = None,
):
    context = dict(
        form=form,
        sub_types_endpoint="tickets.sub_issue_types",
        **tickets_service.new_ticket_choices(facts.organization_id, form.issue_type_id.data),
    )
    context.update(who=facts, signed_in=facts.signed_in, errors=errors or {}, notice=notice, files_lost=files_lost)
    if partial:
        return render_partial(partial, NEW, **context)
    return render_page(NEW, block="ticket_form", status=status, **context)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """The new-ticket form; a post opens the ticket and goes to it (303)."""
    facts = _portal_contact()
    if facts is None:
        return (
            redirect_after_post(url_for("sign_in.start"))
            if request.method == "POST"
            else redirect(url_for("sign_in.start"), code=303)
        )
    if request.method == "GET":
        form = TicketForm(formdata=None)
        form.issue_type_id.data = optional_id(request.args.get("issue_type_id"))
        form.submission_key.data = secrets.token_urlsafe(16)
        return _form_page(form, facts)
    form = TicketForm()
    files = form.attachments.data or []
    if request.form.get("refresh"):  # without JavaScript: show the sub-types of the chosen type
        return _form_page(
            form,
            facts,
            files_lost=_files_chosen(files),
            notice=_("Now choose the kind of problem, then send the ticket."),
        )
    contact = db.session.get(Contact, facts.contact_id)
    try:
        ticket = service.open_ticket(
            contact,
            title=form.title.data or "",
            description=form.description.data or "",
            priority=form.priority.data or "",
            issue_type_id=form.issue_type_id.data,
            sub_issue_type_id=form.sub_issue_type_id.data,
            site_id=form.site_id.data,
            files=files,
            submission_key=form.submission_key.data,
        )
        db.session.flush()
    except IntegrityError:
        # The same form, sent twice at the same moment: the first copy opened it.
        db.session.rollback()
        ticket = service.submitted_ticket(facts.contact_id, form.submission_key.data)
        if ticket is None:
            raise
    except InvalidInput as error:
        db.session.rollback()
        return _form_page(form, facts, status=422, errors=error.errors, files_lost=_files_chosen(files))
    except NotAllowed as error:
        db.session.rollback()
        return _form_page(form, facts, status=409, notice=str(error), files_lost=_files_chosen(files))
    except attachments.AttachmentsUnavailable:
        db.session.rollback()  # also removes any file already written
        return _form_page(
            form, facts, status=503, notice=attachments.storage_failed_message(), files_lost=_files_chosen(files)
        )
    if not facts.signed_in:
        # A contact who came in through a link sees only the objects of the links in
        # their session: add the link the opening mail carries, so the ticket opens.
        link = newest_ticket_link(contact.id, ticket.id)
        if link is not None:
            remember_link(link)
    ticket_id = ticket.id
    db.session.commit()
    return redirect_after_post(url_for(".show", ticket_id=ticket_id))


@bp.get("/new/sub-issue-types")
def sub_issue_types():
    """The sub-issue select for the chosen issue type (htmx swaps it in); a plain
    request gets the whole form with that type chosen."""
    facts = _portal_contact()
    if facts is None:
        abort(404)
    form = TicketForm(formdata=None)
    form.issue_type_id.data = optional_id(request.args.get("issue_type_id"))
    return _form_page(form, facts, partial="tickets/_sub_issue_type.html")


# --- one ticket --------------------------------------------------------------------


def _load(ticket_id: int) -> tuple[Ticket, PortalAccess]:
    return contact_ticket(ticket_id, options=TICKET_PAGE_OPTIONS)


def _reload(ticket_id: int) -> tuple[Ticket, PortalAccess]:
    """The ticket again after a commit or rollback. Both expire what was loaded, and
    ``session.get`` would refresh the columns only, without the page's loader options
    (every relationship of a ticket is lazy="raise"): start from a clean session."""
    db.session.expunge_all()
    return _load(ticket_id)


def _ticket_page(
    ticket: Ticket,
    access: PortalAccess,
    status: int = 200,
    form: ReplyForm | None = None,
    errors: dict | None = None,
    notice: str | None = None,
    files_lost: bool = False,
):
    grant = current_grant()
    return render_page(
        SHOW,
        block="ticket",
        status=status,
        ticket=ticket,
        who=access,
        signed_in=bool(grant and grant.signed_in),
        messages=public_conversation(ticket.id),
        first_response=first_response_clock(ticket),
        resolution=resolution_clock(ticket),
        form=form or ReplyForm(formdata=None),
        errors=errors or {},
        notice=notice,
        files_lost=files_lost,
        priority_label=service.priority_label,
        **_limits(),
    )


def _after_change(ticket_id: int):
    """htmx gets the updated ticket block; a plain post goes back to the page (303)."""
    if wants_partial():
        ticket, access = _reload(ticket_id)
        return _ticket_page(ticket, access)
    return redirect_after_post(url_for(".show", ticket_id=ticket_id))


@bp.get("/<int:ticket_id>")
def show(ticket_id: int):
    ticket, access = _load(ticket_id)
    return _ticket_page(ticket, access)


@bp.post("/<int:ticket_id>/reply")
def reply(ticket_id: int):
    ticket, access = _load(ticket_id)
    form = ReplyForm()
    files = form.attachments.data or []
    try:
        service.add_contact_reply(ticket, access.contact, form.body.data or "", files=files)
    except InvalidInput as error:
        db.session.rollback()
        ticket, access = _reload(ticket_id)
        return _ticket_page(ticket, access, status=422, form=form, errors=error.errors, files_lost=_files_chosen(files))
    except NotAllowed as error:
        db.session.rollback()
        ticket, access = _reload(ticket_id)
        return _ticket_page(ticket, access, status=409, form=form, notice=str(error), files_lost=_files_chosen(files))
    db.session.commit()
    return _after_change(ticket_id)


def _contact_step(ticket_id: int, step):
    """Close or reopen for the contact; a second tap (or the wrong state) changes nothing."""
    ticket, access = _load(ticket_id)
    try:
        step(ticket, access.contact)
    except NotAllowed as error:
        db.session.rollback()
        ticket, access = _reload(ticket_id)
        return _ticket_page(ticket, access, status=409, notice=str(error))
    db.session.commit()
    return _after_change(ticket_id)


@bp.post("/<int:ticket_id>/close")
def close(ticket_id: int):
    """Close the ticket."""
    return _contact_step(ticket_id, service.close_by_contact)


@bp.post("/<int:ticket_id>/reopen")
def reopen(ticket_id: int):
    """Reopen a closed ticket."""
    return _contact_step(ticket_id, service.reopen_by_contact)


@bp.get("/<int:ticket_id>/attachments/<int:attachment_id>")
def attachment(ticket_id: int, attachment_id: int):
    """A file of a public reply, to a contact who may see the ticket: always a
    download (never rendered inline), never cached."""
    ticket, _access = contact_ticket(ticket_id)
    found = public_attachment(ticket.id, attachment_id)
    if found is None:
        abort(404)
    path = attachments.storage_path(found.storage_key)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=found.content_type, as_attachment=True, download_name=found.filename, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers.pop("Expires", None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- requests the form cannot be read from ---------------------------------------------


@bp.errorhandler(413)
def too_large(_error):
    """A request over MAX_CONTENT_LENGTH: the body cannot be read, so the form comes
    back empty with a clear message on the files. An htmx request gets it with 422,
    the status our htmx configuration swaps; a plain one with 413."""
    status = 422 if wants_partial() else 413
    message = _too_large_message()
    try:
        if request.endpoint == "tickets.new":
            facts = current_contact()
            return _form_page(
                TicketForm(formdata=None), facts, status=status, errors={"attachments": message}, files_lost=True
            )
        if request.endpoint == "tickets.reply":
            ticket, access = _load(request.view_args["ticket_id"])
            return _ticket_page(
                ticket,
                access,
                status=status,
                form=ReplyForm(formdata=None),
                errors={"attachments": message},
                files_lost=True,
            )
    except LinkUnusable as error:
        return link_unusable_page(error.link)
    except HTTPException as exc:  # no session, or not their ticket: answer as the view would
        return error_page(exc.code or 400, exc.name, exc.description or "")
    return error_page(413, _("Too large"), message)


def _after_csrf_expired():
    """A form left open past the CSRF token's lifetime comes back filled in, with a
    fresh token, instead of losing what the contact typed on their phone."""
    notice = _("This page was open for a long time, so we need you to send it once more. What you typed is kept.")
    if request.endpoint == "tickets.new":
        facts = current_contact()
        form = TicketForm()
        return _form_page(form, facts, status=422, notice=notice, files_lost=_files_chosen(form.attachments.data))
    try:
        ticket, access = _load(request.view_args["ticket_id"])
    except LinkUnusable as error:
        return link_unusable_page(error.link)
    form = ReplyForm()
    return _ticket_page(
        ticket, access, status=422, form=form, notice=notice, files_lost=_files_chosen(form.attachments.data)
    )


CSRF_RERENDER["tickets.new"] = _after_csrf_expired
CSRF_RERENDER["tickets.reply"] = _after_csrf_expired
