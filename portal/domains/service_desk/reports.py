"""The first-response report: how fast staff answer, and how often within the SLA.

For the tickets opened in a range of months (optionally one organization and its
sub-organizations), grouped by month, by organization and by staff member:

- minutes to first response: median and average of the wall-clock minutes from
  ``created_at`` to ``first_response_at`` (tickets with a response only). Business
  minutes are not reported: they need each ticket's calendar, which SQL cannot walk;
- SLA attainment: the share of tickets with a first-response due time that were
  answered by it. A ticket without a response whose due time has passed counts as
  missed; one still within its time counts neither way.

Months are calendar months in UTC (a ticket opened at 23:30 UTC on 31 March is a
March ticket wherever the reader is). An organization's row rolls up its
sub-organizations (the ancestors of each ticket's organization are walked with a
recursive CTE). Everything is grouped in SQL, medians included (a window
``row_number`` per group picks the middle one or two): no Python loop over tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import and_, case, extract, func, literal, or_, select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.queries.tree import walk_up
from portal.domains.customers.models import Organization
from portal.domains.customers.organizations import subtree_query
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk.models import Ticket

ORGANIZATION_ROWS = 100


@dataclass(frozen=True)
class ReportFilters:
    """Months are the first day of the first and of the last month, inclusive (UTC)."""

    first_month: date
    last_month: date
    organization_id: int | None = None

    @property
    def start(self) -> datetime:
        return datetime(self.first_month.year, self.first_month.month, 1)

    @property
    def end(self) -> datetime:
        """The first instant after the last month."""
        year, month = self.last_month.year, self.last_month.month + 1
        return datetime(year + (month > 12), (month - 1) % 12 + 1, 1)


@dataclass
class ReportRow:
    key: object
    label: str
    tickets: int
    responded: int
    median_minutes: float | None
    average_minutes: float | None
    met: int
    missed: int

    @property
    def attainment(self) -> float | None:
        """Percent of the decided tickets (met or missed) that met the target."""
        decided = self.met + self.missed
        return 100.0 * self.met / decided if decided else None


@dataclass
class FirstResponseReport:
    filters: ReportFilters
    overall: ReportRow
    by_month: list[ReportRow]
    by_organization: list[ReportRow]
    by_staff: list[ReportRow]
    organizations_cut: bool  # more organizations than ORGANIZATION_ROWS had tickets


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _minutes(start, end):
    """Wall-clock minutes from ``start`` to ``end`` (NULL when ``end`` is)."""
    if _dialect() == "postgresql":
        return extract("epoch", end - start) / 60.0
    return (func.julianday(end) - func.julianday(start)) * 1440.0


def _month(column):
    if _dialect() == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _base(filters: ReportFilters, now: datetime, subtree):
    """One row per ticket in scope: its organization, responder, month, minutes and outcome."""
    due, answered = Ticket.first_response_due_at, Ticket.first_response_at
    met = case((and_(due.is_not(None), answered.is_not(None), answered <= due), 1), else_=0)
    missed = case((and_(due.is_not(None), or_(answered > due, and_(answered.is_(None), due <= now))), 1), else_=0)
    stmt = select(
        Ticket.organization_id.label("organization_id"),
        Ticket.first_response_by_id.label("staff_id"),
        _month(Ticket.created_at).label("month"),
        _minutes(Ticket.created_at, answered).label("minutes"),
        met.label("met"),
        missed.label("missed"),
    ).where(Ticket.created_at >= filters.start, Ticket.created_at < filters.end)
    if subtree is not None:
        stmt = stmt.where(Ticket.organization_id.in_(subtree))
    return stmt.subquery("scope")


def _summary(source, order_by_size: bool = False, limit: int | None = None) -> list[tuple]:
    """Per ``source.c.key``: tickets, responded, median, average, met, missed (one statement)."""
    totals = (
        select(
            source.c.key.label("key"),
            func.count().label("tickets"),
            func.count(source.c.minutes).label("responded"),
            func.avg(source.c.minutes).label("average"),
            func.coalesce(func.sum(source.c.met), 0).label("met"),
            func.coalesce(func.sum(source.c.missed), 0).label("missed"),
        )
        .group_by(source.c.key)
        .subquery("totals")
    )
    ranked = (
        select(
            source.c.key.label("key"),
            source.c.minutes.label("minutes"),
            func.row_number().over(partition_by=source.c.key, order_by=source.c.minutes).label("rn"),
            func.count().over(partition_by=source.c.key).label("n"),
        )
        .where(source.c.minutes.is_not(None))
        .subquery("ranked")
    )
    # The middle row (odd n) or the two middle rows (even n), without integer division.
    medians = (
        select(ranked.c.key.label("key"), func.avg(ranked.c.minutes).label("median"))
        .where(ranked.c.rn * 2 >= ranked.c.n, ranked.c.rn * 2 <= ranked.c.n + 2)
        .group_by(ranked.c.key)
        .subquery("medians")
    )
    stmt = select(
        totals.c.key,
        totals.c.tickets,
        totals.c.responded,
        medians.c.median,
        totals.c.average,
        totals.c.met,
        totals.c.missed,
    ).outerjoin(medians, totals.c.key.is_not_distinct_from(medians.c.key))
    stmt = stmt.order_by(totals.c.tickets.desc(), totals.c.key) if order_by_size else stmt.order_by(totals.c.key)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt))


def _float(value) -> float | None:
    # Two decimals: SQLite's julianday arithmetic is a float a hair off the exact
    # minutes PostgreSQL gives, and both engines must show the same figures.
    return None if value is None else round(float(value), 2)


def _row(values: tuple, label: str) -> ReportRow:
    key, tickets, responded, median, average, met, missed = values
    return ReportRow(key, label, int(tickets), int(responded), _float(median), _float(average), int(met), int(missed))


def _keyed(base, key):
    return select(key.label("key"), base.c.minutes, base.c.met, base.c.missed).subquery("keyed")


def _rolled_up(base, subtree):
    """Each ticket once for its organization and once for every parent above it (the
    guarded walk of ``core.queries.tree``; distinct pairs, so a cycle in old data
    counts a ticket once per organization)."""
    up = walk_up(Organization.id, Organization.parent_id, select(base.c.organization_id).distinct(), name="up")
    pairs = select(up.c.start_id.label("organization_id"), up.c.id.label("ancestor_id")).distinct().subquery("pairs")
    stmt = select(pairs.c.ancestor_id.label("key"), base.c.minutes, base.c.met, base.c.missed).join(
        pairs, pairs.c.organization_id == base.c.organization_id
    )
    if subtree is not None:  # the chosen organization and below, not its parents
        stmt = stmt.where(pairs.c.ancestor_id.in_(subtree))
    return stmt.subquery("rolled")


def _month_label(key: str) -> str:
    year, month = (int(part) for part in key.split("-"))
    return format_date(date(year, month, 1), "MMMM y")


def first_response_report(
    filters: ReportFilters, now: datetime | None = None, organization_rows: int = ORGANIZATION_ROWS
) -> FirstResponseReport:
    """The report for ``filters`` as of ``now`` (which decides what is already missed)."""
    now = now or utcnow()
    # One CTE object for both uses (two would clash on the name "tree").
    subtree = subtree_query(filters.organization_id) if filters.organization_id is not None else None
    base = _base(filters, now, subtree)
    (overall,) = _summary(_keyed(base, literal(0))) or [(0, 0, 0, None, None, 0, 0)]
    months = _summary(_keyed(base, base.c.month))
    organizations = _summary(_rolled_up(base, subtree), order_by_size=True, limit=organization_rows + 1)
    staff = _summary(_keyed(base, base.c.staff_id), order_by_size=True)

    cut = len(organizations) > organization_rows
    organizations = organizations[:organization_rows]
    names = (
        dict(
            db.session.execute(
                select(Organization.id, Organization.name).where(Organization.id.in_([row[0] for row in organizations]))
            ).all()
        )
        if organizations
        else {}
    )
    people = (
        dict(
            db.session.execute(
                select(StaffUser.id, StaffUser.name).where(
                    StaffUser.id.in_([row[0] for row in staff if row[0] is not None])
                )
            ).all()
        )
        if staff
        else {}
    )
    return FirstResponseReport(
        filters=filters,
        overall=_row(overall, _("All tickets")),
        by_month=[_row(row, _month_label(row[0])) for row in months],
        by_organization=[_row(row, names.get(row[0], "?")) for row in organizations],
        by_staff=[
            _row(row, people.get(row[0], "?") if row[0] is not None else _("No first response yet")) for row in staff
        ],
        organizations_cut=cut,
    )
