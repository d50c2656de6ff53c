"""The SLA clocks as every page reads them (one ``Clock``, one rule, one macro)."""

from __future__ import annotations

from datetime import datetime

from flask import render_template_string

from portal.domains.service_desk.clocks import Clock, first_response_clock, next_due, resolution_clock
from portal.domains.service_desk.models import Ticket, TicketState

DUE = datetime(2026, 3, 9, 10, 0)


def _ticket(**columns) -> Ticket:
    values = dict(
        state=TicketState.OPEN,
        first_response_due_at=DUE,
        resolution_due_at=datetime(2026, 3, 9, 17, 0),
        first_response_at=None,
        first_response_breached_at=None,
        resolution_breached_at=None,
        closed_at=None,
        waiting_since=None,
    )
    values.update(columns)
    return Ticket(**values)


def test_first_response_states():
    assert first_response_clock(_ticket(), now=datetime(2026, 3, 9, 9, 30)).state == "running"
    assert first_response_clock(_ticket(), now=datetime(2026, 3, 9, 10, 30)).state == "breached"
    answered = _ticket(first_response_at=datetime(2026, 3, 9, 9, 45))
    assert first_response_clock(answered).state == "met"
    late = _ticket(first_response_at=datetime(2026, 3, 9, 11, 0))
    assert first_response_clock(late) == Clock("late", DUE, datetime(2026, 3, 9, 11, 0))
    # flagged by the breach job: late, whatever a later due time says
    flagged = _ticket(first_response_at=datetime(2026, 3, 9, 9, 0), first_response_breached_at=DUE)
    assert first_response_clock(flagged).state == "late"
    never = _ticket(state=TicketState.CLOSED, closed_at=datetime(2026, 3, 9, 12, 0))
    assert first_response_clock(never) == Clock("late", DUE)


def test_resolution_states_and_the_queue_column():
    waiting = _ticket(state=TicketState.WAITING, resolution_due_at=None, waiting_since=DUE)
    assert resolution_clock(waiting) == Clock("paused", None, DUE)
    closed = _ticket(state=TicketState.CLOSED, closed_at=datetime(2026, 3, 9, 16, 0))
    assert resolution_clock(closed).state == "met"
    answered = _ticket(first_response_at=datetime(2026, 3, 9, 9, 45))
    assert next_due(answered, now=datetime(2026, 3, 9, 12, 0)).due_at == datetime(2026, 3, 9, 17, 0)
    assert next_due(_ticket(), now=datetime(2026, 3, 9, 9, 0)).due_at == DUE


def test_one_macro_renders_a_clock_for_the_portal_and_the_staff(app):
    template = '{% from "tickets/_clock.html" import clock %}{{ clock(c, "First response") }}'
    with app.test_request_context():
        late = render_template_string(template, c=Clock("late", DUE, datetime(2026, 3, 9, 11, 0)))
        running = render_template_string(template, c=Clock("running", DUE))
    assert 'class="clock late overdue"' in late and "(it was due by" in late
    assert 'class="clock running"' in running and "First response by" in running
