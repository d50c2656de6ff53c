"""The ticket queue and the ticket page for staff.

Every ticket is listed through ``staff_tickets_query`` and loaded through
``staff_ticket`` (``portal.access.staff``): a ticket of a customer one may not see is a
404. Everyone who may see a customer works its tickets, technicians included.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from admin.copied_links import copied_link_page
from admin.operations import attempt, handle_refusals, refused_response
from admin.service_desk.tickets.forms import (
    AssignForm,
    BulkAssignForm,
    MessageForm,
    PriorityForm,
    StatusForm,
)
from portal.access.staff import (
    staff_contact,
    staff_may_see_organization,
    staff_organizations_query,
    staff_seeing_organization,
    staff_ticket,
    staff_tickets_query,
    staff_workable_tickets_query,
)
from portal.core.db import utcnow
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.parsing import optional_id
from portal.domains.customers.models import Contact, Organization
from portal.domains.customers.organizations import choose_organizations
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk import attachments, clocks
from portal.domains.service_desk import queue as queue
from portal.domains.service_desk import tickets as service
from portal.domains.service_desk import tickets as tickets_service
from portal.domains.service_desk.models import (
    PRIORITIES,
    IssueType,
    Sla,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketState,
    TicketStatus,
)
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import events_for
from portal.tickets.forms import TicketForm

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

INDEX = "admin/tickets/index.html"
SHOW = "admin/tickets/show.html"
NEW = "admin/tickets/new.html"

SHOW_OPTIONS = (
    joinedload(Ticket.organization),
    joinedload(Ticket.contact),
    joinedload(Ticket.site),
    joinedload(Ticket.issue_type),
    joinedload(Ticket.sub_issue_type),
    joinedload(Ticket.status),
    joinedload(Ticket.assignee),
)


def _state_labels() -> dict[str, str]:
    return {
        TicketState.OPEN: _("Open (any open status)"),
        TicketState.WAITING: _("Waiting on the customer"),
        TicketState.CLOSED: _("Closed"),
    }


def _priority_labels() -> dict[str, str]:
    return {p: service.priority_label(p) for p in PRIORITIES}


# --- the queue -------------------------------------------------------------------------


def _all_statuses() -> list[TicketStatus]:
    return list(db.session.scalars(select(TicketStatus).order_by(TicketStatus.position, TicketStatus.id)))


def _queue_context(values, notice: str | None = None, skipped: list[str] | None = None) -> dict:
    """Everything the queue page (and its results block) shows, for filters read from ``values``."""
    statuses = _all_statuses()
    filters = queue.read_filters(values, {s.id for s in statuses})
    page = queue.list_tickets(
        staff_tickets_query(current_user), filters, current_user, utcnow(), after=values.get("after")
    )
    organization = None
    if filters.organization_id is not None:
        organization = db.session.scalar(
            staff_organizations_query(current_user).where(Organization.id == filters.organization_id)
        )
    staff = list(
        db.session.scalars(
            select(StaffUser).where(StaffUser.is_enabled.is_(True)).order_by(StaffUser.name, StaffUser.id)
        )
    )
    kinds = list(
        db.session.scalars(
            select(IssueType).where(IssueType.parent_id.is_(None)).order_by(IssueType.position, IssueType.name)
        )
    )
    customer_q = " ".join((values.get("customer_q") or "").split())[:100]
    return {
        "page": page,
        "filters": filters,
        "customer_q": customer_q,
        "customer_choices": _customer_choices(customer_q) if filters.organization_id is None else [],
        "statuses": statuses,
        "state_labels": _state_labels(),
        "priority_labels": _priority_labels(),
        "staff": staff,
        "issue_types": kinds,
        "filter_organization": organization,
        "notice": notice,
        "skipped": skipped or [],
        "due_of": lambda ticket: clocks.next_due(ticket, page.now),
    }


CUSTOMER_CHOICES = 50


def _customer_choices(query: str) -> list[tuple[int, str]]:
    """The customers the queue's customer filter offers: the first by name that this
    staff member may see, or those with a word of the name starting with ``query``."""
    return choose_organizations(staff_organizations_query(current_user), query, limit=CUSTOMER_CHOICES)


@bp.get("/customers")
def customers():
    """The customer filter's options for what was typed in its search box (htmx swaps
    the select; the queue itself follows when one is chosen)."""
    customer_q = " ".join((request.args.get("customer_q") or "").split())[:100]
    if not wants_partial():  # a plain GET (no htmx): the queue page itself, with that search
        return redirect(url_for(".index", customer_q=customer_q))
    return render_page(
        INDEX,
        block="customer_select",
        filters=queue.QueueFilters(),
        customer_q=customer_q,
        customer_choices=_customer_choices(customer_q),
    )


@bp.get("/")
def index():
    """The queue: what this staff member may see, searched, filtered, sorted, a page at a
    time. htmx asks for the results block as one types or picks a filter."""
    return render_page(INDEX, block="results", **_queue_context(request.args))


@bp.post("/assign")
def bulk_assign():
    """Assign the ticked tickets to one staff member (0: to nobody). Each ticket goes
    through the access check and the assignment rule; those the assignee may not see
    are skipped and named."""
    form = BulkAssignForm()
    back = url_for(".index", **queue.read_filters(request.form, {s.id for s in _all_statuses()}).args())
    assignee = None
    problem = None
    if not form.validate():
        problem = _("Choose the tickets and whom to assign them to.")
    elif form.assignee_id.data:
        assignee = db.session.get(StaffUser, form.assignee_id.data)
        if assignee is None or not assignee.is_enabled:
            problem = _("Choose a staff member from the list.")
    tickets = (
        []
        if problem
        else queue.visible_tickets_by_id(staff_workable_tickets_query(current_user), form.ticket_ids.data or [])
    )
    if not problem and not tickets:
        problem = _("Tick at least one ticket first.")
    if problem:
        if wants_partial():
            return render_page(INDEX, block="results", status=422, **_queue_context(request.form, notice=problem))
        return render_page(INDEX, status=422, **_queue_context(request.form, notice=problem))
    done, skipped = 0, []
    for ticket in tickets:
        try:
            service.assign_ticket(ticket, assignee, current_user, sees=staff_may_see_organization)
        except InvalidInput:
            skipped.append(ticket.number)
        else:
            done += 1
    db.session.commit()
    if assignee is not None:
        notice = ngettext(
            "%(num)d ticket assigned to %(name)s.", "%(num)d tickets assigned to %(name)s.", done, name=assignee.name
        )
    else:
        notice = ngettext("%(num)d ticket unassigned.", "%(num)d tickets unassigned.", done)
    if skipped:
        notice += " " + _(
            "Skipped, because %(name)s cannot see those customers: %(numbers)s.",
            name=assignee.name if assignee else "",
            numbers=", ".join(skipped),
        )
    if wants_partial():
        return render_page(INDEX, block="results", **_queue_context(request.form, notice=notice, skipped=skipped))
    flash(notice, "success" if not skipped else "error")
    return redirect_after_post(back)


# --- the ticket page ----------------------------------------------------------------------


def _refused(error: Exception):
    """A refusal on a ticket's page: the page again with the message, 409; elsewhere
    (the queue) the staff area's answer."""
    ticket_id = (request.view_args or {}).get("ticket_id")
    if ticket_id is None:
        return refused_response(error)
    flash(str(error), "error")
    return render_page(SHOW, status=409, **_page_context(_load(ticket_id, fresh=True)))


handle_refusals(bp, _refused)


def _load(ticket_id: int, fresh: bool = False) -> Ticket:
    """The ticket with what its page shows. ``fresh``: after a change in this request,
    when the session already holds the ticket without those relationships loaded."""
    if not fresh:
        return staff_ticket(current_user, ticket_id, options=SHOW_OPTIONS)
    staff_ticket(current_user, ticket_id)
    return db.session.scalars(
        select(Ticket).options(*SHOW_OPTIONS).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
    ).one()


def _messages(ticket: Ticket) -> list:
    """The conversation (replies and notes) and the ticket's timeline events, in the
    order they happened: the staff page shows them as one history."""
    messages = db.session.scalars(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket.id)
        .options(
            joinedload(TicketMessage.author_staff),
            joinedload(TicketMessage.author_contact),
            selectinload(TicketMessage.attachments),
        )
        .order_by(TicketMessage.id)
    ).all()
    events = events_for(Subject.TICKET, ticket.id, newest_first=False)
    merged = [(m.created_at, 0, m.id, m) for m in messages] + [(e.created_at, 1, e.id, e) for e in events]
    return [item for *_key, item in sorted(merged, key=lambda row: row[:3])]


def _page_context(
    ticket: Ticket,
    message_form: MessageForm | None = None,
    status_form: StatusForm | None = None,
    priority_form: PriorityForm | None = None,
    assign_form: AssignForm | None = None,
) -> dict:
    now = utcnow()
    statuses = service.statuses()
    status_choices = [(s.id, s.name) for s in statuses]
    if ticket.status_id not in {s.id for s in statuses}:  # a status retired since: still shown
        status_choices.insert(0, (ticket.status_id, _("%(name)s (retired)", name=ticket.status.name)))
    staff = staff_seeing_organization(ticket.organization_id, keep_id=ticket.assignee_id)
    assign_choices = [(0, _("Nobody"))] + [
        (user.id, user.name if user.is_enabled else _("%(name)s (disabled)", name=user.name)) for user in staff
    ]
    if status_form is None:
        status_form = StatusForm(formdata=None, status_id=ticket.status_id)
    if priority_form is None:
        priority_form = PriorityForm(formdata=None, priority=ticket.priority)
    if assign_form is None:
        assign_form = AssignForm(formdata=None, assignee_id=ticket.assignee_id or 0)
    status_form.status_id.choices = status_choices
    assign_form.assignee_id.choices = assign_choices
    return {
        "ticket": ticket,
        "messages": _messages(ticket),
        "sla_name": db.session.scalar(select(Sla.name).where(Sla.id == ticket.sla_id)) if ticket.sla_id else None,
        "response": clocks.first_response_clock(ticket, now),
        "resolution": clocks.resolution_clock(ticket, now),
        "priority_labels": _priority_labels(),
        "message_form": message_form or MessageForm(formdata=None),
        "status_form": status_form,
        "priority_form": priority_form,
        "assign_form": assign_form,
        "oob": False,
    }


@bp.get("/<int:ticket_id>")
def show(ticket_id: int):
    return render_page(SHOW, **_page_context(_load(ticket_id)))


def _post_message(ticket_id: int, internal: bool):
    ticket = staff_ticket(current_user, ticket_id, work=True)
    form = MessageForm()
    if form.validate():
        posted = attempt(
            lambda: service.add_staff_message(
                ticket,
                current_user,
                form.body.data or "",
                internal=internal,
                files=request.files.getlist(form.attachments.name),
            ),
            form,
        )
        if posted.ok:
            flash(
                _("Internal note added. The customer does not see it.")
                if internal
                else _("Reply sent. The customer gets it by email with a link to the ticket."),
                "success",
            )
            return redirect_after_post(url_for(".show", ticket_id=ticket_id, _anchor="timeline"))
    return render_page(SHOW, status=422, **_page_context(_load(ticket_id, fresh=True), message_form=form))


@bp.post("/<int:ticket_id>/reply")
def reply(ticket_id: int):
    """A public reply: on the customer's portal and emailed to the contact."""
    return _post_message(ticket_id, internal=False)


@bp.post("/<int:ticket_id>/note")
def note(ticket_id: int):
    """An internal note: staff only, never shown or mailed to a contact."""
    return _post_message(ticket_id, internal=True)


def _panel(ticket_id: int, status: int = 200, **forms):
    """After a side-panel change: the panel with the header and timeline out of band
    (htmx), or the whole page (a plain POST that failed)."""
    context = _page_context(_load(ticket_id, fresh=True), **forms)
    if not wants_partial():
        return render_page(SHOW, status=status, **context)
    body = render_block(SHOW, "panel", **context)
    if status < 400:
        context["oob"] = True
        body += render_block(SHOW, "header", **context) + render_block(SHOW, "timeline", **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def _changed(ticket_id: int):
    """After a committed side-panel change: the panel (htmx) or the page again (303)."""
    if wants_partial():
        return _panel(ticket_id)
    return redirect_after_post(url_for(".show", ticket_id=ticket_id))


@bp.post("/<int:ticket_id>/status")
def change_status(ticket_id: int):
    ticket = staff_ticket(current_user, ticket_id, work=True)
    form = StatusForm()
    chosen = db.session.get(TicketStatus, form.status_id.data) if form.validate() and form.status_id.data else None

    def change():
        if chosen is None:
            raise InvalidInput({"status_id": _("Choose an active status.")})
        service.change_status(ticket, chosen, current_user)

    if not attempt(change, form).ok:
        return _panel(ticket_id, status=422, status_form=form)
    return _changed(ticket_id)


@bp.post("/<int:ticket_id>/priority")
def change_priority(ticket_id: int):
    ticket = staff_ticket(current_user, ticket_id, work=True)
    form = PriorityForm()
    if not attempt(lambda: service.change_priority(ticket, form.priority.data or "", current_user), form).ok:
        return _panel(ticket_id, status=422, priority_form=form)
    return _changed(ticket_id)


@bp.post("/<int:ticket_id>/assign")
def assign(ticket_id: int):
    ticket = staff_ticket(current_user, ticket_id, work=True)
    form = AssignForm()

    def assign_chosen():
        if not form.validate():
            raise InvalidInput({"assignee_id": _("Choose a staff member from the list.")})
        assignee = db.session.get(StaffUser, form.assignee_id.data) if form.assignee_id.data else None
        if form.assignee_id.data and assignee is None:
            raise InvalidInput({"assignee_id": _("Choose a staff member from the list.")})
        service.assign_ticket(ticket, assignee, current_user, sees=staff_may_see_organization)

    if not attempt(assign_chosen, form, keep_refusal="assignee_id").ok:
        return _panel(ticket_id, status=422, assign_form=form)
    return _changed(ticket_id)


@bp.post("/<int:ticket_id>/copy-link")
def copy_link(ticket_id: int):
    """Copy a link for this contact (the ticket's), shown once; see the proposal's."""
    ticket = staff_ticket(current_user, ticket_id, work=True)
    issued = attempt(lambda: service.issue_ticket_link_to_copy(ticket, current_user)).value
    return copied_link_page(
        issued, _("Ticket %(number)s", number=ticket.number), url_for(".show", ticket_id=ticket_id, _anchor="timeline")
    )


@bp.get("/<int:ticket_id>/attachments/<int:attachment_id>")
def attachment(ticket_id: int, attachment_id: int):
    """A file of the ticket, as a download that the browser never renders in place."""
    staff_ticket(current_user, ticket_id)
    item = db.session.get(TicketAttachment, attachment_id)
    if item is None or item.ticket_id != ticket_id:
        abort(404)
    path = attachments.storage_path(item.storage_key)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=item.content_type, as_attachment=True, download_name=item.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- a ticket taken by phone ------------------------------------------------------------


def _new_page(
    form: TicketForm,
    contact: Contact,
    status: int = 200,
    errors: dict | None = None,
    notice: str | None = None,
    files_lost: bool = False,
):
    context = dict(
        form=form,
        sub_types_endpoint="admin.tickets.sub_issue_types",
        **tickets_service.new_ticket_choices(contact.organization_id, form.issue_type_id.data),
    )
    return render_page(
        NEW,
        block="ticket_form",
        status=status,
        contact=contact,
        errors=errors or {},
        notice=notice,
        files_lost=files_lost,
        **context,
    )


@bp.route("/new/<int:contact_id>", methods=["GET", "POST"])
def new(contact_id: int):
    """A customer calls: staff open the ticket for that contact. It runs on the same
    rules as one opened on the portal (SLA, due times, the contact's receipt)."""
    contact = staff_contact(current_user, contact_id, options=[joinedload(Contact.organization)])
    if request.method == "GET":
        form = TicketForm(formdata=None)
        form.submission_key.data = secrets.token_urlsafe(16)
        return _new_page(form, contact)
    form = TicketForm()
    files = form.attachments.data or []
    lost = any(getattr(f, "filename", "") for f in files)
    if not contact.is_active:
        return _new_page(
            form,
            contact,
            status=409,
            files_lost=lost,
            notice=_("This contact is inactive: open the ticket for an active contact."),
        )
    if request.form.get("refresh"):  # without JavaScript: the sub-types of the chosen type
        return _new_page(form, contact, files_lost=lost)

    def open_for_contact() -> int:
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
            opened_by=current_user,
        )
        db.session.flush()
        return ticket.id

    try:
        opened = attempt(open_for_contact, keep_refusal=True)
    except IntegrityError:  # the same form twice at once: the first copy opened it
        db.session.rollback()
        ticket = service.submitted_ticket(contact_id, form.submission_key.data)
        if ticket is None:
            raise
        return redirect_after_post(url_for(".show", ticket_id=ticket.id))
    except attachments.AttachmentsUnavailable:
        db.session.rollback()  # also removes any file already written
        return _new_page(
            form,
            staff_contact(current_user, contact_id),
            status=503,
            notice=attachments.storage_failed_message(),
            files_lost=lost,
        )
    if opened.error is not None:
        return _new_page(
            form, staff_contact(current_user, contact_id), status=422, errors=opened.error.errors, files_lost=lost
        )
    if opened.refusal is not None:
        return _new_page(
            form, staff_contact(current_user, contact_id), status=409, notice=str(opened.refusal), files_lost=lost
        )
    ticket_id = opened.value
    return redirect_after_post(url_for(".show", ticket_id=ticket_id))


@bp.get("/new/sub-issue-types")
def sub_issue_types():
    """The sub-issue select for the chosen type, swapped in by htmx."""
    form = TicketForm(formdata=None)
    form.issue_type_id.data = optional_id(request.args.get("issue_type_id"))
    context = dict(
        form=form,
        sub_types_endpoint="admin.tickets.sub_issue_types",
        **tickets_service.new_ticket_choices(0, form.issue_type_id.data),
    )
    response = make_response(render_template("tickets/_sub_issue_type.html", errors={}, **context))
    response.vary.add("HX-Request")
    return response
