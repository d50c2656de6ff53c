"""Ticket services without HTTP: which SLA a ticket runs on, its due times at opening,
the clocks through waiting and priority changes, first response, contact replies,
close and reopen, and who may be assigned.

Dates: 2026-03-07 is a Saturday, 2026-03-09 a Monday; SLAs made by ``make.sla`` count
Monday to Friday 9-17 UTC unless told otherwise.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from portal.access.staff import staff_may_see_organization
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk import tickets
from portal.domains.service_desk.models import (
    IssueType,
    Sla,
    Ticket,
    TicketState,
    TicketStatus,
)
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import events_for
from tests.factories import add_to_team, outbox

SATURDAY_2300 = datetime(2026, 3, 7, 23, 0)
MONDAY_0900 = datetime(2026, 3, 9, 9, 0)


def _at(hour: int, minute: int = 0, day: int = 9) -> datetime:
    """A time in the week of Monday 2026-03-09 (day 13 is the Friday)."""
    return datetime(2026, 3, day, hour, minute)


def _org_on(make, sla=None, **columns) -> Organization:
    return make.organization_with(sla_id=sla.id if sla else None, **columns)


def _open(make, sla=None, now=MONDAY_0900, priority="normal", organization=None, **kw) -> Ticket:
    organization = organization or _org_on(make, sla)
    return make.ticket(make.contact(organization), now=now, priority=priority, **kw)


def _get(ticket_id: int) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def _status(name: str) -> TicketStatus:
    return db.session.scalar(select(TicketStatus).where(TicketStatus.name == name))


def _staff(user) -> StaffUser:
    return db.session.get(StaffUser, user.id)


def _events(ticket_id: int) -> list[str]:
    return [entry.detail for entry in events_for(Subject.TICKET, ticket_id, newest_first=False)]


# --- which SLA ------------------------------------------------------------------------


def test_the_sla_comes_from_the_sub_type_then_the_type_then_the_organization_then_its_parent_then_the_default(
    app, make, ctx
):
    by_sub, by_type, by_org, by_parent = (make.sla(name) for name in ("Sub", "Type", "Org", "Parent"))
    parent = _org_on(make, by_parent)
    organization = _org_on(make, by_org, parent_id=parent.id)
    plain_child = _org_on(make, None, parent_id=parent.id)
    grandchild = _org_on(make, None, parent_id=plain_child.id)
    kind = make.issue_type("Irrigation", sla_id=by_type.id)
    sub = make.issue_type("Leak", parent=kind, sla_id=by_sub.id)
    plain_kind = make.issue_type("Lawn")
    plain_sub = make.issue_type("Damage", parent=plain_kind)

    org, child, grand = (db.session.get(Organization, o.id) for o in (organization, plain_child, grandchild))
    kind, sub, plain_kind, plain_sub = (db.session.get(IssueType, k.id) for k in (kind, sub, plain_kind, plain_sub))
    assert tickets.resolve_sla(org, kind, sub).name == "Sub"
    assert tickets.resolve_sla(org, kind, None).name == "Type"
    assert tickets.resolve_sla(org, kind, plain_sub).name == "Type"  # a sub-type without its own SLA
    assert tickets.resolve_sla(org, plain_kind, plain_sub).name == "Org"
    assert tickets.resolve_sla(child, None, None).name == "Parent"
    assert tickets.resolve_sla(grand, None, None).name == "Parent"  # the nearest parent that has one
    stranger = db.session.get(Organization, make.organization().id)
    assert tickets.resolve_sla(stranger, plain_kind, None).name == "Standard"  # the default of the migration


def test_opening_a_ticket_records_the_sla_it_runs_on(app, make, ctx):
    sla = make.sla("Gold")
    kind = make.issue_type("Irrigation")
    sub = make.issue_type("Leak", parent=kind, sla_id=sla.id)
    ticket = _open(make, issue_type_id=kind.id, sub_issue_type_id=sub.id)
    assert _get(ticket.id).sla_id == sla.id


# --- due times at opening -------------------------------------------------------------


def test_opened_saturday_2300_with_a_one_hour_target_first_response_is_due_monday_1000(app, make, ctx):
    sla = make.sla(targets={"normal": (60, 120)})
    ticket = _get(_open(make, sla, now=SATURDAY_2300).id)
    assert ticket.created_at == SATURDAY_2300
    assert ticket.first_response_due_at == _at(10)
    assert ticket.resolution_due_at == _at(11)


def test_a_holiday_monday_moves_the_due_time_to_tuesday(app, make, ctx):
    sla = make.sla(holidays=[date(2026, 3, 9)], targets={"normal": (60, 120)})
    ticket = _get(_open(make, sla, now=SATURDAY_2300).id)
    assert (ticket.first_response_due_at, ticket.resolution_due_at) == (_at(10, day=10), _at(11, day=10))


def test_due_times_count_in_the_calendars_time_zone(app, make, ctx):
    # 9-17 in New York is 13:00-21:00 UTC in March after the DST change of 2026-03-08.
    sla = make.sla(timezone="America/New_York", targets={"normal": (60, 480)})
    ticket = _get(_open(make, sla, now=SATURDAY_2300).id)
    assert ticket.first_response_due_at == _at(14)
    assert ticket.resolution_due_at == _at(21)


def test_a_priority_without_a_target_has_no_due_times(app, make, ctx):
    sla = make.sla(targets={"urgent": (15, 60)})
    ticket = _get(_open(make, sla, priority="low").id)
    assert ticket.first_response_due_at is None and ticket.resolution_due_at is None


# --- the clocks -----------------------------------------------------------------------


def test_waiting_stops_the_resolution_clock_and_resuming_extends_it_by_the_business_minutes_waited(app, make, ctx):
    sla = make.sla(targets={"normal": (60, 480)})
    agent = make.staff(role="admin")
    opened = _open(make, sla)
    ticket = _get(opened.id)
    assert ticket.resolution_due_at == _at(17)

    tickets.change_status(ticket, _status("Waiting on customer"), _staff(agent), now=_at(10))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.state, ticket.resolution_due_at, ticket.waiting_since) == (TicketState.WAITING, None, _at(10))
    assert ticket.first_response_due_at == _at(10)  # the first-response clock does not stop

    contact = db.session.get(Contact, ticket.contact_id)
    tickets.add_contact_reply(ticket, contact, "Here are the photos.", now=_at(12))
    db.session.commit()
    ticket = _get(opened.id)
    assert ticket.state == TicketState.OPEN
    assert ticket.resolution_paused_minutes == 120
    assert ticket.waiting_since is None
    assert ticket.resolution_due_at == _at(11, day=10)  # 17:00 plus two business hours


def test_time_waiting_over_a_weekend_only_counts_its_business_minutes(app, make, ctx):
    sla = make.sla(targets={"normal": (60, 480)})
    agent = make.staff(role="admin")
    opened = _open(make, sla)
    ticket = _get(opened.id)
    tickets.change_status(ticket, _status("Waiting on customer"), _staff(agent), now=_at(16, day=13))  # Friday
    tickets.change_status(ticket, _status("In progress"), _staff(agent), now=_at(10, day=16))  # next Monday
    db.session.commit()
    ticket = _get(opened.id)
    assert ticket.resolution_paused_minutes == 120
    assert ticket.resolution_due_at == _at(11, day=10)
    assert _events(opened.id) == ["Status changed to Waiting on customer", "Status changed to In progress"]


def test_a_priority_change_recomputes_both_due_times_from_the_opening_time(app, make, ctx):
    sla = make.sla(targets={"normal": (240, 960), "urgent": (15, 60)})
    agent = make.staff(role="admin")
    opened = _open(make, sla)
    tickets.change_priority(_get(opened.id), "urgent", _staff(agent), now=_at(14))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.priority, ticket.first_response_due_at, ticket.resolution_due_at) == ("urgent", _at(9, 15), _at(10))
    assert _events(opened.id) == ["Priority changed to Urgent"]

    tickets.change_priority(ticket, "urgent", _staff(agent), now=_at(15))  # the same again: nothing happens
    with pytest.raises(InvalidInput):
        tickets.change_priority(ticket, "whenever", _staff(agent))
    db.session.commit()
    assert _events(opened.id) == ["Priority changed to Urgent"]


def test_a_priority_change_while_waiting_keeps_the_resolution_clock_stopped(app, make, ctx):
    sla = make.sla(targets={"normal": (240, 960), "urgent": (15, 60)})
    agent = make.staff(role="admin")
    opened = _open(make, sla)
    ticket = _get(opened.id)
    tickets.change_status(ticket, _status("Waiting on customer"), _staff(agent), now=_at(10))
    tickets.change_priority(ticket, "urgent", _staff(agent), now=_at(11))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.first_response_due_at, ticket.resolution_due_at) == (_at(9, 15), None)


# --- the conversation -------------------------------------------------------------------


def test_the_first_public_staff_reply_records_the_first_response_and_a_note_does_not(app, make, ctx):
    sla = make.sla()
    first, second = make.staff(role="admin", name="First"), make.staff(role="admin", name="Second")
    opened = _open(make, sla)
    mails_before = len(outbox(app))

    tickets.add_staff_message(
        _get(opened.id), _staff(first), "Internal: call the plumber", internal=True, now=_at(9, 30)
    )
    db.session.commit()
    ticket = _get(opened.id)
    assert ticket.first_response_at is None and ticket.first_response_by_id is None
    assert len(outbox(app)) == mails_before  # a note is never mailed

    tickets.add_staff_message(ticket, _staff(second), "We are on it.", internal=False, now=_at(9, 45))
    tickets.add_staff_message(_get(opened.id), _staff(first), "Booked for Tuesday.", internal=False, now=_at(11))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.first_response_at, ticket.first_response_by_id) == (_at(9, 45), second.id)
    assert [m["kind"] for m in outbox(app)[mails_before:]] == ["ticket_reply", "ticket_reply"]


def test_a_contact_reply_on_an_open_ticket_keeps_its_status_and_on_a_closed_one_is_refused(app, make, ctx):
    opened = _open(make, make.sla())
    ticket = _get(opened.id)
    contact = db.session.get(Contact, ticket.contact_id)
    tickets.add_contact_reply(ticket, contact, "Any news?", now=_at(10))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.status_id, ticket.updated_at) == (_status("New").id, _at(10))

    tickets.close_by_contact(ticket, contact, now=_at(11))
    db.session.commit()
    with pytest.raises(NotAllowed):
        tickets.add_contact_reply(_get(opened.id), contact, "One more thing")


def test_a_contact_reply_on_a_waiting_ticket_puts_it_back_in_progress(app, make, ctx):
    agent = make.staff(role="admin")
    opened = _open(make, make.sla())
    ticket = _get(opened.id)
    tickets.change_status(ticket, _status("Waiting on customer"), _staff(agent), now=_at(10))
    tickets.add_contact_reply(ticket, db.session.get(Contact, ticket.contact_id), "Done.", now=_at(11))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.state, ticket.status_id) == (TicketState.OPEN, _status("In progress").id)


def test_closing_twice_and_reopening_twice_change_nothing_the_second_time(app, make, ctx):
    watcher = make.staff(role="admin")
    organization = make.organization_with(sla_id=make.sla().id, account_manager_id=watcher.id)
    opened = _open(make, organization=organization)
    ticket = _get(opened.id)
    contact = db.session.get(Contact, ticket.contact_id)

    tickets.close_by_contact(ticket, contact, now=_at(10))
    tickets.close_by_contact(ticket, contact, now=_at(10, 5))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.state, ticket.closed_at, ticket.status_id) == (TicketState.CLOSED, _at(10), _status("Resolved").id)
    mails_before = len(outbox(app))

    tickets.reopen_by_contact(ticket, contact, now=_at(11))
    tickets.reopen_by_contact(ticket, contact, now=_at(11, 5))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.state, ticket.closed_at, ticket.status_id) == (TicketState.OPEN, None, _status("In progress").id)
    assert len(_events(opened.id)) == 2
    assert [m["kind"] for m in outbox(app)[mails_before:]] == ["ticket_reopened"]


def test_time_closed_does_not_count_against_a_reopened_ticket(app, make, ctx):
    sla = make.sla(targets={"normal": (60, 480)})
    opened = _open(make, sla)  # Monday 09:00, resolution due 17:00
    ticket = _get(opened.id)
    contact = db.session.get(Contact, ticket.contact_id)
    tickets.close_by_contact(ticket, contact, now=_at(10))
    db.session.commit()
    tickets.reopen_by_contact(_get(opened.id), contact, now=_at(10, day=11))  # Wednesday 10:00
    db.session.commit()
    ticket = _get(opened.id)
    # closed Monday 10:00 to Wednesday 10:00: 16 business hours stood still
    assert ticket.resolution_paused_minutes == 16 * 60
    assert ticket.resolution_due_at == _at(17, day=11)


def test_a_breach_flag_is_cleared_when_the_due_time_moves_into_the_future(app, make, ctx):
    sla = make.sla(targets={"urgent": (60, 120), "low": (60 * 8, 60 * 40)})
    agent = make.staff(role="admin")
    opened = _open(make, sla, priority="urgent")
    ticket = _get(opened.id)
    ticket.first_response_breached_at = ticket.resolution_breached_at = _at(12)
    db.session.commit()
    tickets.change_priority(_get(opened.id), "low", _staff(agent), now=_at(12))
    db.session.commit()
    ticket = _get(opened.id)
    assert ticket.first_response_due_at == _at(17)
    assert (ticket.first_response_breached_at, ticket.resolution_breached_at) == (None, None)


def test_a_breached_first_response_stays_breached_after_a_priority_change(app, make, ctx):
    from datetime import date as _date

    from portal.domains.service_desk.jobs import flag_breaches
    from portal.domains.service_desk.reports import ReportFilters, first_response_report

    sla = make.sla(targets={"urgent": (60, 120), "low": (60 * 8, 60 * 40)})
    agent = make.staff(role="admin")
    opened = _open(make, sla, priority="urgent")  # Monday 09:00, first response due 10:00
    assert flag_breaches(now=_at(10, 30)).first_response == 1
    tickets.add_staff_message(_get(opened.id), _staff(agent), "Sorry, on it.", internal=False, now=_at(11))
    db.session.commit()
    tickets.change_priority(_get(opened.id), "low", _staff(agent), now=_at(12))  # low: due 17:00
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.first_response_due_at, ticket.first_response_breached_at) == (_at(10), _at(10, 30))
    report = first_response_report(ReportFilters(_date(2026, 3, 1), _date(2026, 3, 1)), now=_at(12))
    assert (report.overall.met, report.overall.missed) == (0, 1)


def test_a_closed_tickets_resolution_clock_is_frozen(app, make, ctx):
    sla = make.sla(targets={"urgent": (60, 120), "low": (60 * 8, 60 * 40)})
    agent = make.staff(role="admin")
    opened = _open(make, sla, priority="urgent")  # resolution due 11:00
    ticket = _get(opened.id)
    tickets.change_status(ticket, _status("Resolved"), _staff(agent), now=_at(12))
    ticket.resolution_breached_at = _at(11, 30)
    db.session.commit()
    tickets.change_priority(_get(opened.id), "low", _staff(agent), now=_at(13))
    db.session.commit()
    ticket = _get(opened.id)
    assert (ticket.resolution_due_at, ticket.resolution_breached_at) == (_at(11), _at(11, 30))


# --- assignment -----------------------------------------------------------------------


def test_assignment_refuses_staff_who_cannot_see_the_customer(app, make, ctx):
    boss = make.staff(role="manager")
    on_team, elsewhere = make.staff(role="technician"), make.staff(role="technician")
    admin = make.staff(role="admin")
    opened = _open(make, make.sla())
    add_to_team(app, opened.organization_id, on_team)
    ticket = _get(opened.id)

    with pytest.raises(InvalidInput) as refused:
        tickets.assign_ticket(ticket, _staff(elsewhere), _staff(boss), sees=staff_may_see_organization)
    assert "cannot see this customer" in refused.value.errors["assignee_id"]
    assert _get(opened.id).assignee_id is None

    tickets.assign_ticket(_get(opened.id), _staff(on_team), _staff(boss), sees=staff_may_see_organization, now=_at(10))
    db.session.commit()
    assert _get(opened.id).assignee_id == on_team.id
    assert outbox(app)[-1]["kind"] == "ticket_assigned"

    tickets.assign_ticket(
        _get(opened.id), _staff(admin), _staff(boss), sees=staff_may_see_organization, now=_at(11)
    )  # admins see everyone
    tickets.assign_ticket(_get(opened.id), None, _staff(boss), sees=staff_may_see_organization, now=_at(12))
    db.session.commit()
    assert _get(opened.id).assignee_id is None
    assert _events(opened.id)[-1] == "Unassigned"


def test_assignment_refuses_a_disabled_staff_member(app, make, ctx):
    boss = make.staff(role="manager")
    gone = make.staff(role="admin")
    user = db.session.get(StaffUser, gone.id)
    user.is_enabled = False
    db.session.commit()
    opened = _open(make, make.sla())
    with pytest.raises(InvalidInput):
        tickets.assign_ticket(_get(opened.id), _staff(gone), _staff(boss), sees=staff_may_see_organization)


def test_the_default_sla_is_used_when_nothing_else_is_set(app, make, ctx):
    ticket = _get(_open(make).id)
    assert db.session.get(Sla, ticket.sla_id).is_default
    # Standard, normal priority: 4 business hours to first response, 24 to resolution.
    assert ticket.first_response_due_at == _at(13)
    assert ticket.resolution_due_at == _at(17, day=11)
