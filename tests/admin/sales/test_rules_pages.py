"""Assignment rules, teams, absences, the calendar feed and the opportunity page's
follow-up, activity and assignment sections over HTTP: what a user sees, bad input
(422 with the message and what was typed), htmx partials, and query counts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.sales import autoclose
from portal.domains.sales.models import Opportunity, Outcome, Source
from portal.domains.sales.models_rules import (
    AssignmentRule,
    OpportunityActivity,
    SalesTeam,
    StaffAbsence,
    WaitingPeriod,
)
from tests.sales_factories import make_opportunity, stage_id, type_id

HX = {"HX-Request": "true"}


@pytest.fixture
def admin(make):
    return make.staff(role="admin", name="Ada Admin")


@pytest.fixture
def admin_client(client, admin, login):
    login(client, admin)
    return client


@pytest.fixture
def rep(make):
    return make.staff(name="Rita Rep")


@pytest.fixture
def opportunity(app, make, rep):
    org = make.organization_with("Birch Lane HOA", team=[rep])
    return make_opportunity(app, rep, org, title="Spring cleanup")


def _rule_form(**overrides) -> dict:
    data = {
        "name": "Web to Rita",
        "applies_to": "any",
        "source_id": "0",
        "type_id": "0",
        "zone": "",
        "city": "",
        "amount_min": "",
        "amount_max": "",
        "action": "rep",
        "rep_id": "0",
        "team_id": "0",
        "is_active": "y",
    }
    data.update(overrides)
    return data


def test_admin_adds_a_rule_and_sees_it_in_order(app, admin_client, rep):
    with app.app_context():
        web = db.session.scalar(select(Source.id).where(Source.key == "website"))
    response = admin_client.post(
        "/admin/sales/rules/new", data=_rule_form(source_id=str(web), rep_id=str(rep.id), amount_min="100")
    )
    assert response.status_code == 303
    page = admin_client.get("/admin/sales/rules/").get_data(as_text=True)
    assert "Web to Rita" in page and "source Website" in page and "Rita Rep" in page
    admin_client.post("/admin/sales/rules/new", data=_rule_form(name="Second", rep_id=str(rep.id)))
    with app.app_context():
        second = db.session.scalar(select(AssignmentRule).where(AssignmentRule.name == "Second"))
    admin_client.post(f"/admin/sales/rules/{second.id}/move", data={"direction": "up"})
    page = admin_client.get("/admin/sales/rules/").get_data(as_text=True)
    assert page.index("Second") < page.index("Web to Rita")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount_min": "abc"}, "Enter a number."),
        ({"amount_min": "500", "amount_max": "100"}, "must not be below"),
        ({"amount_min": "sNaN"}, "Enter a number."),
        ({"name": ""}, "Give the rule a name."),
        ({"action": "team", "team_id": "0"}, "Choose the team"),
        ({"rep_id": "99999999"}, "Choose the rep"),
        ({"source_id": "2" * 30}, "Invalid Choice"),
    ],
)
def test_bad_rule_input_comes_back_with_the_message_and_what_was_typed(admin_client, overrides, message):
    data = _rule_form(zone="Riverside", **overrides)
    response = admin_client.post("/admin/sales/rules/new", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body and 'value="Riverside"' in body


def test_a_team_with_weights_and_a_bad_weight(app, admin_client, rep, make):
    other = make.staff(name="Otto Other")
    response = admin_client.post(
        "/admin/sales/rules/teams/new", data={"name": "North", f"weight_{rep.id}": "2", f"weight_{other.id}": "1"}
    )
    assert response.status_code == 303
    assert "Rita Rep ×2" in admin_client.get("/admin/sales/rules/").get_data(as_text=True)
    with app.app_context():
        team = db.session.scalar(select(SalesTeam).where(SalesTeam.name == "North"))
        team_id = team.id
    bad = admin_client.post(f"/admin/sales/rules/teams/{team_id}", data={"name": "North", f"weight_{rep.id}": "99"})
    assert bad.status_code == 422 and "Weights go from 1 to 10" in bad.get_data(as_text=True)
    assert 'value="99"' in bad.get_data(as_text=True)


def test_a_manager_reads_the_rules_but_cannot_change_them(app, client, make, login):
    manager = make.staff(role="manager")
    login(client, manager)
    page = client.get("/admin/sales/rules/")
    assert page.status_code == 200 and "Add a rule" not in page.get_data(as_text=True)
    assert client.post("/admin/sales/rules/new", data=_rule_form()).status_code == 404


def test_someone_adds_their_own_absence_and_bad_dates_say_so(app, client, rep, login):
    login(client, rep)
    assert client.get("/admin/sales/people/me").headers["Location"].endswith(f"/admin/sales/people/{rep.id}")
    start = date.today() + timedelta(days=3)
    ok = client.post(
        f"/admin/sales/people/{rep.id}/absences",
        data={"starts_on": start.isoformat(), "ends_on": (start + timedelta(days=2)).isoformat(), "note": "Beach"},
    )
    assert ok.status_code == 303
    assert "Beach" in client.get(f"/admin/sales/people/{rep.id}").get_data(as_text=True)
    backwards = client.post(
        f"/admin/sales/people/{rep.id}/absences",
        data={"starts_on": start.isoformat(), "ends_on": (start - timedelta(days=1)).isoformat(), "note": "Oops"},
    )
    assert backwards.status_code == 422 and "must not be before" in backwards.get_data(as_text=True)
    assert 'value="Oops"' in backwards.get_data(as_text=True)
    ancient = client.post(
        f"/admin/sales/people/{rep.id}/absences", data={"starts_on": "1900-01-01", "ends_on": "1900-01-02"}
    )
    assert ancient.status_code == 422 and "Enter a date between" in ancient.get_data(as_text=True)
    garbage = client.post(f"/admin/sales/people/{rep.id}/absences", data={"starts_on": "soon", "ends_on": ""})
    assert garbage.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffAbsence)) == 1


def test_the_feed_url_is_shown_once_and_serves_the_follow_ups(app, client, rep, opportunity, login):
    login(client, rep)
    with app.app_context():
        opp = db.session.get(Opportunity, opportunity.id)
        opp.next_contact_on, opp.next_contact_by_id = date.today(), rep.id
        db.session.commit()
    issued = client.post(f"/admin/sales/people/{rep.id}/feed")
    body = issued.get_data(as_text=True)
    url = re.search(r'id="feed-url" readonly value="([^"]+)"', body).group(1)
    assert issued.headers["Cache-Control"] == "no-store"
    assert url not in client.get(f"/admin/sales/people/{rep.id}").get_data(as_text=True)
    feed = client.get(url.replace("https://portal.example.test", "").replace("http://localhost", ""))
    assert feed.status_code == 200
    [event] = Calendar.from_ical(feed.get_data()).walk("VEVENT")
    assert "Spring cleanup" in str(event["summary"])
    client.post(f"/admin/sales/people/{rep.id}/feed/revoke")
    assert client.get(re.sub(r"^https?://[^/]+", "", url)).status_code == 404


def test_setting_a_follow_up_through_htmx_swaps_the_section(app, client, rep, opportunity, login):
    login(client, rep)
    day = date.today() + timedelta(days=1)
    response = client.post(
        f"/admin/sales/opportunities/{opportunity.id}/follow-up",
        data={"next_contact_on": day.isoformat(), "next_contact_by_id": str(rep.id)},
        headers=HX,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="followup"' in body
    assert "Rita Rep" in body and "Next contact on" in body
    with app.app_context():
        stored = db.session.get(Opportunity, opportunity.id)
        assert (stored.next_contact_on, stored.next_contact_by_id) == (day, rep.id)
    bad = client.post(
        f"/admin/sales/opportunities/{opportunity.id}/follow-up",
        data={"next_contact_on": "1900-01-01", "next_contact_by_id": str(rep.id)},
        headers=HX,
    )
    assert bad.status_code == 422 and "within the next" in bad.get_data(as_text=True)
    plain = client.post(
        f"/admin/sales/opportunities/{opportunity.id}/follow-up",
        data={"next_contact_on": "not a date", "next_contact_by_id": str(rep.id)},
    )
    assert plain.status_code == 422 and "<html" in plain.get_data(as_text=True)
    cleared = client.post(f"/admin/sales/opportunities/{opportunity.id}/follow-up/clear")
    assert cleared.status_code == 303
    with app.app_context():
        assert db.session.get(Opportunity, opportunity.id).next_contact_on is None


def test_logging_a_call_lists_it_and_resets_the_no_reply_count(app, client, rep, opportunity, login):
    login(client, rep)
    response = client.post(
        f"/admin/sales/opportunities/{opportunity.id}/activities",
        data={"kind": "call", "happened_at": "2026-12-01T09:30", "text": "Wants a second quote"},
        headers=HX,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Wants a second quote" in body and "<html" not in body
    with app.app_context():
        assert db.session.get(Opportunity, opportunity.id).last_customer_activity_at is not None
    bad = client.post(
        f"/admin/sales/opportunities/{opportunity.id}/activities",
        data={"kind": "call", "happened_at": "2999-01-01T10:00", "text": "Kept text"},
        headers=HX,
    )
    assert bad.status_code == 422 and "in the future" in bad.get_data(as_text=True)
    assert "Kept text" in bad.get_data(as_text=True)


def test_an_opportunity_closed_for_no_reply_is_reopened_in_one_click(app, client, rep, opportunity, login):
    login(client, rep)
    long_ago = utcnow() - timedelta(days=60)
    with app.app_context():
        opp = db.session.get(Opportunity, opportunity.id)
        opp.stage_id = stage_id(app, "proposal_sent")
        db.session.add(WaitingPeriod(opportunity_id=opp.id, stage_id=opp.stage_id, since=long_ago))
        db.session.commit()
        assert autoclose.run_auto_close().closed == 1
    page = client.get(f"/admin/sales/opportunities/{opportunity.id}").get_data(as_text=True)
    assert 'id="auto-closed"' in page and 'id="reopen-no-reply"' in page
    response = client.post(f"/admin/sales/opportunities/{opportunity.id}/reopen-no-reply")
    assert response.status_code == 303
    with app.app_context():
        stored = db.session.get(Opportunity, opportunity.id)
        assert stored.outcome == Outcome.OPEN and stored.stage_id == stage_id(app, "proposal_sent")
    assert client.post(f"/admin/sales/opportunities/{opportunity.id}/reopen-no-reply").status_code == 409


def test_the_staff_form_assigns_by_the_rules_and_auto_reassigns(app, client, make, login, rep):
    org = make.organization_with("Oak Street", team=[rep])
    other = make.staff(name="Otto Other")
    with app.app_context():
        db.session.add(AssignmentRule(name="Oak to Otto", position=1, rep_id=other.id))
        db.session.commit()
    login(client, rep)
    response = client.post(
        "/admin/sales/opportunities/new",
        data={
            "title": "Hedges",
            "organization_id": str(org.id),
            "contact_id": "0",
            "lead_id": "0",
            "type_id": str(type_id(app)),
            "stage_id": str(stage_id(app, "new")),
            "source_id": "0",
            "amount": "300.00",
            "currency": "USD",
            "rep_id": "0",
            "next_contact_by_id": "0",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        created = db.session.scalar(select(Opportunity).where(Opportunity.title == "Hedges"))
        assert created.rep_id == other.id
        created.rep_id = rep.id
        db.session.commit()
        created_id = created.id
    page = client.get(f"/admin/sales/opportunities/{created_id}").get_data(as_text=True)
    assert "Oak to Otto" in page  # the timeline says which rule fired
    assert client.post(f"/admin/sales/opportunities/{created_id}/auto-assign").status_code == 303
    with app.app_context():
        assert db.session.get(Opportunity, created_id).rep_id == other.id


def test_the_page_shows_the_unassigned_flag(app, client, make, login):
    manager = make.staff(role="manager")
    org = make.organization("Nobody's")
    opp = make_opportunity(app, manager, org, title="Orphan", rep_id=None)
    login(client, manager)
    page = client.get(f"/admin/sales/opportunities/{opp.id}").get_data(as_text=True)
    assert 'id="assignment-flag"' in page and "no assignment rule matches" in page


def test_the_sections_add_a_fixed_number_of_queries(app, client, rep, opportunity, login, count_queries):
    login(client, rep)

    def counted():
        with count_queries() as counter:
            assert client.get(f"/admin/sales/opportunities/{opportunity.id}").status_code == 200
        return counter.count

    client.post(
        f"/admin/sales/opportunities/{opportunity.id}/activities",
        data={"kind": "note", "happened_at": "2026-12-01T09:30", "text": "First"},
    )
    few = counted()
    for n in range(8):
        client.post(
            f"/admin/sales/opportunities/{opportunity.id}/activities",
            data={"kind": "meeting", "happened_at": "2026-12-01T10:00", "text": f"Meeting {n}"},
        )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OpportunityActivity)) == 9
    assert counted() == few


def test_rules_and_people_pages_have_fixed_query_counts(app, admin_client, make, count_queries):
    from portal.domains.sales.models_rules import SalesTeamMember

    def counted(path):
        with count_queries() as counter:
            assert admin_client.get(path).status_code == 200
        return counter.count

    def add(n: int, first: int):
        people = [make.staff(name=f"P{first + i}") for i in range(n)]
        with app.app_context():
            team = SalesTeam(name=f"Team {first}")
            db.session.add(team)
            db.session.flush()
            team.members.extend(SalesTeamMember(staff_id=p.id, weight=1) for p in people)
            for i, person in enumerate(people):
                db.session.add(AssignmentRule(name=f"R{first + i}", position=first + i, rep_id=person.id))
                db.session.add(AssignmentRule(name=f"T{first + i}", position=first + i, team_id=team.id))
                db.session.add(StaffAbsence(staff_id=person.id, starts_on=date(2031, 1, 1), ends_on=date(2031, 1, 2)))
            db.session.commit()

    add(1, 0)
    few = (counted("/admin/sales/rules/"), counted("/admin/sales/people/"))
    add(6, 10)
    assert (counted("/admin/sales/rules/"), counted("/admin/sales/people/")) == few


def test_an_organizations_zone_is_edited_on_its_form_and_rules_match_it(app, admin_client, make):
    from portal.domains.customers.models import Organization
    from portal.domains.sales.assignment import assign_owner

    organization = make.organization("Zoned Co")
    data = {
        "name": "Zoned Co",
        "city": "Troy",
        "zone": "  North   East ",
        "parent_id": "0",
        "invoice_template": "standard",
        "tax_region": "none",
        "tax_id": "",
        "billing_address": "1 Elm Street",
        "billing_attention": "",
        "account_manager_id": "0",
    }
    assert admin_client.post(f"/admin/organizations/{organization.id}/edit", data=data).status_code == 303
    long_zone = admin_client.post(f"/admin/organizations/{organization.id}/edit", data={**data, "zone": "z" * 81})
    assert long_zone.status_code == 422
    rep = make.staff(name="Nora North")
    with app.app_context():
        assert db.session.get(Organization, organization.id).zone == "North East"
        db.session.add(AssignmentRule(name="North East", position=1, zone="north east", rep_id=rep.id))
        opp = Opportunity(
            title="Zoned", organization_id=organization.id, type_id=type_id(app), stage_id=stage_id(app, "new")
        )
        db.session.add(opp)
        db.session.flush()
        assert assign_owner(opp).id == rep.id
        db.session.rollback()


def test_the_customer_opening_its_proposal_on_the_portal_is_customer_activity(app, make, client, open_link):
    from portal.domains.proposals.models import Proposal

    delivered = make.delivered()
    owner = make.staff(role="manager")
    opp = make_opportunity(app, owner, make.organization("Quoted Co"), title="Quoted")
    with app.app_context():
        db.session.get(Proposal, delivered.proposal.id).opportunity_id = opp.id
        db.session.get(Opportunity, opp.id).last_customer_activity_at = None
        db.session.commit()
    page = open_link(client, delivered.token)
    assert page.status_code == 200
    with app.app_context():
        first = db.session.get(Opportunity, opp.id).last_customer_activity_at
    assert first is not None
    client.get(f"/p/proposals/{delivered.proposal.id}")  # again within a quarter hour: no new write
    with app.app_context():
        assert db.session.get(Opportunity, opp.id).last_customer_activity_at == first
