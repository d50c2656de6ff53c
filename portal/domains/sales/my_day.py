"""My day: what a staff member's admin home shows, in a fixed number of statements.

- follow-ups due today and overdue (``next_contact_on`` / ``next_contact_by_id``;
  SALES-RULES' ``followups.follow_ups_for`` when it is there, else the same query);
- my open opportunities by stage (count and amount per currency, never summed
  across currencies);
- proposals signed by the customer and waiting to be marked won (mine; managers and
  admins: all);
- my tickets near breach (the queue's own read model and *due soon* filter);
- for managers and admins: open opportunities without a rep (and those the
  assignment rules flagged, when SALES-RULES is there).

"Today" is the staff member's own local date (their time zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import joinedload

from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal, ProposalStatus
from portal.domains.sales.assignment import unassigned_flagged
from portal.domains.sales.followups import FollowUp, follow_ups_for
from portal.domains.sales.models import Opportunity, Outcome, Stage
from portal.domains.service_desk import queue

LIMIT = 20


@dataclass(frozen=True)
class StageSummary:
    stage: str
    currency: str
    count: int
    amount: Decimal


@dataclass
class MyDay:
    today: date
    follow_ups: list
    stages: list[StageSummary]
    signed_waiting: list[Proposal]
    tickets: list
    unassigned: list[Opportunity]
    flagged: list

    @property
    def overdue(self) -> list:
        return [f for f in self.follow_ups if f.is_overdue]

    @property
    def due_today(self) -> list:
        return [f for f in self.follow_ups if not f.is_overdue]


def local_today(staff: StaffUser, now: datetime) -> date:
    try:
        zone = ZoneInfo(staff.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.replace(tzinfo=UTC).astimezone(zone).date()


def follow_ups(staff: StaffUser, day: date, limit: int = LIMIT) -> list[FollowUp]:
    """Due on ``day`` or before, overdue first: the follow-ups' one read model, shared
    with the morning mail."""
    return follow_ups_for(staff, day, limit=limit)


def my_stages(staff: StaffUser) -> list[StageSummary]:
    amount = func.sum(cast(func.round(Opportunity.amount * 100), BigInteger))
    rows = db.session.execute(
        select(Stage.name, Opportunity.currency, func.count(), amount)
        .select_from(Opportunity)
        .join(Stage, Stage.id == Opportunity.stage_id)
        .where(Opportunity.rep_id == staff.id, Opportunity.outcome == Outcome.OPEN)
        .group_by(Stage.id, Stage.name, Stage.position, Opportunity.currency)
        .order_by(Stage.position, Stage.id, Opportunity.currency)
        .limit(100)
    ).all()
    return [
        StageSummary(name, currency, int(n), (Decimal(int(cents or 0)) / 100).quantize(Decimal("0.01")))
        for name, currency, n, cents in rows
    ]


def signed_waiting(staff: StaffUser, see_all: bool, limit: int = LIMIT) -> list[Proposal]:
    stmt = (
        select(Proposal)
        .options(joinedload(Proposal.organization), joinedload(Proposal.sales_rep))
        .where(Proposal.status == ProposalStatus.DELIVERED, Proposal.signed_at.is_not(None))
        .order_by(Proposal.signed_at, Proposal.id)
        .limit(limit)
    )
    if not see_all:
        stmt = stmt.where(Proposal.sales_rep_id == staff.id)
    return list(db.session.scalars(stmt))


def unassigned(limit: int = LIMIT) -> list[Opportunity]:
    return list(
        db.session.scalars(
            select(Opportunity)
            .options(joinedload(Opportunity.organization))
            .where(Opportunity.rep_id.is_(None), Opportunity.outcome == Outcome.OPEN)
            .order_by(Opportunity.created_at, Opportunity.id)
            .limit(limit)
        )
    )


def flagged(limit: int = LIMIT) -> list:
    return unassigned_flagged(limit=limit)


def my_day(staff: StaffUser, now: datetime, tickets_base, see_all: bool) -> MyDay:
    """The dashboard of ``staff`` at ``now``; ``tickets_base`` is the access-checked
    ticket query (``portal.access``), the queue narrows it to their tickets due soon."""
    today = local_today(staff, now)
    filters = queue.QueueFilters(assignee="me", sla="due_soon", sort="response_due")
    tickets = queue.list_tickets(tickets_base, filters, staff, now, per_page=10).tickets
    return MyDay(
        today=today,
        follow_ups=follow_ups(staff, today),
        stages=my_stages(staff),
        signed_waiting=signed_waiting(staff, see_all),
        tickets=tickets,
        unassigned=unassigned() if see_all else [],
        flagged=flagged() if see_all else [],
    )
