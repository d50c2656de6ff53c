"""The campaign pages over HTTP: the screen and its htmx preview, Run (and bad input:
422 with the message, never a 500), the campaign page with its progress partial,
results, items by state, Deliver all and Run again; query counts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.core.extensions import db
from portal.domains.campaigns.models import Campaign
from portal.domains.sales.models import Opportunity
from tests.campaign_factories import customer, make_contract, make_property, work_off
from tests.factories import make_jobs_due

HX = {"HX-Request": "true"}


@pytest.fixture
def manager(make):
    return make.staff(role="manager", name="Mona Manager")


@pytest.fixture
def manager_client(client, manager, login):
    login(client, manager)
    return client


@pytest.fixture
def offered(app, make):
    """A service four active contracts offer (one property without a contact)."""
    service = make.catalog_item("Aeration", "100.00")
    org = customer(app, make, "Greenleaf", zone="North")
    for n in range(3):
        make_contract(app, org, make_property(app, org, name=f"Lot {n}"), service.id, "120.00")
    make_contract(app, org, make_property(app, org, with_contact=False), service.id, "50.00")
    return {"service": service.id, "organization": org, "nobody": make.catalog_item("Snow", "10.00").id}


def _campaign_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(Campaign.id)))


def test_the_screen_lists_the_offered_services_and_previews_with_htmx(manager_client, offered):
    page = manager_client.get("/admin/campaigns/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Aeration (4 contracts)" in html and "Snow (no contract offers it)" in html
    assert 'id="preview-empty"' in html
    partial = manager_client.get(f"/admin/campaigns/new?service_id={offered['service']}", headers=HX)
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in body and 'id="preview"' in body
    assert 'id="preview-count">4<' in body and 'id="preview-to-make">4<' in body
    assert "$410.00" in body  # 3 x 120 + 50
    assert "HX-Request" in partial.headers.get("Vary", "")


def test_a_service_nobody_offers_previews_zero_with_run_disabled(manager_client, offered):
    body = manager_client.get(f"/admin/campaigns/new?service_id={offered['nobody']}", headers=HX).get_data(as_text=True)
    assert 'id="preview-count">0<' in body and 'id="preview-none"' in body
    assert 'id="run"' in body and "disabled" in body.split('id="run"')[1].split(">")[0]


@pytest.mark.parametrize(
    "query",
    [
        "service_id=abc",
        "service_id=1&organization_id=x",
        "service_id=1&ends_from=2027-13-45",
        "service_id=1&ends_from=1900-01-01",
        "service_id=1&ends_from=2027-06-01&ends_to=2027-01-01",
        "service_id=1&zone=" + "z" * 200,
        "service_id=99999",
        "after=notanumber&service_id=1",
    ],
)
def test_bad_filters_in_the_query_string_come_back_with_a_message_never_a_500(manager_client, offered, query):
    response = manager_client.get(f"/admin/campaigns/new?{query}")
    assert response.status_code in (200, 422)


def test_run_makes_the_campaign_and_redirects_to_its_page(app, manager_client, offered):
    response = manager_client.post(
        "/admin/campaigns/new", data={"service_id": offered["service"], "name": "Aeration 2027"}
    )
    assert response.status_code == 303
    campaign_id = _campaign_id(app)
    assert response.headers["Location"].endswith(f"/admin/campaigns/{campaign_id}")
    page = manager_client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Starting" in page and 'hx-trigger="every 2s"' in page
    work_off(app)
    progress = manager_client.get(f"/admin/campaigns/{campaign_id}/progress", headers=HX)
    body = progress.get_data(as_text=True)
    assert "<html" not in body and 'id="progress"' in body
    assert "every 2s" not in body  # done: the polling stops
    assert 'value="100"' in body and "3 made, 1 skipped, 0 failed, of 4 properties" in body
    assert 'id="count-open">3<' in body and 'id="deliver-all"' in body
    skipped = manager_client.get(f"/admin/campaigns/{campaign_id}?state=skipped", headers=HX).get_data(as_text=True)
    assert 'id="items"' in skipped and "No one to address" in skipped and "<html" not in skipped
    listed = manager_client.get("/admin/campaigns/").get_data(as_text=True)
    assert "Aeration 2027" in listed


def test_run_with_htmx_redirects_with_hx_redirect(app, manager_client, offered):
    response = manager_client.post(
        "/admin/campaigns/new", data={"service_id": offered["service"], "name": "By htmx"}, headers=HX
    )
    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith("/admin/campaigns/")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "No service"}, "Choose a service."),
        ({"service_id": "x", "name": "Bad service"}, "Invalid Choice"),
        ({"service_id": "NOBODY", "name": "Nobody"}, "No property qualifies"),
        ({"service_id": "SERVICE", "name": ""}, "Name the campaign."),
        ({"service_id": "SERVICE", "name": "n" * 121}, "Field cannot be longer than 120 characters."),
        (
            {"service_id": "SERVICE", "name": "Window", "ends_from": "2027-06-01", "ends_to": "2027-01-01"},
            "before its start",
        ),
        ({"service_id": "SERVICE", "name": "Year", "ends_from": "1900-01-01"}, "Type a date"),
        ({"service_id": "SERVICE", "name": "Org", "organization_id": "99999"}, "Choose an organization"),
    ],
)
def test_bad_input_on_run_is_a_422_with_the_message(app, manager_client, offered, data, message):
    data = {
        key: (str(offered["service"]) if value == "SERVICE" else str(offered["nobody"]) if value == "NOBODY" else value)
        for key, value in data.items()
    }
    response = manager_client.post("/admin/campaigns/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _campaign_id(app) is None


def test_a_used_name_is_a_422_with_a_message(app, manager_client, offered, make, login):
    manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Spring"})
    other = app.test_client()
    login(other, make.staff(role="admin"))
    response = other.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "SPRING"})
    assert response.status_code == 422 and "exists already" in response.get_data(as_text=True)


def test_a_double_click_on_run_makes_one_campaign(app, manager_client, offered):
    for _ in range(2):
        response = manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Twice"})
        assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_deliver_all_and_run_again_over_http(app, manager_client, offered):
    manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Deliver"})
    campaign_id = _campaign_id(app)
    early = manager_client.post(f"/admin/campaigns/{campaign_id}/deliver")
    assert early.status_code == 409  # not finished yet
    work_off(app)
    for _ in range(2):
        assert manager_client.post(f"/admin/campaigns/{campaign_id}/deliver").status_code == 303
    work_off(app)
    page = manager_client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "3 proposals delivered." in page and 'id="count-delivered">3<' in page
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/rerun", data={"run": "1"}).status_code == 303
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/rerun", data={"run": "1"}).status_code == 303
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/rerun", data={"run": "x"}).status_code == 422
    work_off(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Opportunity)) == 3
        assert db.session.get(Campaign, campaign_id).run_count == 2


def test_unknown_campaigns_are_404(manager_client):
    assert manager_client.get("/admin/campaigns/999").status_code == 404
    assert manager_client.get("/admin/campaigns/999/progress").status_code == 404
    assert manager_client.post("/admin/campaigns/999/deliver").status_code == 404


def test_the_campaign_page_and_list_take_a_fixed_number_of_queries(app, manager_client, offered, make, count_queries):
    manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Counted"})
    campaign_id = _campaign_id(app)
    work_off(app)

    def counts() -> tuple[int, ...]:
        found = []
        for path in (
            f"/admin/campaigns/{campaign_id}",
            f"/admin/campaigns/{campaign_id}/progress",
            "/admin/campaigns/",
        ):
            with count_queries() as counter:
                assert manager_client.get(path).status_code == 200
            found.append(counter.count)
        with count_queries() as counter:
            assert manager_client.get(f"/admin/campaigns/new?service_id={offered['service']}").status_code == 200
        found.append(counter.count)
        return tuple(found)

    before = counts()
    # More properties, more campaigns: the same number of queries.
    org = customer(app, make, "Harbor")
    for _ in range(6):
        make_contract(app, org, make_property(app, org), offered["service"], "75.00")
    manager_client.post(f"/admin/campaigns/{campaign_id}/rerun", data={"run": "1"})
    manager_client.post("/admin/campaigns/new", data={"service_id": offered["nobody"], "name": "Zero"})
    work_off(app)
    assert counts() == before


def test_a_part_that_keeps_failing_is_shown_retrying_then_failed_and_run_again_makes_it(
    app, manager_client, offered, monkeypatch
):
    from portal.domains.campaigns import run as runs

    monkeypatch.setitem(app.config, "JOBS_MAX_ATTEMPTS", 2)

    def broken(count):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(runs, "reserve_numbers", broken)
    manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Stuck"})
    campaign_id = _campaign_id(app)
    work_off(app)  # the run enumerates; its one chunk fails once and waits for its retry
    part = manager_client.get(f"/admin/campaigns/{campaign_id}/progress", headers=HX).get_data(as_text=True)
    assert 'id="progress-retry"' in part and "1 part of the run failed; it is tried again from" in part
    assert "Running…" in part and "disk is full" not in part  # the error stays in the job, not on the page
    make_jobs_due(app)
    work_off(app)  # the second and last attempt fails: the job is given up
    part = manager_client.get(f"/admin/campaigns/{campaign_id}/progress", headers=HX).get_data(as_text=True)
    assert 'data-status="done"' in part and 'id="progress-retry"' not in part
    assert "0 made, 0 skipped, 4 failed, of 4 properties" in part
    assert "4 properties failed: Run again tries them once more." in part
    failed = manager_client.get(f"/admin/campaigns/{campaign_id}?state=failed", headers=HX).get_data(as_text=True)
    assert failed.count("this part of the run failed every time it was tried") == 4
    monkeypatch.undo()  # the disk has room again
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/rerun", data={"run": "1"}).status_code == 303
    work_off(app)
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert (campaign.status, campaign.made_count, campaign.skipped_count, campaign.failed_count) == (
            "done",
            3,
            1,
            0,
        )
        assert db.session.scalar(select(func.count()).select_from(Opportunity)) == 3


def test_a_run_that_cannot_list_its_properties_stops_waiting_says_so_and_can_run_again(
    app, manager_client, offered, monkeypatch
):
    from portal.domains.campaigns import run as runs

    monkeypatch.setitem(app.config, "JOBS_MAX_ATTEMPTS", 2)
    real = runs.begin_run

    def broken(campaign_id, run):
        raise RuntimeError("the database is read-only")

    monkeypatch.setattr(runs, "begin_run", broken)
    manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Never listed"})
    campaign_id = _campaign_id(app)
    work_off(app)
    part = manager_client.get(f"/admin/campaigns/{campaign_id}/progress", headers=HX).get_data(as_text=True)
    assert "Starting…" in part and "1 part of the run failed; it is tried again from" in part
    make_jobs_due(app)
    work_off(app)  # the last attempt: given up
    part = manager_client.get(f"/admin/campaigns/{campaign_id}/progress", headers=HX).get_data(as_text=True)
    assert 'data-status="done"' in part and 'id="progress-given-up"' in part and 'id="run-again"' in part
    monkeypatch.setattr(runs, "begin_run", real)
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/rerun", data={"run": "1"}).status_code == 303
    work_off(app)
    part = manager_client.get(f"/admin/campaigns/{campaign_id}/progress", headers=HX).get_data(as_text=True)
    assert 'id="progress-given-up"' not in part and "3 made, 1 skipped, 0 failed, of 4 properties" in part


def test_proposals_a_later_run_makes_are_offered_deliver_all_again(app, manager_client, offered, make):
    from portal.mail.models import OutboxMessage

    manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Twice"})
    campaign_id = _campaign_id(app)
    work_off(app)
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/deliver").status_code == 303
    work_off(app)
    page = manager_client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "3 proposals delivered." in page and 'id="deliver-all"' not in page  # nothing left to send
    # A contract that qualifies since: Run again makes its draft, which Deliver all sends.
    make_contract(app, offered["organization"], make_property(app, offered["organization"]), offered["service"], "80")
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/rerun", data={"run": "1"}).status_code == 303
    work_off(app)
    page = manager_client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "1 draft proposal not delivered yet." in page and 'id="deliver-all"' in page
    for _ in range(2):  # a double click: one delivery
        assert manager_client.post(f"/admin/campaigns/{campaign_id}/deliver").status_code == 303
    work_off(app)
    page = manager_client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "4 proposals delivered." in page and 'id="deliver-all"' not in page
    with app.app_context():
        sent = db.session.scalars(select(OutboxMessage.to_addr).where(OutboxMessage.kind == "proposal_delivered"))
        assert len(list(sent)) == 4  # each proposal once


def test_a_delivery_given_up_offers_deliver_all_again_for_the_rest(app, manager_client, offered, monkeypatch):
    from portal.domains.campaigns import run as runs

    monkeypatch.setitem(app.config, "JOBS_MAX_ATTEMPTS", 1)
    manager_client.post("/admin/campaigns/new", data={"service_id": offered["service"], "name": "Stopped"})
    campaign_id = _campaign_id(app)
    work_off(app)
    real = runs.deliver_all

    def broken(campaign_id, staff_id):
        raise RuntimeError("the mail queue's disk is full")

    monkeypatch.setattr(runs, "deliver_all", broken)
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/deliver").status_code == 303
    work_off(app)  # the one attempt fails: given up
    page = manager_client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Delivering…" not in page and "3 draft proposals not delivered yet." in page and 'id="deliver-all"' in page
    monkeypatch.setattr(runs, "deliver_all", real)
    assert manager_client.post(f"/admin/campaigns/{campaign_id}/deliver").status_code == 303
    work_off(app)
    page = manager_client.get(f"/admin/campaigns/{campaign_id}").get_data(as_text=True)
    assert "3 proposals delivered." in page and 'id="deliver-all"' not in page
