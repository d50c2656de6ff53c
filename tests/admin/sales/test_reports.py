"""Sales reports: pipeline, win rate with lost reasons and competitors, first response;
charts as SVG under the strict CSP, CSV exports, grouped queries."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.sales import reports
from portal.domains.sales.models import (
    Competitor,
    LostReason,
    Opportunity,
    Outcome,
    opportunity_competitors,
    opportunity_lost_reasons,
)
from portal.domains.sales.models_more import OpportunityFirstResponse
from tests.admin.sales import more_factories as more


def _everything():
    from sqlalchemy import true

    return true()


def test_pipeline_open_and_weighted_per_currency_never_summed_across(app, make):
    rep = make.staff(name="Rita Rep")
    more.opportunity(app, rep_id=rep.id, amount="1000.00", currency="USD", probability=25)
    more.opportunity(app, rep_id=rep.id, amount="333.33", currency="USD", probability=None, stage_key="qualified")
    more.opportunity(app, rep_id=None, amount="500.00", currency="EUR", probability=50)
    more.opportunity(app, rep_id=rep.id, amount="9999.00", currency="USD", stage_key="won")  # closed: not pipeline
    with app.app_context():
        qualified = more.stage("qualified")
        default = qualified.default_probability
        report = reports.pipeline_report(_everything())
        totals = {row.currency: row for row in report.totals}
        assert set(totals) == {"USD", "EUR"}
        assert totals["USD"].count == 2 and totals["USD"].amount == Decimal("1333.33")
        expected = (Decimal("250.00") + (Decimal("333.33") * default / 100)).quantize(Decimal("0.01"))
        assert totals["USD"].weighted == expected
        assert totals["EUR"].amount == Decimal("500.00") and totals["EUR"].weighted == Decimal("250.00")
        by_rep = {(row.label, row.currency): row.amount for row in report.by_rep}
        assert by_rep == {("Rita Rep", "USD"): Decimal("1333.33"), ("Unassigned", "EUR"): Decimal("500.00")}
        assert all(row.currency in ("USD", "EUR") for row in report.by_stage + report.by_month)


def test_pipeline_page_draws_an_svg_chart_per_currency_without_inline_style_or_script(app, make, login, client):
    manager = make.staff(role="manager")
    more.opportunity(app, amount="1000.00", currency="USD", probability=25)
    more.opportunity(app, amount="500.00", currency="EUR", probability=50)
    login(client, manager)
    response = client.get("/admin/sales/reports/pipeline")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'id="chart-stage-usd"' in body and 'id="chart-stage-eur"' in body
    svg = "".join(re.findall(r"<svg.*?</svg>", body, re.S))
    assert "<rect" in svg and "style=" not in svg and "<script" not in svg
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    partial = client.get("/admin/sales/reports/pipeline", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and 'id="results"' in partial
    exported = client.get("/admin/sales/reports/pipeline.csv")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    totals = [row for row in rows if row[0] == "total"]
    assert sorted((row[2], row[4], row[5]) for row in totals) == [
        ("EUR", "500.00", "250.00"),
        ("USD", "1000.00", "250.00"),
    ]


def test_csv_cells_cannot_become_formulas(app, make, login, client):
    manager = make.staff(role="manager", name="=HYPERLINK(1)")
    more.opportunity(app, rep_id=manager.id)
    login(client, manager)
    body = client.get("/admin/sales/reports/pipeline.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in body and "\n=HYPERLINK" not in body.replace(",=", "\n=")


def test_report_queries_stay_constant_as_rows_grow(app, make, login, client, count_queries):
    manager = make.staff(role="manager")
    login(client, manager)
    reps = [make.staff() for _ in range(3)]
    more.opportunity(app, rep_id=reps[0].id)
    counts = {}
    for path in (
        "/admin/sales/reports/pipeline",
        "/admin/sales/reports/win-rate",
        "/admin/sales/reports/first-response",
    ):
        client.get(path)
        with count_queries() as few:
            assert client.get(path).status_code == 200
        counts[path] = few.count
    for n in range(12):
        more.opportunity(
            app, rep_id=reps[n % 3].id, currency=("USD", "EUR")[n % 2], stage_key=("new", "won", "lost")[n % 3]
        )
    for path, before in counts.items():
        with count_queries() as many:
            assert client.get(path).status_code == 200
        assert many.count == before, path


def test_win_rate_lost_reasons_and_competitors_by_month(app, make):
    now = utcnow()
    won = more.opportunity(app, stage_key="won", closed_at=now)
    lost = more.opportunity(app, stage_key="lost", closed_at=now)
    lost2 = more.opportunity(app, stage_key="lost", closed_at=now)
    more.opportunity(app, stage_key="lost", closed_at=datetime(2001, 1, 1))  # outside the range
    with app.app_context():
        price = db.session.scalar(select(LostReason).where(LostReason.key == "price"))
        rival = Competitor(name="Rival Lawns")
        db.session.add(rival)
        db.session.flush()
        db.session.execute(
            opportunity_lost_reasons.insert(),
            [
                {"opportunity_id": lost, "lost_reason_id": price.id},
                {"opportunity_id": lost2, "lost_reason_id": price.id},
            ],
        )
        db.session.execute(opportunity_competitors.insert(), [{"opportunity_id": lost, "competitor_id": rival.id}])
        db.session.commit()
        this_month = now.date().replace(day=1)
        report = reports.win_report(_everything(), reports.MonthRange(this_month, this_month))
        assert [(r.won, r.lost, r.rate) for r in report.by_month] == [(1, 2, Decimal("33.3"))]
        assert report.reason_totals == [(price.name, 2)]
        assert report.competitor_totals == [("Rival Lawns", 1)]
        assert won


def test_first_response_median_and_90th_percentile_by_rep_source_and_month(app, make):
    a, b = make.staff(name="Ann"), make.staff(name="Ben")
    created = utcnow() - timedelta(days=2)
    minutes_a = [10, 20, 30, 40, 50, 60, 70, 80, 90, 1000]
    for m in minutes_a:
        opp = more.opportunity(app, rep_id=a.id, created_at=created)
        with app.app_context():
            db.session.add(
                OpportunityFirstResponse(opportunity_id=opp, responded_at=created, business_minutes=m, via="x")
            )
            db.session.commit()
    more.opportunity(app, rep_id=b.id, created_at=created)  # not answered yet
    with app.app_context():
        month = created.date().replace(day=1)
        report = reports.first_response_report(_everything(), reports.MonthRange(month, utcnow().date().replace(day=1)))
        by_rep = {row.label: row for row in report.by_rep}
        assert by_rep["Ann"].opportunities == 10 and by_rep["Ann"].responded == 10
        assert by_rep["Ann"].median == Decimal("55.0")
        assert by_rep["Ann"].p90 == 90  # nearest rank: the 9th of 10
        assert by_rep["Ben"].responded == 0 and by_rep["Ben"].median is None
        assert report.overall.opportunities == 11


def test_reports_are_scoped_to_what_the_viewer_sees_and_closed_to_technicians(app, make, login, client):
    sam = make.staff(name="Sam Sales")
    other = make.staff(name="Olga Other")
    more.opportunity(app, rep_id=sam.id, amount="111.00")
    more.opportunity(app, rep_id=other.id, amount="999.00")
    login(client, sam)
    body = client.get("/admin/sales/reports/pipeline").get_data(as_text=True)
    assert "$111.00" in body and "$999.00" not in body and "Olga Other" not in body
    tech_client = app.test_client()
    login(tech_client, make.staff(role="technician"))
    for path in ("pipeline", "pipeline.csv", "win-rate", "win-rate.csv", "first-response", "first-response.csv"):
        assert tech_client.get(f"/admin/sales/reports/{path}").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Opportunity.outcome).limit(1)) == Outcome.OPEN
