"""The first-response report page: who may open it, its filters (page and htmx block),
its figures on the page, and a query count that does not grow with the tickets."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.factories import add_to_team, staff_message

HX = {"HX-Request": "true"}
URL = "/admin/reports/first-response"
MARCH = {"from_month": "2026-03", "to_month": "2026-03"}


def _answer(app, ticket, staff, at: datetime) -> None:
    staff_message(app, ticket, staff, now=at)


@pytest.fixture
def world(app, make):
    """Parkside (with Parkside East below it) and Unrelated Dental, each with answered tickets."""
    sla = make.sla(targets={"normal": (60, 480)})
    parent = make.organization_with("Parkside", sla_id=sla.id)
    child = make.organization_with("Parkside East", parent_id=parent.id)
    other = make.organization_with("Unrelated Dental", sla_id=sla.id)
    sue = make.staff(role="admin", name="Sue Answerer")
    in_child, in_other = make.contact(child), make.contact(other)
    _answer(app, make.ticket(in_child, now=datetime(2026, 3, 9, 9, 0)), sue, datetime(2026, 3, 9, 9, 30))
    _answer(app, make.ticket(in_child, now=datetime(2026, 3, 9, 9, 0)), sue, datetime(2026, 3, 9, 11, 15))
    _answer(app, make.ticket(in_other, now=datetime(2026, 3, 10, 9, 0)), sue, datetime(2026, 3, 10, 9, 20))
    return {"parent": parent, "child": child, "other": other, "sue": sue, "contact": in_other}


def _client(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


def _row(html: str, label: str) -> list[str]:
    """The cells of the first table row headed ``label`` (tags stripped)."""
    match = re.search(
        r"<tr>\s*<th scope=\"row\">(?:<a [^>]*>)?" + re.escape(label) + r"(?:</a>)?</th>(.*?)</tr>", html, re.DOTALL
    )
    assert match, f"no row for {label}"
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.DOTALL)
    ]


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_admins_and_managers_see_the_figures_by_month_organization_and_staff(app, make, login, world, role):
    page = _client(app, login, make.staff(role=role)).get(URL, query_string=MARCH)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # 30, 135 and 20 minutes: median 30, average 61.7; two met, one missed (11:15 > 10:00)
    assert _row(html, "March 2026") == ["3", "3", "30 min", "1 h 2 min", "2", "1", "67%"]
    assert _row(html, "Parkside") == ["2", "2", "1 h 22 min", "1 h 22 min", "1", "1", "50%"]  # rolled up
    assert _row(html, "Unrelated Dental") == ["1", "1", "20 min", "20 min", "1", "0", "100%"]
    assert _row(html, "Sue Answerer") == ["3", "3", "30 min", "1 h 2 min", "2", "1", "67%"]
    assert "calendar months in UTC" in html


@pytest.mark.parametrize("role", ["sales", "technician"])
def test_other_staff_get_a_404_even_for_customers_on_their_team(app, make, login, world, role):
    user = make.staff(role=role)
    add_to_team(app, world["parent"], user)
    assert _client(app, login, user).get(URL).status_code == 404


def test_the_organization_filter_is_a_block_for_htmx_with_the_tree_of_that_organization(app, make, login, world):
    client = _client(app, login, make.staff(role="admin"))
    response = client.get(URL, query_string={**MARCH, "organization_id": world["parent"].id}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="results"' in html
    assert "Parkside East" in html and "Unrelated Dental" not in html
    assert "HX-Request" in response.headers["Vary"]
    # Each organization row narrows the report to that organization's tree.
    full = client.get(URL, query_string=MARCH).get_data(as_text=True)
    assert f"organization_id={world['child'].id}" in full


def test_months_outside_the_range_and_nonsense_filters_show_an_empty_report(app, make, login, world):
    client = _client(app, login, make.staff(role="admin"))
    html = client.get(URL, query_string={"from_month": "2025-01", "to_month": "2025-02"}).get_data(as_text=True)
    assert "No tickets were opened in these months." in html
    nonsense = client.get(URL, query_string={"from_month": "soon", "to_month": "2026-13", "organization_id": "x"})
    assert nonsense.status_code == 200


def test_the_report_runs_the_same_number_of_queries_for_more_tickets(app, make, login, world, count_queries):
    client = _client(app, login, make.staff(role="admin"))
    client.get(URL, query_string=MARCH)
    with count_queries() as few:
        assert client.get(URL, query_string=MARCH).status_code == 200
    for n in range(6):
        extra = make.organization_with(f"Extra {n}", parent_id=world["parent"].id)
        make.ticket(make.contact(extra), now=datetime(2026, 3, 11, 9, 0))
        _answer(
            app,
            make.ticket(world["contact"], now=datetime(2026, 3, 12, 9, 0)),
            world["sue"],
            datetime(2026, 3, 12, 9, 5),
        )
    with count_queries() as many:
        assert client.get(URL, query_string=MARCH).status_code == 200
    assert many.count == few.count
