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
  percentile (nearest rank), computed with window functions in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import BigInteger, Integer, and_, case, cast, func, literal, select

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


def _pipeline(scope, key, *extra, order=()):
    probability = func.coalesce(Opportunity.probability, Stage.default_probability)
    amount = _cents(Opportunity.amount)
    stmt = (
        select(
            key.label("key"),
            *extra,
            Opportunity.currency,
            func.count().label("n"),
            func.sum(amount).label("amount"),
            func.sum(amount * probability).label("weighted"),
        )
        .select_from(Opportunity)
        .join(Stage, Stage.id == Opportunity.stage_id)
        .where(Opportunity.outcome == Outcome.OPEN, scope)
        .group_by(key, *extra, Opportunity.currency)
        .order_by(*order, Opportunity.currency)
        .limit(ROW_LIMIT)
    )
    return db.session.execute(stmt).all()


def _weighted(value) -> Decimal:
    # sum(cents x percent) / 100 percent / 100 cents, rounded half up once at the end
    return (Decimal(int(value or 0)) / Decimal(10000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def pipeline_report(scope) -> PipelineReport:
    """Open opportunities in ``scope`` by stage, rep and expected-close month (4 statements)."""
    stages = _pipeline(scope, Stage.id, Stage.name, Stage.position, order=(Stage.position, Stage.id))
    reps = _pipeline(scope, Opportunity.rep_id, order=(Opportunity.rep_id,))
    month = _month(Opportunity.expected_close_on)
    months = _pipeline(scope, month, order=(month,))
    names = dict(
        db.session.execute(
            select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_([r.key for r in reps if r.key is not None]))
        ).all()
    )
    by_stage = [
        PipelineRow(r.key, r.name, r.currency, int(r.n), _money(r.amount), _weighted(r.weighted)) for r in stages
    ]
    by_rep = sorted(
        (
            PipelineRow(
                r.key,
                names.get(r.key, "?") if r.key is not None else _("Unassigned"),
                r.currency,
                int(r.n),
                _money(r.amount),
                _weighted(r.weighted),
            )
            for r in reps
        ),
        key=lambda row: (row.key is None, row.label.casefold(), row.currency),
    )
    by_month = sorted(
        (
            PipelineRow(r.key, month_label(r.key), r.currency, int(r.n), _money(r.amount), _weighted(r.weighted))
            for r in months
        ),
        key=lambda row: (row.key is None, row.key or "", row.currency),
    )
    totals: dict[str, list] = {}
    for row in by_stage:
        count, amount, weighted = totals.get(row.currency, (0, Decimal("0.00"), Decimal("0.00")))
        totals[row.currency] = (count + row.count, amount + row.amount, weighted + row.weighted)
    return PipelineReport(
        by_stage=by_stage,
        by_rep=by_rep,
        by_month=by_month,
        totals=[PipelineRow(currency, currency, currency, c, a, w) for currency, (c, a, w) in sorted(totals.items())],
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


def _response_base(scope, months: MonthRange):
    return (
        select(
            Opportunity.rep_id.label("rep_id"),
            Opportunity.source_id.label("source_id"),
            _month(Opportunity.created_at).label("month"),
            OpportunityFirstResponse.business_minutes.label("minutes"),
        )
        .select_from(Opportunity)
        .outerjoin(OpportunityFirstResponse, OpportunityFirstResponse.opportunity_id == Opportunity.id)
        .where(Opportunity.created_at >= months.start, Opportunity.created_at < months.end, scope)
        .subquery("scope")
    )


def _response_summary(base, key) -> list[tuple]:
    """Per key: opportunities, responded, median (the middle one or two), p90 (nearest
    rank: the smallest value with at least 90% of the values at or below it)."""
    keyed = select(key.label("key"), base.c.minutes).subquery("keyed")
    totals = (
        select(keyed.c.key, func.count().label("n"), func.count(keyed.c.minutes).label("responded"))
        .group_by(keyed.c.key)
        .subquery("totals")
    )
    ranked = (
        select(
            keyed.c.key,
            keyed.c.minutes,
            func.row_number().over(partition_by=keyed.c.key, order_by=keyed.c.minutes).label("rn"),
            func.count().over(partition_by=keyed.c.key).label("m"),
        )
        .where(keyed.c.minutes.is_not(None))
        .subquery("ranked")
    )
    medians = (
        select(ranked.c.key, func.avg(cast(ranked.c.minutes, Integer) * 1.0).label("median"))
        .where(ranked.c.rn * 2 >= ranked.c.m, ranked.c.rn * 2 <= ranked.c.m + 2)
        .group_by(ranked.c.key)
        .subquery("medians")
    )
    p90 = (
        select(ranked.c.key, func.min(ranked.c.minutes).label("p90"))
        .where(ranked.c.rn * 10 >= ranked.c.m * 9)
        .group_by(ranked.c.key)
        .subquery("p90")
    )
    stmt = (
        select(totals.c.key, totals.c.n, totals.c.responded, medians.c.median, p90.c.p90)
        .outerjoin(medians, totals.c.key.is_not_distinct_from(medians.c.key))
        .outerjoin(p90, totals.c.key.is_not_distinct_from(p90.c.key))
        .order_by(totals.c.n.desc(), totals.c.key)
        .limit(ROW_LIMIT)
    )
    return list(db.session.execute(stmt))


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
    """Business minutes to first response by rep, source and month of creation."""
    base = _response_base(scope, months)
    overall = _response_summary(base, literal(0)) or [(0, 0, 0, None, None)]
    reps = _response_summary(base, base.c.rep_id)
    sources = _response_summary(base, base.c.source_id)
    months_rows = _response_summary(base, base.c.month)
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
        overall=_response_row(overall[0], _("All opportunities")),
        by_rep=[_response_row(r, staff.get(r[0], "?") if r[0] is not None else _("Unassigned")) for r in reps],
        by_source=[
            _response_row(r, source_names.get(r[0], "?") if r[0] is not None else _("No source")) for r in sources
        ],
        by_month=sorted((_response_row(r, month_label(r[0])) for r in months_rows), key=lambda row: row.key or ""),
    )
