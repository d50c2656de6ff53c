"""Service tickets: open, reply, note, change status, priority and assignee.

Every function flushes and never commits; the caller (a view, the CLI) commits once,
and the mail these functions queue leaves with that commit.

The clocks (the SLA of seed 003, counted in the service hours of seed 002):

- the SLA is chosen when a ticket opens: the sub-issue type's, else the issue
  type's, else the organization's, else its nearest parent's, else the default SLA;
- first response is due ``first_response_minutes`` business minutes after opening,
  and is met by the first public reply of a staff member;
- resolution is due ``resolution_minutes`` business minutes after opening, plus the
  business minutes the ticket spent waiting on the customer: while it waits,
  ``resolution_due_at`` is empty (the clock is stopped);
- a change of priority recomputes both from the opening time, except a clock that
  has finished (first response given; ticket closed): that one is frozen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization, Site
from portal.domains.identity import links
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk.business_hours import Schedule, add_business_minutes, business_minutes_between
from portal.domains.service_desk.models import (
    PRIORITIES,
    IssueType,
    MessageKind,
    Sla,
    Ticket,
    TicketMessage,
    TicketState,
    TicketStatus,
)
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event

MAX_TITLE = 200
MAX_BODY = 20_000


# --- statuses ---------------------------------------------------------------------


def statuses(state: str | None = None) -> list[TicketStatus]:
    """The active statuses (of one state), in their configured order."""
    stmt = select(TicketStatus).where(TicketStatus.is_active.is_(True))
    if state:
        stmt = stmt.where(TicketStatus.state == state)
    return list(db.session.scalars(stmt.order_by(TicketStatus.position, TicketStatus.id)))


def status_for(state: str, *, resumed: bool = False) -> TicketStatus:
    """The status a ticket takes when it enters ``state`` without a staff member
    choosing one: the first of that state; a resumed or reopened ticket takes the
    last open one ("In progress" rather than "New")."""
    found = statuses(state)
    if not found:
        raise NotAllowed(_("No active status is set up for this step; ask an administrator."))
    return found[-1] if resumed else found[0]


# --- the SLA ------------------------------------------------------------------------


def resolve_sla(
    organization: Organization, issue_type: IssueType | None, sub_issue_type: IssueType | None
) -> Sla | None:
    """The SLA a new ticket runs on (see the module docstring for the order): the
    issue types first, then ``sla.applied_sla`` (the organization, its nearest parent,
    the default), the one implementation of the rest of the rule."""
    from portal.domains.service_desk.sla import applied_sla

    for kind in (sub_issue_type, issue_type):
        if kind is not None and kind.sla_id:
            return db.session.get(Sla, kind.sla_id)
    applied = applied_sla(organization)
    return db.session.get(Sla, applied.sla_id) if applied.sla_id else None


def schedule_of(sla: Sla) -> Schedule:
    """The service hours an SLA counts in (round the clock without a calendar)."""
    calendar = sla.calendar
    if calendar is None or not calendar.hours:  # the admin form refuses an empty week
        return Schedule.always()
    return Schedule.from_rows(
        calendar.timezone,
        [(h.weekday, h.start_minute, h.end_minute) for h in calendar.hours],
        [h.day for h in calendar.holidays],
    )


def compute_due_times(ticket: Ticket, now: datetime | None = None, *, closing: bool = False) -> None:
    """Set the ticket's due times from its SLA, priority and paused time.

    A finished clock is frozen: once the first response is recorded its due time and
    breach flag never change again, and likewise the resolution clock while the ticket
    is closed (a reopened ticket runs it again, from the opening time plus the time it
    stood still). ``closing``: the ticket is being closed now, so its resolution clock
    is settled one last time. Otherwise a later priority change would rewrite history: a breached
    first response would turn into "met" and the report would count it so."""
    now = now or utcnow()
    response_done = ticket.first_response_at is not None
    resolution_done = ticket.state == TicketState.CLOSED and not closing
    if response_done and resolution_done:
        return
    sla = db.session.get(Sla, ticket.sla_id) if ticket.sla_id else None
    target = sla.target_for(ticket.priority) if sla else None
    if target is None:
        if not response_done:
            ticket.first_response_due_at = None
        if not resolution_done:
            ticket.resolution_due_at = None
        return
    schedule = schedule_of(sla)
    if not response_done:
        ticket.first_response_due_at = add_business_minutes(ticket.created_at, target.first_response_minutes, schedule)
        # A due time that moved into the future (a lower priority) is no longer
        # breached; if it passes again, the breach job announces it again.
        if ticket.first_response_due_at > now:
            ticket.first_response_breached_at = None
    if resolution_done:
        return
    if ticket.state == TicketState.WAITING:
        ticket.resolution_due_at = None
    else:
        ticket.resolution_due_at = add_business_minutes(
            ticket.created_at, target.resolution_minutes + (ticket.resolution_paused_minutes or 0), schedule
        )
        if ticket.resolution_due_at > now:
            ticket.resolution_breached_at = None


# --- opening -------------------------------------------------------------------------


def issue_types() -> list[IssueType]:
    """The active top-level issue types, in their configured order."""
    return list(
        db.session.scalars(
            select(IssueType)
            .where(IssueType.parent_id.is_(None), IssueType.is_active.is_(True))
            .order_by(IssueType.position, IssueType.name)
        )
    )


def active_sites(organization_id: int) -> list[Site]:
    """The sites of an organization a new ticket may name."""
    return list(
        db.session.scalars(
            select(Site).where(Site.organization_id == organization_id, Site.is_active.is_(True)).order_by(Site.name)
        )
    )


def ticket_choices(organization_id: int) -> tuple[list[IssueType], list[Site]]:
    """The top-level issue types and the active sites a new ticket may name."""
    return issue_types(), active_sites(organization_id)


def sub_issue_types(parent_id: int | None) -> list[IssueType]:
    if not parent_id:
        return []
    return list(
        db.session.scalars(
            select(IssueType)
            .where(IssueType.parent_id == parent_id, IssueType.is_active.is_(True))
            .order_by(IssueType.position, IssueType.name)
        )
    )


def _check_text(errors: dict[str, str], field: str, value: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        errors[field] = _("Please fill this in.")
    elif len(value) > limit:
        errors[field] = _("Keep this under %(n)d characters.", n=limit)
    return value


def _check_kinds(
    errors: dict[str, str], issue_type_id: int | None, sub_issue_type_id: int | None
) -> tuple[IssueType | None, IssueType | None]:
    kinds = issue_types()
    kind = next((k for k in kinds if k.id == issue_type_id), None)
    if kinds and kind is None:
        errors["issue_type_id"] = _("Choose what the ticket is about.")
        return None, None
    subs = sub_issue_types(kind.id if kind else None)
    sub = next((k for k in subs if k.id == sub_issue_type_id), None)
    if subs and sub is None:
        errors["sub_issue_type_id"] = _("Choose the kind of problem.")
    return kind, sub


def open_ticket(
    contact: Contact,
    *,
    title: str,
    description: str,
    priority: str = "normal",
    issue_type_id: int | None = None,
    sub_issue_type_id: int | None = None,
    site_id: int | None = None,
    files: Sequence = (),
    organization: Organization | None = None,
    submission_key: str | None = None,
    opened_by: StaffUser | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket for ``contact`` (on their organization, or ``organization`` when
    a tree-level contact files it for a sub-organization the caller has checked).

    ``opened_by``: the staff member who took the request (a phone call); the
    timeline says so and the contact is mailed as for any ticket.

    ``submission_key`` is the random key of the form: the same form sent again (a
    double tap without JavaScript, a retried request) returns the ticket it already
    opened. A different ticket sent with an old key (the Back button) is opened
    without one. Two copies racing each other meet the unique constraint: the caller
    rolls back and finds the first with ``submitted_ticket``.

    Raises ``InvalidInput`` with a message per field, before anything is stored.
    """
    from portal.domains.service_desk import attachments

    submission_key = (submission_key or "").strip()[:64] or None
    if submission_key:
        existing = submitted_ticket(contact.id, submission_key)
        if existing is not None:
            if existing.title == (title or "").strip():
                return existing
            submission_key = None
    organization = organization or db.session.get(Organization, contact.organization_id)
    errors: dict[str, str] = {}
    title = _check_text(errors, "title", title, MAX_TITLE)
    description = _check_text(errors, "description", description, MAX_BODY)
    if priority not in PRIORITIES:
        errors["priority"] = _("Choose a priority.")
    kind, sub = _check_kinds(errors, issue_type_id, sub_issue_type_id)
    sites = active_sites(organization.id)
    site = next((s for s in sites if s.id == site_id), None)
    if len(sites) > 1 and site is None:
        errors["site_id"] = _("Choose the site this is about.")
    elif site is None and len(sites) == 1:
        site = sites[0]
    uploads = attachments.validate_uploads(files, errors)
    if errors:
        raise InvalidInput(errors)

    now = now or utcnow()
    status = status_for(TicketState.OPEN)
    sla = resolve_sla(organization, kind, sub)
    ticket = Ticket(
        organization_id=organization.id,
        contact_id=contact.id,
        site_id=site.id if site else None,
        title=title,
        description=description,
        priority=priority,
        issue_type_id=kind.id if kind else None,
        sub_issue_type_id=sub.id if sub else None,
        status_id=status.id,
        state=status.state,
        sla_id=sla.id if sla else None,
        submission_key=submission_key,
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    db.session.flush()
    compute_due_times(ticket, now)
    message = TicketMessage(
        ticket_id=ticket.id, kind=MessageKind.REPLY, body=description, author_contact_id=contact.id, created_at=now
    )
    db.session.add(message)
    db.session.flush()
    attachments.store_uploads(ticket, message, uploads)
    if opened_by is not None:
        _event(
            ticket,
            _("Opened by %(staff)s for %(contact)s", staff=opened_by.name, contact=contact.full_name),
            now,
            staff=opened_by,
        )

    from portal.domains.service_desk import notifications as ticket_mail

    ticket_mail.ticket_opened(ticket, contact, organization, opened_by)
    return ticket


def submitted_ticket(contact_id: int, submission_key: str | None) -> Ticket | None:
    """The ticket a contact already opened with this form key, if any."""
    if not submission_key:
        return None
    return db.session.scalar(
        select(Ticket).where(Ticket.contact_id == contact_id, Ticket.submission_key == submission_key[:64])
    )


# --- the conversation ------------------------------------------------------------------


def _write_message(ticket: Ticket, kind: str, body: str, files: Sequence, now: datetime, **author) -> TicketMessage:
    """Check the text and the files (``InvalidInput`` before anything is stored), then
    add the message and store its attachments."""
    from portal.domains.service_desk import attachments

    errors: dict[str, str] = {}
    body = _check_text(errors, "body", body, MAX_BODY)
    uploads = attachments.validate_uploads(files, errors)
    if errors:
        raise InvalidInput(errors)
    message = TicketMessage(ticket_id=ticket.id, kind=kind, body=body, created_at=now, **author)
    db.session.add(message)
    db.session.flush()
    attachments.store_uploads(ticket, message, uploads)
    return message


def add_contact_reply(
    ticket: Ticket, contact: Contact, body: str, files: Sequence = (), now: datetime | None = None
) -> TicketMessage:
    """A contact's public reply. A ticket waiting on the customer goes back to work;
    a closed one must be reopened first. The assignee (else the account manager) is told."""
    from portal.domains.service_desk import notifications as ticket_mail

    if ticket.state == TicketState.CLOSED:
        raise NotAllowed(_("This ticket is closed. Reopen it to reply."))
    now = now or utcnow()
    message = _write_message(ticket, MessageKind.REPLY, body, files, now, author_contact_id=contact.id)
    if ticket.state == TicketState.WAITING:
        _set_status(ticket, status_for(TicketState.OPEN, resumed=True), now)
    ticket.updated_at = now
    ticket_mail.contact_replied(ticket, contact, message)
    return message


def add_staff_message(
    ticket: Ticket, staff: StaffUser, body: str, *, internal: bool, files: Sequence = (), now: datetime | None = None
) -> TicketMessage:
    """A staff member's public reply (mailed to the contact with a portal link; the
    first one records the first response) or internal note (never shown or mailed
    to a contact)."""
    from portal.domains.service_desk import notifications as ticket_mail

    now = now or utcnow()
    message = _write_message(
        ticket, MessageKind.NOTE if internal else MessageKind.REPLY, body, files, now, author_staff_id=staff.id
    )
    ticket.updated_at = now
    if not internal:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            ticket.first_response_by_id = staff.id
        ticket_mail.staff_replied(ticket, message)
    return message


def _event(
    ticket: Ticket, text: str, now: datetime, staff: StaffUser | None = None, contact: Contact | None = None
) -> None:
    """A line in the staff timeline (contacts see the conversation and the status only)."""
    record_event(Subject.TICKET, ticket.id, TICKET_CHANGE, staff=staff, contact=contact, detail=text, at=now)
    ticket.updated_at = now


def issue_ticket_link_to_copy(ticket: Ticket, staff: StaffUser, now: datetime | None = None):
    """ "Copy a link for this contact": a link to the ticket for its contact that the staff
    member pastes into a mail of their own; on the timeline as issued by them."""
    contact = db.session.get(Contact, ticket.contact_id)
    issued = links.issue_link_to_copy(contact, "ticket", ticket.id, staff)
    _event(
        ticket,
        _("Portal link for %(name)s copied to paste into an email", name=contact.full_name),
        now or utcnow(),
        staff=staff,
    )
    db.session.flush()
    return issued


STOPPED = (TicketState.WAITING, TicketState.CLOSED)
TICKET_CHANGE = "change"  # the timeline kind of a status, priority or assignment change


def _set_status(ticket: Ticket, status: TicketStatus, now: datetime) -> None:
    """Move to ``status`` and keep the clocks right: waiting on the customer or being
    closed stops the resolution clock; going back to work adds the business minutes
    it stood still (so a reopened ticket is not overdue for the time it was closed)."""
    old_state = ticket.state
    ticket.status_id, ticket.state = status.id, status.state
    if old_state == status.state:
        return
    if status.state in STOPPED:
        if old_state not in STOPPED or ticket.waiting_since is None:
            ticket.waiting_since = now
    elif old_state in STOPPED and ticket.waiting_since is not None:
        sla = db.session.get(Sla, ticket.sla_id) if ticket.sla_id else None
        if sla is not None:
            ticket.resolution_paused_minutes = (ticket.resolution_paused_minutes or 0) + max(
                0, business_minutes_between(ticket.waiting_since, now, schedule_of(sla))
            )
        ticket.waiting_since = None
    if status.state == TicketState.CLOSED:
        ticket.closed_at = now
    elif old_state == TicketState.CLOSED:
        ticket.closed_at = None
    compute_due_times(ticket, now, closing=status.state == TicketState.CLOSED and old_state != TicketState.CLOSED)


def change_status(ticket: Ticket, status: TicketStatus, staff: StaffUser, now: datetime | None = None) -> None:
    """A staff member sets a status (any active one)."""
    if not status.is_active:
        raise InvalidInput({"status_id": _("Choose an active status.")})
    if status.id == ticket.status_id:
        return
    now = now or utcnow()
    _set_status(ticket, status, now)
    _event(ticket, _("Status changed to %(status)s", status=status.name), now, staff=staff)


def close_by_contact(ticket: Ticket, contact: Contact, now: datetime | None = None) -> None:
    """The contact closes their ticket; closing a closed ticket changes nothing."""
    if ticket.state == TicketState.CLOSED:
        return
    now = now or utcnow()
    _set_status(ticket, status_for(TicketState.CLOSED), now)
    _event(ticket, _("Closed by %(name)s", name=contact.full_name), now, contact=contact)


def reopen_by_contact(ticket: Ticket, contact: Contact, now: datetime | None = None) -> None:
    """The contact reopens a closed ticket (a second tap changes nothing)."""
    from portal.domains.service_desk import notifications as ticket_mail

    if ticket.state != TicketState.CLOSED:
        return
    now = now or utcnow()
    _set_status(ticket, status_for(TicketState.OPEN, resumed=True), now)
    _event(ticket, _("Reopened by %(name)s", name=contact.full_name), now, contact=contact)
    ticket_mail.contact_reopened(ticket, contact)


def change_priority(ticket: Ticket, priority: str, staff: StaffUser, now: datetime | None = None) -> None:
    """A new priority means new targets, counted again from the opening time."""
    if priority not in PRIORITIES:
        raise InvalidInput({"priority": _("Choose a priority.")})
    if priority == ticket.priority:
        return
    now = now or utcnow()
    ticket.priority = priority
    compute_due_times(ticket, now)
    _event(ticket, _("Priority changed to %(priority)s", priority=priority_label(priority)), now, staff=staff)


def assign_ticket(
    ticket: Ticket,
    assignee: StaffUser | None,
    staff: StaffUser,
    *,
    sees: Callable[[StaffUser, int], bool],
    now: datetime | None = None,
) -> None:
    """Give the ticket to a staff member who may see its organization (or to nobody).

    ``sees`` is the access policy's ``staff_may_see_organization``: the domain does not
    decide who sees what, it only refuses an assignee the policy says cannot."""
    if assignee is not None and (not assignee.is_enabled or not sees(assignee, ticket.organization_id)):
        raise InvalidInput({"assignee_id": _("%(name)s cannot see this customer's tickets.", name=assignee.name)})
    if (assignee.id if assignee else None) == ticket.assignee_id:
        return
    now = now or utcnow()
    ticket.assignee_id = assignee.id if assignee else None
    text = _("Assigned to %(name)s", name=assignee.name) if assignee else _("Unassigned")
    _event(ticket, text, now, staff=staff)
    if assignee is not None and assignee.id != staff.id:
        from portal.domains.service_desk import notifications as ticket_mail

        ticket_mail.ticket_assigned(ticket, assignee, staff)


def priority_label(priority: str) -> str:
    return {"low": _("Low"), "normal": _("Normal"), "high": _("High"), "urgent": _("Urgent")}.get(priority, priority)


def new_ticket_choices(organization_id: int, chosen_type_id: int | None) -> dict:
    """What the new-ticket fields (tickets/_ticket_fields.html) offer, on the portal and
    for staff taking a call: issue types, the sub-types of the chosen one, the sites
    (only when there is a choice), the priorities and the attachment limits."""
    from portal.domains.service_desk.attachments import upload_limits

    kinds, sites = ticket_choices(organization_id)
    chosen = chosen_type_id if any(k.id == chosen_type_id for k in kinds) else None
    return dict(
        kinds=kinds,
        subs=sub_issue_types(chosen),
        sites=sites if len(sites) > 1 else [],
        priorities=[(p, priority_label(p)) for p in PRIORITIES],
        **upload_limits(),
    )
