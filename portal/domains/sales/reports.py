"""Sales reports: pipeline, win rate with lost reasons and competitors, first response.

Everything is grouped in SQL (one statement per table, a fixed number per report,
whatever the row count), over the opportunities ``scope`` allows (the caller passes
``portal.access``'s opportunity filter). Money is summed as integer cents (each
amount x 100 rounded to a whole number first), so SQLite's float arithmetic cannot
drift and both engines give the same figures; amounts of different currencies are
never added together: every money row carries its currency, and totals are per
currency.

- pipeline: open opportunities (stage outcome open), count, amount and weighted amount
  (amount x probability, the stage's default when the opportunity has none), by stage,
  by rep and by expected-close month;
- win rate: opportunities closed per month (UTC), won and lost, and the share won; the
  lost reasons and competitors of the lost ones per month;
- first response: business minutes to the first email to the customer
  (``first_response``), by rep, source and month of creation, median and 90th
  percentile (nearest rank), counted here from one statement's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import BigInteger, String, and_, case, cast, func, select, tuple_, type_coerce

from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import (
    Competitor,
    LostReason,
    Opportunity,
    Outcome,
    Source,
    Stage,
    opportunity_competitors,
    opportunity_lost_reasons,
)
from portal.domains.sales.models_more import OpportunityFirstResponse

CENTS = Decimal(100)
MAX_MONTHS = 36
ROW_LIMIT = 200  # per table: reps, reasons, competitors, months are far fewer


@dataclass(frozen=True)
class MonthRange:
    """The first day of the first and of the last month, inclusive (UTC)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, 1)

    @property
    def end(self) -> datetime:
        year, month = self.last.year, self.last.month + 1
        return datetime(year + (month > 12), (month - 1) % 12 + 1, 1)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _month(column):
    if _dialect() == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def month_label(key: str | None) -> str:
    if not key:
        return _("No date")
    year, month = (int(part) for part in key.split("-"))
    return format_date(date(year, month, 1), "MMMM y")


def _cents(column):
    return cast(func.round(column * 100), BigInteger)


def _money(cents) -> Decimal:
    return (Decimal(int(cents or 0)) / CENTS).quantize(Decimal("0.01"))


# --- pipeline ----------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineRow:
    key: object
    label: str
    currency: str
    count: int
    amount: Decimal
    weighted: Decimal


@dataclass(frozen=True)
class PipelineReport:
    by_stage: list[PipelineRow]
    by_rep: list[PipelineRow]
    by_month: list[PipelineRow]
    totals: list[PipelineRow]  # one per currency

    @property
    def currencies(self) -> list[str]:
        return [row.currency for row in self.totals]


def _weighted(value) -> Decimal:
    # sum(cents x percent) / 100 percent / 100 cents, rounded half up once at the end
    return (Decimal(value or 0) / Decimal(10000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def pipeline_report(scope) -> PipelineReport:
    """Open opportunities in ``scope`` by stage, rep and expected-close month.

    Two grouped statements over the covering index ``ix_opportunities_pipeline`` (open
    opportunities by stage, rep, close date, currency, probability, amount); the tables
    are sums of their rows (stages x reps x currencies, stages x months x currencies:
    hundreds at most). The weighted amount of an opportunity
    without a probability takes its stage's default, applied per group here (no join)."""
    cents = _cents(Opportunity.amount)
    sums = (
        func.count().label("n"),
        func.sum(cents).label("amount"),
        func.coalesce(func.sum(cents * Opportunity.probability), 0).label("weighted"),
        func.coalesce(func.sum(case((Opportunity.probability.is_(None), cents), else_=0)), 0).label("defaulted"),
    )
    # Two statements, each one pass over the covering index: by stage and rep (the
    # stage and rep tables and the totals are sums of its rows), and by close month.
    rows = db.session.execute(
        select(Opportunity.stage_id, Opportunity.rep_id, Opportunity.currency, *sums)
        .where(Opportunity.outcome == Outcome.OPEN, scope)
        .group_by(Opportunity.stage_id, Opportunity.rep_id, Opportunity.currency)
        .limit(50_000)
    ).all()
    month = _month(Opportunity.expected_close_on)
    month_rows = db.session.execute(
        select(Opportunity.stage_id, month.label("month"), Opportunity.currency, *sums)
        .where(Opportunity.outcome == Outcome.OPEN, scope)
        .group_by(Opportunity.stage_id, month, Opportunity.currency)
        .limit(50_000)
    ).all()
    stages = {s.id: s for s in db.session.scalars(select(Stage))}
    names = dict(
        db.session.execute(
            select(StaffUser.id, StaffUser.name).where(
                StaffUser.id.in_({r.rep_id for r in rows if r.rep_id is not None})
            )
        ).all()
    )

    def add(table: dict, key, currency: str, n: int, amount: int, weighted: int) -> None:
        count, a, w = table.get((key, currency), (0, 0, 0))
        table[(key, currency)] = (count + n, a + amount, w + weighted)

    by_stage: dict = {}
    by_rep: dict = {}
    by_month: dict = {}
    totals: dict = {}

    def values(r) -> tuple[int, int, int]:
        stage = stages.get(r.stage_id)
        default = stage.default_probability if stage is not None else 0
        return int(r.n), int(r.amount or 0), int(r.weighted or 0) + int(r.defaulted or 0) * int(default or 0)

    for r in rows:
        add(by_stage, r.stage_id, r.currency, *values(r))
        add(by_rep, r.rep_id, r.currency, *values(r))
        add(totals, r.currency, r.currency, *values(r))
    for r in month_rows:
        add(by_month, r.month, r.currency, *values(r))

    def rows_of(table: dict, label) -> list[PipelineRow]:
        return [
            PipelineRow(key, label(key), currency, count, _money(amount), _weighted(weighted))
            for (key, currency), (count, amount, weighted) in table.items()
        ]

    def stage_order(row: PipelineRow):
        stage = stages.get(row.key)
        return (stage.position if stage else 0, row.key or 0, row.currency)

    return PipelineReport(
        by_stage=sorted(rows_of(by_stage, lambda k: stages[k].name if k in stages else "?"), key=stage_order),
        by_rep=sorted(
            rows_of(by_rep, lambda k: names.get(k, "?") if k is not None else _("Unassigned")),
            key=lambda row: (row.key is None, row.label.casefold(), row.currency),
        ),
        by_month=sorted(rows_of(by_month, month_label), key=lambda row: (row.key is None, row.key or "", row.currency)),
        totals=sorted(rows_of(totals, lambda k: k), key=lambda row: row.currency),
    )


# --- win rate, lost reasons, competitors ----------------------------------------------


@dataclass(frozen=True)
class WinRow:
    month: str
    label: str
    won: int
    lost: int

    @property
    def rate(self) -> Decimal | None:
        decided = self.won + self.lost
        return (Decimal(100 * self.won) / decided).quantize(Decimal("0.1")) if decided else None


@dataclass(frozen=True)
class CountRow:
    month: str
    month_label: str
    name: str
    count: int


@dataclass(frozen=True)
class WinReport:
    months: MonthRange
    by_month: list[WinRow]
    reasons: list[CountRow]  # per month and reason
    competitors: list[CountRow]
    reason_totals: list[tuple[str, int]]
    competitor_totals: list[tuple[str, int]]

    @property
    def overall(self) -> WinRow:
        return WinRow("", _("All months"), sum(r.won for r in self.by_month), sum(r.lost for r in self.by_month))


def _closed(scope, months: MonthRange):
    return and_(
        Opportunity.outcome.in_(Outcome.CLOSED),
        Opportunity.closed_at >= months.start,
        Opportunity.closed_at < months.end,
        scope,
    )


def _per_month_counts(scope, months: MonthRange, link, link_column, model) -> list[CountRow]:
    month = _month(Opportunity.closed_at)
    rows = db.session.execute(
        select(month.label("month"), model.name, func.count().label("n"))
        .select_from(Opportunity)
        .join(link, link.c.opportunity_id == Opportunity.id)
        .join(model, model.id == link_column)
        .where(_closed(scope, months), Opportunity.outcome == Outcome.LOST)
        .group_by(month, model.name)
        .order_by(month, func.count().desc(), model.name)
        .limit(ROW_LIMIT * 4)
    ).all()
    return [CountRow(r.month, month_label(r.month), r.name, int(r.n)) for r in rows]


def _totals(rows: list[CountRow]) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.name] = totals.get(row.name, 0) + row.count
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def win_report(scope, months: MonthRange) -> WinReport:
    """Won and lost per month of closing, lost reasons and competitors (3 statements)."""
    month = _month(Opportunity.closed_at)
    rows = db.session.execute(
        select(
            month.label("month"),
            func.sum(case((Opportunity.outcome == Outcome.WON, 1), else_=0)).label("won"),
            func.sum(case((Opportunity.outcome == Outcome.LOST, 1), else_=0)).label("lost"),
        )
        .where(_closed(scope, months))
        .group_by(month)
        .order_by(month)
        .limit(MAX_MONTHS + 1)
    ).all()
    reasons = _per_month_counts(
        scope, months, opportunity_lost_reasons, opportunity_lost_reasons.c.lost_reason_id, LostReason
    )
    competitors = _per_month_counts(
        scope, months, opportunity_competitors, opportunity_competitors.c.competitor_id, Competitor
    )
    return WinReport(
        months=months,
        by_month=[WinRow(r.month, month_label(r.month), int(r.won or 0), int(r.lost or 0)) for r in rows],
        reasons=reasons,
        competitors=competitors,
        reason_totals=_totals(reasons),
        competitor_totals=_totals(competitors),
    )


# --- first response -------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseRow:
    key: object
    label: str
    opportunities: int
    responded: int
    median: Decimal | None
    p90: int | None


@dataclass(frozen=True)
class FirstResponseReport:
    months: MonthRange
    overall: ResponseRow
    by_rep: list[ResponseRow]
    by_source: list[ResponseRow]
    by_month: list[ResponseRow]


def _response_filter(scope, months: MonthRange):
    return and_(Opportunity.created_at >= months.start, Opportunity.created_at < months.end, scope)


def _response_groups_pg(scope, months: MonthRange) -> tuple[tuple, dict, dict, dict]:
    """PostgreSQL: every table in one statement, one pass over the range (GROUPING SETS
    of rep, source, month and all, with the ordered-set aggregates); returns the overall
    summary and each table's summaries by key."""
    month = _month(Opportunity.created_at)
    minutes = OpportunityFirstResponse.business_minutes
    rep, source = Opportunity.rep_id, Opportunity.source_id
    stmt = (
        select(
            func.grouping(rep, source, month),
            rep,
            source,
            month,
            func.count(),
            func.count(minutes),
            func.percentile_cont(0.5).within_group(minutes),
            func.percentile_disc(0.9).within_group(minutes),
        )
        .select_from(Opportunity)
        .outerjoin(OpportunityFirstResponse, OpportunityFirstResponse.opportunity_id == Opportunity.id)
        .where(_response_filter(scope, months))
        .group_by(func.grouping_sets(tuple_(rep), tuple_(source), tuple_(month), tuple_()))
    )
    # grouping(): a bit per argument left out of the row's set, the first the highest.
    tables: dict[int, dict] = {0b011: {}, 0b101: {}, 0b110: {}, 0b111: {}}
    for grouping, rep_id, source_id, month_key, n, responded, median, p90 in db.session.execute(stmt):
        key = {0b011: rep_id, 0b101: source_id, 0b110: month_key, 0b111: 0}[grouping]
        tables[grouping][key] = (key, n, responded, median, p90)
    overall = tables[0b111].get(0, (0, 0, 0, None, None))
    return overall, tables[0b011], tables[0b101], tables[0b110]


def _response_groups(scope, months: MonthRange) -> tuple[tuple, dict, dict, dict]:
    """SQLite: one statement reads the range's rows (rep, source, creation time as
    stored, minutes: a range of the covering index and the first response by its key),
    and they are counted here: SQLite has no GROUPING SETS, and a window pass per table
    sorted the range four times (420 ms at 100,000 opportunities). The creation time is
    read as its stored text (``YYYY-MM-DD HH:MM:SS``), whose first seven characters
    are the month: cheaper than ``strftime`` on every row, and than parsing datetimes."""
    if _dialect() == "postgresql":
        return _response_groups_pg(scope, months)
    stmt = (
        select(
            Opportunity.rep_id,
            Opportunity.source_id,
            type_coerce(Opportunity.created_at, String),
            OpportunityFirstResponse.business_minutes,
        )
        .select_from(Opportunity)
        .outerjoin(OpportunityFirstResponse, OpportunityFirstResponse.opportunity_id == Opportunity.id)
        .where(_response_filter(scope, months))
    )
    everyone: list = []
    by_rep: dict = {}
    by_source: dict = {}
    by_month: dict = {}
    # Core, not the ORM: tens of thousands of plain tuples.
    for rep_id, source_id, created, minutes in db.session.connection().execute(stmt):
        everyone.append(minutes)
        by_rep.setdefault(rep_id, []).append(minutes)
        by_source.setdefault(source_id, []).append(minutes)
        by_month.setdefault(created[:7], []).append(minutes)

    def summaries(groups: dict) -> dict:
        return {key: _summary(key, values) for key, values in groups.items()}

    return _summary(0, everyone), summaries(by_rep), summaries(by_source), summaries(by_month)


def _summary(key, minutes: list) -> tuple:
    """(key, opportunities, responded, median, p90) of one group: the median is the
    middle value or the mean of the middle two; the 90th percentile the nearest rank
    (the smallest value with at least 90% of the values at or below it), as
    PostgreSQL's ``percentile_cont(0.5)`` and ``percentile_disc(0.9)`` give them."""
    answered = sorted(m for m in minutes if m is not None)
    m = len(answered)
    if not m:
        return (key, len(minutes), 0, None, None)
    middle = (answered[(m - 1) // 2] + answered[m // 2]) / 2
    return (key, len(minutes), m, middle, answered[-(-9 * m // 10) - 1])


def _largest(table: dict) -> list[tuple]:
    """A table's summaries, the largest group first (then by key, no key last), at most
    ``ROW_LIMIT``."""
    ordered = sorted(table.values(), key=lambda row: (-row[1], row[0] is None, row[0] or 0))
    return ordered[:ROW_LIMIT]


def _response_row(values, label: str) -> ResponseRow:
    key, n, responded, median, p90 = values
    return ResponseRow(
        key,
        label,
        int(n),
        int(responded),
        None if median is None else Decimal(str(round(float(median), 1))),
        None if p90 is None else int(p90),
    )


def first_response_report(scope, months: MonthRange) -> FirstResponseReport:
    """Business minutes to first response by rep, source and month of creation.

    One statement over the range, whatever the engine (``_response_groups``): four, one
    per table, each sorted the range again (420 ms on SQLite at 100,000 opportunities,
    scripts/bench_sales.py)."""
    overall, by_rep, by_source, by_month = _response_groups(scope, months)
    reps, sources, months_rows = _largest(by_rep), _largest(by_source), _largest(by_month)
    staff = dict(
        db.session.execute(
            select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_([r[0] for r in reps if r[0] is not None]))
        ).all()
    )
    source_names = dict(
        db.session.execute(
            select(Source.id, Source.name).where(Source.id.in_([r[0] for r in sources if r[0] is not None]))
        ).all()
    )
    return FirstResponseReport(
        months=months,
        overall=_response_row(overall, _("All opportunities")),
        by_rep=[_response_row(r, staff.get(r[0], "?") if r[0] is not None else _("Unassigned")) for r in reps],
        by_source=[
            _response_row(r, source_names.get(r[0], "?") if r[0] is not None else _("No source")) for r in sources
        ],
        by_month=sorted((_response_row(r, month_label(r[0])) for r in months_rows), key=lambda row: row.key or ""),
    )
