"""The SLA breach job: what breaches, who hears of it, and that each breach is flagged
and mailed once, however often (and however concurrently) the job runs.

Tickets open on Monday 2026-03-09 09:00 UTC on an SLA of 60 minutes to first response
and 480 to resolution (Monday to Friday 9-17 UTC): due 10:00 and 17:00 that day.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk import tickets
from portal.domains.service_desk.jobs import flag_breaches
from portal.domains.service_desk.models import Ticket, TicketStatus
from tests.factories import outbox, stored

OPENED = datetime(2026, 3, 9, 9, 0)
FIRST_DUE = datetime(2026, 3, 9, 10, 0)
RESOLUTION_DUE = datetime(2026, 3, 9, 17, 0)
EVENING = datetime(2026, 3, 9, 20, 0)


def _ticket(make, manager=None, assignee=None, organization=None, **kw) -> Ticket:
    """An open ticket on the test SLA, with an account manager and assignee as given."""
    organization = organization or make.organization_with(
        sla_id=make.sla(targets={"normal": (60, 480)}).id, account_manager_id=manager.id if manager else None
    )
    ticket = make.ticket(make.contact(organization), now=OPENED, **kw)
    if assignee is not None:
        _set(make.app, ticket.id, assignee_id=assignee.id)
    return ticket


def _set(app, ticket_id: int, **columns) -> None:
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        for key, value in columns.items():
            setattr(ticket, key, value)
        db.session.commit()


def _breach_mail(app) -> list[dict]:
    return [m for m in outbox(app) if m["kind"] == "ticket_breached"]


def _run(app, now=EVENING, **kw):
    with app.app_context():
        report = flag_breaches(now, **kw)
        db.session.remove()
        return report


def _status_change(app, ticket_id: int, status_name: str, staff, now) -> None:
    with app.app_context():
        status = db.session.scalar(select(TicketStatus).where(TicketStatus.name == status_name))
        tickets.change_status(db.session.get(Ticket, ticket_id), status, db.session.get(StaffUser, staff.id), now=now)
        db.session.commit()


def test_running_twice_flags_and_mails_each_breach_once(app, make):
    manager, assignee = make.staff(role="sales", name="Mona Manager"), make.staff(role="admin", name="Abe Assignee")
    ticket = _ticket(make, manager=manager, assignee=assignee)

    first = _run(app)
    assert (first.first_response, first.resolution, first.mails) == (1, 1, 4)
    again = _run(app)
    assert (again.first_response, again.resolution, again.mails) == (0, 0, 0)

    row = stored(app, Ticket, ticket.id)
    assert (row.first_response_breached_at, row.resolution_breached_at) == (EVENING, EVENING)
    mails = _breach_mail(app)
    assert sorted((m["to_addr"], "first response" in m["subject"]) for m in mails) == sorted(
        [(manager.email, True), (assignee.email, True), (manager.email, False), (assignee.email, False)]
    )
    body = next(m["body_text"] for m in mails if "first response" in m["subject"])
    assert "had no first response, which was due" in body
    assert ticket.number in body and f"/admin/tickets/{ticket.id}" in body


def test_nothing_breaches_before_its_due_time_and_a_due_time_reached_breaches(app, make):
    ticket = _ticket(make, manager=make.staff())
    assert _run(app, now=datetime(2026, 3, 9, 9, 59)).first_response == 0
    report = _run(app, now=FIRST_DUE)
    assert (report.first_response, report.resolution) == (1, 0)
    assert stored(app, Ticket, ticket.id).resolution_breached_at is None


def test_an_assignee_who_is_also_the_account_manager_gets_one_mail_per_breach(app, make):
    both = make.staff(role="sales")
    _ticket(make, manager=both, assignee=both)
    assert _run(app, now=FIRST_DUE).mails == 1
    assert [m["to_addr"] for m in _breach_mail(app)] == [both.email]


def test_a_breach_with_nobody_to_tell_is_still_flagged(app, make):
    gone = make.staff(role="sales")
    with app.app_context():
        db.session.get(StaffUser, gone.id).is_enabled = False
        db.session.commit()
    unmanaged = _ticket(make)
    disabled_manager = _ticket(make, manager=gone)
    report = _run(app, now=FIRST_DUE)
    assert (report.first_response, report.mails) == (2, 0)
    assert _breach_mail(app) == []
    for ticket in (unmanaged, disabled_manager):
        assert stored(app, Ticket, ticket.id).first_response_breached_at == FIRST_DUE


def test_a_ticket_answered_in_time_breaches_resolution_only(app, make):
    agent = make.staff(role="admin")
    ticket = _ticket(make, manager=agent)
    with app.app_context():
        tickets.add_staff_message(
            db.session.get(Ticket, ticket.id),
            db.session.get(StaffUser, agent.id),
            "On our way.",
            internal=False,
            now=datetime(2026, 3, 9, 9, 30),
        )
        db.session.commit()
    report = _run(app)
    assert (report.first_response, report.resolution) == (0, 1)


def test_a_waiting_ticket_does_not_breach_resolution(app, make):
    agent = make.staff(role="admin")
    ticket = _ticket(make, manager=agent)
    _status_change(app, ticket.id, "Waiting on customer", agent, now=datetime(2026, 3, 9, 9, 30))
    report = _run(app, now=datetime(2026, 3, 20, 12, 0))
    assert report.resolution == 0
    assert report.first_response == 1  # nobody answered: that clock does not stop
    assert stored(app, Ticket, ticket.id).resolution_breached_at is None


def test_a_closed_ticket_never_breaches(app, make):
    agent = make.staff(role="admin")
    ticket = _ticket(make, manager=agent)
    with app.app_context():
        row = db.session.get(Ticket, ticket.id)
        tickets.close_by_contact(row, db.session.get(Contact, row.contact_id), now=datetime(2026, 3, 9, 9, 5))
        db.session.commit()
    report = _run(app, now=datetime(2027, 1, 1))
    assert (report.first_response, report.resolution, report.mails) == (0, 0, 0)
    row = stored(app, Ticket, ticket.id)
    assert row.first_response_breached_at is None and row.resolution_breached_at is None


def test_many_breaches_are_flagged_across_batches(app, make):
    organization = make.organization_with(sla_id=make.sla(targets={"normal": (60, 480)}).id)
    contact = make.contact(organization)
    for n in range(5):
        make.ticket(contact, title=f"Broken sprinkler {n}", now=OPENED)
    report = _run(app, batch=2)
    assert (report.first_response, report.resolution) == (5, 5)


def test_two_runs_at_the_same_time_announce_each_breach_once(app, make):
    manager = make.staff(role="sales")
    organization = make.organization_with(
        sla_id=make.sla(targets={"normal": (60, 480)}).id, account_manager_id=manager.id
    )
    contact = make.contact(organization)
    for n in range(6):
        make.ticket(contact, title=f"Broken sprinkler {n}", now=OPENED)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(index):
        try:
            barrier.wait(timeout=10)
            results[index] = _run(app, batch=2)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(isinstance(r, BaseException) for r in results), results
    assert sum(r.first_response for r in results) == 6
    assert sum(r.resolution for r in results) == 6
    assert sum(r.mails for r in results) == 12
    assert len(_breach_mail(app)) == 12
