"""The scheduled SLA work: flag breaches and tell the people who can act on them.

``flag_breaches(now)`` is what ``flask jobs run-due`` runs (cron, a systemd timer or
any scheduler, as often as you like). It is idempotent and safe to run twice at once:
a ticket is flagged by a conditional UPDATE (``... WHERE *_breached_at IS NULL``) and
only the run whose UPDATE changed the row queues the mail, so a breach is announced
once. Unlike the request-side services it commits, once per batch, so that a long run
does not hold locks on thousands of tickets and a crash loses at most one batch (whose
tickets stay unflagged and are picked up by the next run).

What counts as a breach:

- first response: no public staff reply yet, ``first_response_due_at`` passed, the
  ticket not closed (waiting on the customer does not stop this clock);
- resolution: the ticket open (not waiting, not closed) and ``resolution_due_at``
  passed (while it waits the due time is empty anyway).

Each breach is mailed once to the assignee and to the organization's account manager
(once when they are the same person, never to a disabled account). A breach nobody
can be told about is still flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.identity.staff import mail_for_staff
from portal.domains.service_desk.models import Ticket, TicketState
from portal.jobs import periodic
from portal.mail.outbox import queue_mail

BATCH = 200

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"


@dataclass
class BreachReport:
    """What one run did: tickets newly flagged per clock, and mail queued."""

    first_response: int = 0
    resolution: int = 0
    mails: int = 0

    def __str__(self) -> str:
        return f"first_response_breaches={self.first_response} resolution_breaches={self.resolution} mails={self.mails}"


def _conditions(kind: str, now: datetime) -> list:
    if kind == FIRST_RESPONSE:
        return [
            Ticket.first_response_breached_at.is_(None),
            Ticket.first_response_at.is_(None),
            Ticket.first_response_due_at <= now,
            Ticket.state != TicketState.CLOSED,
        ]
    return [Ticket.resolution_breached_at.is_(None), Ticket.state == TicketState.OPEN, Ticket.resolution_due_at <= now]


def _flag_column(kind: str):
    return Ticket.first_response_breached_at if kind == FIRST_RESPONSE else Ticket.resolution_breached_at


def _flag_batch(kind: str, now: datetime, batch: int) -> list[int]:
    """Flag up to ``batch`` breached tickets; the ids this run flagged (and must announce).

    The candidate SELECT may race with another run; the UPDATE repeats the conditions,
    so on PostgreSQL the second UPDATE waits for the first run's row locks, re-reads the
    rows and skips them, and on SQLite writers are serialised anyway. RETURNING gives
    exactly the rows this statement changed.
    """
    candidates = list(
        db.session.scalars(select(Ticket.id).where(*_conditions(kind, now)).order_by(Ticket.id).limit(batch))
    )
    if not candidates:
        return []
    flagged = db.session.scalars(
        update(Ticket)
        .where(Ticket.id.in_(candidates), *_conditions(kind, now))
        .values({_flag_column(kind): now})
        .returning(Ticket.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(flagged)


def _recipients(ticket: Ticket) -> list[StaffUser]:
    people = [ticket.assignee, ticket.organization.account_manager]
    seen: set[int] = set()
    found = []
    for user in people:
        if user is not None and user.is_enabled and user.id not in seen:
            seen.add(user.id)
            found.append(user)
    return found


def _announce(kind: str, ticket_ids: list[int]) -> int:
    """Queue one mail per recipient of each newly flagged ticket; the number queued."""
    if not ticket_ids:
        return 0
    loaded = db.session.scalars(
        select(Ticket)
        .where(Ticket.id.in_(ticket_ids))
        .order_by(Ticket.id)
        .options(joinedload(Ticket.assignee), joinedload(Ticket.organization).joinedload(Organization.account_manager))
    )
    count = 0
    for ticket in loaded:
        due_at = ticket.first_response_due_at if kind == FIRST_RESPONSE else ticket.resolution_due_at
        what = _l("first response") if kind == FIRST_RESPONSE else _l("resolution")
        for user in _recipients(ticket):
            queue_mail(
                user.email,
                _l(
                    "SLA breached on %(number)s (%(what)s): %(title)s",
                    number=ticket.number,
                    what=what,
                    title=ticket.title,
                ),
                "ticket_breached",
                kind="ticket_breached",
                **mail_for_staff(user),
                ticket=ticket,
                user=user,
                what=what,
                first_response=kind == FIRST_RESPONSE,
                due_at=due_at,
                organization=ticket.organization,
                url=external_url("admin.tickets.show", ticket_id=ticket.id),
            )
            count += 1
    return count


def flag_breaches(now: datetime | None = None, batch: int = BATCH) -> BreachReport:
    """Flag every first-response and resolution breach due by ``now`` (naive UTC) and
    queue its mail, committing per batch (see the module docstring)."""
    now = now or utcnow()
    report = BreachReport()
    for kind in (FIRST_RESPONSE, RESOLUTION):
        while True:
            flagged = _flag_batch(kind, now, batch)
            report.mails += _announce(kind, flagged)
            db.session.commit()
            if kind == FIRST_RESPONSE:
                report.first_response += len(flagged)
            else:
                report.resolution += len(flagged)
            if not flagged:
                break
    return report


# --- on the worker's schedule (``flask worker``; ``flask jobs run-due`` still works from cron)


@periodic("service_desk.flag_breaches", every=timedelta(minutes=1))
def flag_breaches_job() -> None:
    flag_breaches()


@periodic("service_desk.sweep_attachments", every=timedelta(hours=1))
def sweep_attachments_job() -> None:
    from portal.domains.service_desk.attachments import sweep_orphans

    sweep_orphans()
