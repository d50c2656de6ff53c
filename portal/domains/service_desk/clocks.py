"""The SLA clocks of a ticket as the pages tell them: one rule for the portal's ticket
page, the staff ticket page and the staff queue (``templates/tickets/_clock.html``
renders them, for both).

``Clock.state`` is one of:

- ``running``: not done, the due time ahead;
- ``breached``: not done, the due time passed (or the breach job flagged it);
- ``met``: done by the due time;
- ``late``: done after the due time, or flagged as breached before it was done (a
  closed ticket that never had a first response after its due time is ``late`` with
  no ``done_at``);
- ``paused``: the resolution clock while the ticket waits on the customer
  (``done_at`` is since when);
- ``none``: no target (no SLA, or a closed ticket's first response never due).

A finished clock is read from the frozen columns (``tickets.compute_due_times`` never
moves a finished clock's due time or breach flag), so it reads the same ever after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.core.db import utcnow
from portal.domains.service_desk.models import Ticket, TicketState


@dataclass(frozen=True)
class Clock:
    """One SLA clock: its state, the due time and when it was done (see the module)."""

    state: str
    due_at: datetime | None = None
    done_at: datetime | None = None

    @property
    def is_late(self) -> bool:
        return self.state in ("breached", "late")

    @property
    def is_running(self) -> bool:
        return self.state in ("running", "breached")


def _done(due_at: datetime | None, done_at: datetime | None, flagged: bool) -> Clock:
    if flagged or (due_at is not None and done_at is not None and done_at > due_at):
        return Clock("late", due_at, done_at)
    if due_at is None:
        return Clock("none", None, done_at)
    return Clock("met", due_at, done_at)


def _running(due_at: datetime | None, flagged: bool, now: datetime) -> Clock:
    if due_at is None:
        return Clock("none")
    return Clock("breached" if flagged or now > due_at else "running", due_at)


def first_response_clock(ticket: Ticket, now: datetime | None = None) -> Clock:
    """The first-response clock: done by the first public staff reply; waiting on the
    customer does not stop it; closing without a reply ends it (late if it was)."""
    flagged = ticket.first_response_breached_at is not None
    due = ticket.first_response_due_at
    if ticket.first_response_at is not None:
        return _done(due, ticket.first_response_at, flagged)
    if ticket.state == TicketState.CLOSED:
        closed = ticket.closed_at
        if flagged or (due is not None and closed is not None and closed > due):
            return Clock("late", due)
        return Clock("none")
    return _running(due, flagged, now or utcnow())


def resolution_clock(ticket: Ticket, now: datetime | None = None) -> Clock:
    """The resolution clock: stopped while waiting on the customer, done at the close."""
    flagged = ticket.resolution_breached_at is not None
    if ticket.state == TicketState.CLOSED and ticket.closed_at is not None:
        return _done(ticket.resolution_due_at, ticket.closed_at, flagged)
    if ticket.state == TicketState.WAITING:
        return Clock("paused", None, ticket.waiting_since)
    return _running(ticket.resolution_due_at, flagged, now or utcnow())


def next_due(ticket: Ticket, now: datetime | None = None) -> Clock:
    """What the queue's "due" column shows: the first response while it is awaited,
    else the resolution clock."""
    response = first_response_clock(ticket, now)
    if response.is_running:
        return response
    return resolution_clock(ticket, now)
