"""The opportunity pages over HTTP: board (move by select, htmx and plain), form (new,
edit, lines, bad input), page (proposals, Make proposal, lost, reopen), list (search,
filters, keyset pages, CSV) and their query counts."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.proposals.models import Proposal
from portal.domains.sales.models import LostReason, Opportunity
from tests.sales_factories import make_opportunity, stage_id, type_id


@pytest.fixture
def rep(make):
    return make.staff(name="Rita Rep")


@pytest.fixture
def customer(make, rep):
    org = make.organization_with("Birch Lane HOA", team=[rep])
    return org, make.contact(org)


@pytest.fixture
def rep_client(client, rep, login):
    login(client, rep)
    return client


def _form(app, org, contact=None, **overrides):
    data = {
        "title": "Spring cleanup",
        "organization_id": str(org.id),
        "contact_id": str(contact.id) if contact else "0",
        "lead_id": "0",
        "type_id": str(type_id(app)),
        "stage_id": str(stage_id(app, "new")),
        "source_id": "0",
        "amount": "2500.00",
        "currency": "EUR",
        "probability": "",
        "expected_close_on": "",
        "rep_id": "0",
        "next_contact_on": "",
        "next_contact_by_id": "0",
        "line_service_id": ["0"],
        "line_description": ["Leaf removal"],
        "line_quantity": ["2"],
        "line_unit_price": ["150.00"],
    }
    data.update(overrides)
    return data


def test_new_opportunity_is_saved_with_its_lines(app, rep_client, rep, customer):
    org, contact = customer
    page = rep_client.get("/admin/sales/opportunities/new")
    assert page.status_code == 200 and "Birch Lane HOA" in page.get_data(as_text=True)
    response = rep_client.post("/admin/sales/opportunities/new", data=_form(app, org, contact))
    assert response.status_code == 303
    opportunity_id = int(re.search(r"/opportunities/(\d+)", response.headers["Location"]).group(1))
    shown = rep_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Spring cleanup" in shown and "Leaf removal" in shown and "10%" in shown  # New's default
    with app.app_context():
        opportunity = db.session.get(Opportunity, opportunity_id)
        assert (opportunity.currency, str(opportunity.amount), opportunity.rep_id) == ("EUR", "2500.00", None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("probability", "150", "0 to 100"),
        ("amount", "12abc", "digits only"),
        ("currency", "EURO", "ISO 4217"),
        ("expected_close_on", "1900-01-01", "within 20 years"),
        ("expected_close_on", "31/31/2026", "like 2027-03-31"),
        ("type_id", "99999", "type from the list"),
        ("line_quantity", ["zero"], "greater than zero"),
    ],
)
def test_bad_input_is_a_422_with_the_fields_message_and_nothing_typed_lost(
    app, rep_client, customer, field, value, message
):
    org, contact = customer
    response = rep_client.post("/admin/sales/opportunities/new", data=_form(app, org, contact, **{field: value}))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert 'value="Spring cleanup"' in body and "Leaf removal" in body
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Opportunity)) == 0


def test_add_and_remove_line_rows_save_nothing(app, rep_client, customer):
    org, contact = customer
    added = rep_client.post("/admin/sales/opportunities/new", data=_form(app, org, contact, add_line="1"))
    body = added.get_data(as_text=True)
    assert added.status_code == 200 and body.count('name="line_description"') == 3  # typed, added, spare
    removed = rep_client.post(
        "/admin/sales/opportunities/new", data=_form(app, org, contact, remove_line="0"), headers={"HX-Request": "true"}
    )
    body = removed.get_data(as_text=True)
    assert "<html" not in body and "Leaf removal" not in body
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Opportunity)) == 0


def test_edit_records_what_changed(app, rep_client, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact)
    form = _form(app, org, contact, amount="999.00", rep_id=str(rep.id), stage_id=str(stage_id(app, "qualified")))
    response = rep_client.post(f"/admin/sales/opportunities/{opp.id}/edit", data=form)
    assert response.status_code == 303
    page = rep_client.get(f"/admin/sales/opportunities/{opp.id}").get_data(as_text=True)
    assert "edited" in page and "amount" in page and "Qualified" in page


def test_board_shows_open_stages_and_moves_a_card_by_select(app, rep_client, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, amount="100.00", currency="USD")
    make_opportunity(app, rep, org, contact, amount="50.00", currency="EUR", title="Other")
    board = rep_client.get("/admin/sales/board").get_data(as_text=True)
    assert f'id="card-{opp.id}"' in board and "Won" not in re.findall(r"<h2[^>]*>([^<]+)", board)[-1]
    assert "$100.00" in board and "€50.00" in board
    qualified = stage_id(app, "qualified")
    response = rep_client.post(
        f"/admin/sales/opportunities/{opp.id}/move", data={"stage_id": qualified}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="board"' in body
    assert re.search(rf'id="stage-{qualified}".*?id="card-{opp.id}"', body, re.S)
    plain = rep_client.post(f"/admin/sales/opportunities/{opp.id}/move", data={"stage_id": stage_id(app, "signed")})
    assert plain.status_code == 303
    with app.app_context():
        assert db.session.get(Opportunity, opp.id).stage_id == stage_id(app, "signed")


def test_a_refused_move_snaps_back_with_a_message(app, rep_client, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact)
    new = stage_id(app, "new")
    response = rep_client.post(
        f"/admin/sales/opportunities/{opp.id}/move",
        data={"stage_id": stage_id(app, "lost")},
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "with the reasons" in body
    assert re.search(rf'id="stage-{new}".*?id="card-{opp.id}"', body, re.S)
    bad = rep_client.post(
        f"/admin/sales/opportunities/{opp.id}/move", data={"stage_id": "x"}, headers={"HX-Request": "true"}
    )
    assert bad.status_code == 422


def test_won_and_lost_columns_are_behind_the_toggle(app, rep_client):
    closed = rep_client.get("/admin/sales/board?closed=1").get_data(as_text=True)
    assert f'id="stage-{stage_id(app, "won")}"' in closed
    assert f'id="stage-{stage_id(app, "won")}"' not in rep_client.get("/admin/sales/board").get_data(as_text=True)


def test_mark_lost_with_reasons_then_reopen(app, rep_client, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact)
    none = rep_client.post(f"/admin/sales/opportunities/{opp.id}/lost", data={"detail": "Gone quiet"})
    assert none.status_code == 422 and "at least one reason" in none.get_data(as_text=True)
    assert "Gone quiet" in none.get_data(as_text=True)
    with app.app_context():
        reasons = list(db.session.scalars(select(LostReason.id).limit(2)))
    done = rep_client.post(f"/admin/sales/opportunities/{opp.id}/lost", data={"reason_ids": reasons, "detail": "Gone"})
    assert done.status_code == 303
    page = rep_client.get(f"/admin/sales/opportunities/{opp.id}").get_data(as_text=True)
    assert 'id="lost-summary"' in page and 'id="reopen"' in page
    assert rep_client.post(f"/admin/sales/opportunities/{opp.id}/reopen").status_code == 303
    with app.app_context():
        assert db.session.get(Opportunity, opp.id).outcome == "open"


def test_make_proposal_opens_the_new_draft_and_the_page_lists_it(app, rep_client, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, lines=[("Mowing", "4", "45.00")])
    response = rep_client.post(f"/admin/sales/opportunities/{opp.id}/proposal")
    assert response.status_code == 303 and "/admin/proposals/" in response.headers["Location"]
    with app.app_context():
        proposal = db.session.scalar(select(Proposal).where(Proposal.opportunity_id == opp.id))
        assert proposal is not None and proposal.included_total == 180
    page = rep_client.get(f"/admin/sales/opportunities/{opp.id}").get_data(as_text=True)
    assert f'id="proposal-{proposal.id}"' in page


def test_list_search_filters_pages_and_csv(app, rep_client, rep, customer, make):
    org, contact = customer
    other = make.organization_with("=HYPERLINK(evil)", team=[rep])
    for n in range(55):
        make_opportunity(app, rep, org, contact, title=f"Hedge {n:02d}")
    make_opportunity(app, rep, other, None, title="Pond", amount="-0")
    first = rep_client.get("/admin/sales/opportunities").get_data(as_text=True)
    assert len(re.findall(r'id="opportunity-\d', first)) == 50 and 'id="next-page"' in first
    after = re.search(r'id="next-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = rep_client.get(after).get_data(as_text=True)
    assert len(re.findall(r'id="opportunity-\d', second)) == 6
    found = rep_client.get("/admin/sales/opportunities?q=pond", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Pond" in found and "Hedge" not in found and "<html" not in found
    staged = rep_client.get(f"/admin/sales/opportunities?stage={stage_id(app, 'signed')}").get_data(as_text=True)
    assert not re.findall(r'id="opportunity-\d', staged)
    exported = rep_client.get("/admin/sales/opportunities.csv?q=pond")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][2] == "'=HYPERLINK(evil)"
    everything = rep_client.get("/admin/sales/opportunities.csv")
    assert len(everything.get_data(as_text=True).strip().splitlines()) == 57  # all rows, not one page


def test_board_and_list_query_counts_do_not_grow_with_rows(app, rep_client, rep, customer, count_queries):
    org, contact = customer

    def counted(path):
        with count_queries() as counter:
            assert rep_client.get(path).status_code == 200
        return counter.count

    make_opportunity(app, rep, org, contact)
    few = (counted("/admin/sales/board"), counted("/admin/sales/opportunities"))
    for n in range(12):
        make_opportunity(app, rep, org, contact, stage=("new", "qualified", "signed")[n % 3], title=f"O{n}")
    assert (counted("/admin/sales/board"), counted("/admin/sales/opportunities")) == few
