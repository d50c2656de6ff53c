"""Sales reports with charts: pipeline, win rate (with lost reasons and competitors),
first response. Each page shows a server-rendered SVG chart next to its table and
exports the same rows as CSV.

Who sees them: admins and managers see every opportunity; sales reps see the figures
of the opportunities they may see (their own and their account teams'); technicians
none (404). The figures come from ``portal.domains.sales.reports`` (grouped SQL over
the access filter of ``portal.access.staff.opportunities``).
"""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, abort, request
from flask_babel import gettext as _
from flask_login import current_user

from admin.sales.reports.charts import bar_chart
from portal.access.staff.opportunities import opportunity_filter
from portal.access.staff.sales_reports import staff_may_see_sales_reports
from portal.core.db import utcnow
from portal.core.htmx import render_page
from portal.domains.sales import first_response as responses
from portal.domains.sales import reports as service

bp = Blueprint("sales_reports", __name__, url_prefix="/sales/reports")

DEFAULT_MONTHS = 6


@bp.before_request
def only_sales_staff():
    if not staff_may_see_sales_reports(current_user):
        abort(404)


# --- template globals for the opportunity page's _first_response.html ------------------


@bp.app_template_global()
def opportunity_first_response(opportunity):
    return responses.first_response_of(opportunity.id, with_staff=True)


@bp.app_template_global()
def business_duration(minutes: int | None) -> str:
    """Business minutes as "2 h 05 min" (days are not shown: a business day's length varies)."""
    if minutes is None:
        return "—"
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return _("%(m)s min", m=rest)
    return _("%(h)s h %(m)02d min", h=hours, m=rest)


@bp.app_template_global()
def first_response_via(via: str) -> str:
    return {
        responses.PROPOSAL_DELIVERED: _("Proposal delivered"),
        responses.STAFF_EMAIL: _("Email from staff"),
    }.get(via, via)


# --- filters ---------------------------------------------------------------------------


def _month(value: str | None, default: date) -> date:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1) if 1 <= month <= 12 and 2000 <= year <= 2100 else default
    except ValueError:
        return default


def _months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def _month_range() -> service.MonthRange:
    today = utcnow().date()
    this_month = date(today.year, today.month, 1)
    first = _month(request.args.get("from_month"), _months_back(this_month, DEFAULT_MONTHS - 1))
    last = _month(request.args.get("to_month"), this_month)
    if first > last:
        first, last = last, first
    if (last.year * 12 + last.month) - (first.year * 12 + first.month) >= service.MAX_MONTHS:
        first = _months_back(last, service.MAX_MONTHS - 1)
    return service.MonthRange(first, last)


def _filters(months: service.MonthRange) -> dict:
    return {"from_month": months.first.strftime("%Y-%m"), "to_month": months.last.strftime("%Y-%m")}


# --- CSV -------------------------------------------------------------------------------


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell starting with = + - @ as a formula: make it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(name: str, header: list[str], rows) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{utcnow():%Y%m%d}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- pipeline --------------------------------------------------------------------------


def _pipeline_charts(report: service.PipelineReport) -> dict:
    """One chart per currency (amounts of two currencies never share a scale)."""
    charts = {}
    series = [_("Open amount"), _("Weighted amount")]
    for currency in report.currencies:
        rows = [(row.label, [row.amount, row.weighted]) for row in report.by_stage if row.currency == currency]
        charts[currency] = bar_chart(_("Pipeline by stage, %(currency)s", currency=currency), rows, series)
    return charts


@bp.get("/pipeline")
def pipeline():
    report = service.pipeline_report(opportunity_filter(current_user))
    return render_page(
        "admin/sales/reports/pipeline.html", block="results", report=report, charts=_pipeline_charts(report)
    )


@bp.get("/pipeline.csv")
def pipeline_csv():
    report = service.pipeline_report(opportunity_filter(current_user))
    rows = []
    for grouping, name in (
        (report.by_stage, _("stage")),
        (report.by_rep, _("rep")),
        (report.by_month, _("expected close month")),
        (report.totals, _("total")),
    ):
        rows += [(name, row.label, row.currency, row.count, row.amount, row.weighted) for row in grouping]
    header = [_("Grouping"), _("Group"), _("Currency"), _("Open opportunities"), _("Open amount"), _("Weighted amount")]
    return _csv("pipeline", header, rows)


# --- win rate ----------------------------------------------------------------------------


@bp.get("/win-rate")
def win_rate():
    months = _month_range()
    report = service.win_report(opportunity_filter(current_user), months)
    charts = {
        "months": bar_chart(
            _("Won and lost by month"),
            [(row.label, [row.won, row.lost]) for row in report.by_month],
            [_("Won"), _("Lost")],
        ),
        "reasons": bar_chart(_("Lost reasons"), [(name, [n]) for name, n in report.reason_totals], [_("Lost")]),
        "competitors": bar_chart(
            _("Lost to competitors"), [(name, [n]) for name, n in report.competitor_totals], [_("Lost")]
        ),
    }
    return render_page(
        "admin/sales/reports/win_rate.html", block="results", report=report, charts=charts, filters=_filters(months)
    )


@bp.get("/win-rate.csv")
def win_rate_csv():
    months = _month_range()
    report = service.win_report(opportunity_filter(current_user), months)
    rows = [(_("win rate"), row.month, "", row.won, row.lost, row.rate) for row in report.by_month]
    rows += [(_("lost reason"), row.month, row.name, "", row.count, "") for row in report.reasons]
    rows += [(_("competitor"), row.month, row.name, "", row.count, "") for row in report.competitors]
    header = [_("Table"), _("Month"), _("Name"), _("Won"), _("Lost"), _("Win rate (%)")]
    return _csv("win-rate", header, rows)


# --- first response ------------------------------------------------------------------------


@bp.get("/first-response")
def first_response():
    months = _month_range()
    report = service.first_response_report(opportunity_filter(current_user), months)
    series = [_("Median"), _("90th percentile")]

    def rows(table):
        return [(row.label, [row.median, row.p90]) for row in table if row.responded]

    charts = {
        "months": bar_chart(_("Business minutes to first response by month"), rows(report.by_month), series),
        "reps": bar_chart(_("Business minutes to first response by rep"), rows(report.by_rep), series),
        "sources": bar_chart(_("Business minutes to first response by source"), rows(report.by_source), series),
    }
    return render_page(
        "admin/sales/reports/first_response.html",
        block="results",
        report=report,
        charts=charts,
        filters=_filters(months),
    )


@bp.get("/first-response.csv")
def first_response_csv():
    months = _month_range()
    report = service.first_response_report(opportunity_filter(current_user), months)
    rows = []
    for grouping, name in (
        ([report.overall], _("all")),
        (report.by_rep, _("rep")),
        (report.by_source, _("source")),
        (report.by_month, _("month")),
    ):
        rows += [(name, row.label, row.opportunities, row.responded, row.median, row.p90) for row in grouping]
    header = [
        _("Grouping"),
        _("Group"),
        _("Opportunities"),
        _("Responded"),
        _("Median business minutes"),
        _("90th percentile business minutes"),
    ]
    return _csv("first-response", header, rows)
