"""Staff reports: minutes to first response and SLA attainment, for admins and managers.

The figures come from ``portal.domains.service_desk.reports`` (grouped SQL); this view only
reads the filters (a range of months, in UTC, and an organization) and renders them.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, request
from flask_login import current_user

from portal.access.staff import staff_may_see_reports, staff_organizations_query
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.htmx import render_page
from portal.core.parsing import parse_id
from portal.domains.customers.models import Organization
from portal.domains.customers.organizations import choose_organizations
from portal.domains.service_desk.reports import ReportFilters, first_response_report

bp = Blueprint("reports", __name__, url_prefix="/reports")

TEMPLATE = "admin/reports/first_response.html"
DEFAULT_MONTHS = 6
ORGANIZATION_CHOICES = 100


@bp.before_request
def only_admins_and_managers():
    """Reports span every customer: admins and managers only (others get a 404)."""
    if not staff_may_see_reports(current_user):
        abort(404)


def _month(value: str | None, default: date) -> date:
    """A ``YYYY-MM`` argument (what ``<input type="month">`` sends) as its first day."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1) if 1 <= month <= 12 and 2000 <= year <= 2100 else default
    except ValueError:
        return default


def _months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


@bp.get("/first-response")
def first_response():
    today = utcnow().date()
    this_month = date(today.year, today.month, 1)
    first = _month(request.args.get("from_month"), _months_back(this_month, DEFAULT_MONTHS - 1))
    last = _month(request.args.get("to_month"), this_month)
    if first > last:
        first, last = last, first
    organization_id = parse_id(request.args.get("organization_id"))
    organization = db.session.get(Organization, organization_id) if organization_id else None
    choices = choose_organizations(staff_organizations_query(current_user), limit=ORGANIZATION_CHOICES)
    if organization is not None and organization.id not in {i for i, _name in choices}:
        choices.insert(0, (organization.id, organization.name))
    report = first_response_report(ReportFilters(first, last, organization.id if organization else None))
    return render_page(
        TEMPLATE,
        block="results",
        report=report,
        organization=organization,
        organization_choices=choices,
        filters={
            "from_month": first.strftime("%Y-%m"),
            "to_month": last.strftime("%Y-%m"),
            "organization_id": organization.id if organization else None,
        },
    )
