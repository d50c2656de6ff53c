"""The authorization matrix of leads and quote requests (issue 9, Access): every route
of the lead pages for every staff role, against leads each may and may not see; the
public quote page for anyone; the portal's "Ask for a quote" for contacts signed in,
holding only a link, or with no session.

Staff: admins and managers see every lead; sales their own, the unassigned ones and
those of organizations on their account team; technicians none (404 everywhere).
"""

from __future__ import annotations

import re
from html import escape

import pytest

from portal.core.extensions import db
from portal.domains.sales.models import Lead
from tests.factories import forge_signed_in_session

CLASSIFIED = {
    ("admin.leads.index", "GET"),
    ("admin.leads.new", "GET"),
    ("admin.leads.new", "POST"),
    ("admin.leads.show", "GET"),
    ("admin.leads.convert_customer", "POST"),
    ("admin.leads.convert_opportunity", "POST"),
    ("admin.leads.discard", "POST"),
    ("admin.leads.take", "POST"),
    ("quotes.request", "GET"),
    ("quotes.request", "POST"),
    ("quotes.thanks", "GET"),
    ("quotes.ask", "GET"),
    ("quotes.ask", "POST"),
    ("quotes.asked", "GET"),
}

# Which leads each actor sees, by the lead's relation to the actor "sales" (the rep
# under test): own, unassigned, another rep's on a customer of sales' account team,
# another rep's elsewhere.
RELATIONS = ("own", "unassigned", "team", "other")
SEES = {
    "admin": set(RELATIONS),
    "manager": set(RELATIONS),
    "sales": {"own", "unassigned", "team"},
    "technician": set(),
}


@pytest.fixture
def people(make, app):
    """One staff member per role (the technician on the team customer's account team
    too: it still sees no leads), a second rep, and the team customer."""
    actors = {role: make.staff(role=role, name=f"{role.title()} Person") for role in SEES}
    other = make.staff(role="sales", name="Other Rep")
    team_org = make.organization_with("Teamed Customer", team=[actors["sales"], actors["technician"]])
    return actors, other, team_org


def _leads(app, people, tag: str) -> dict[str, int]:
    """A fresh lead per relation (named so a page that shows one names it)."""
    actors, other, team_org = people
    reps = {"own": actors["sales"].id, "unassigned": None, "team": other.id, "other": other.id}
    ids = {}
    with app.app_context():
        for relation in RELATIONS:
            lead = Lead(
                name=f"Lead {relation} {tag}",
                company=f"Company {relation} {tag}",
                email=f"{relation}.{tag}@lead.example",
                rep_id=reps[relation],
                organization_id=team_org.id if relation == "team" else None,
            )
            db.session.add(lead)
            db.session.flush()
            ids[relation] = lead.id
        db.session.commit()
        db.session.remove()
    return ids


def _name(relation: str, tag: str) -> str:
    return f"Lead {relation} {tag}"


def _client(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


def _check_allowed(response, status: int, shows: str | None = None, location: str | None = None) -> str | None:
    if response.status_code != status:
        return f"status {response.status_code}, expected {status}"
    if location is not None:
        got = response.headers.get("Location", "")
        if not re.search(location, got):
            return f"went to {got!r}, expected {location!r}"
    if (
        shows is not None
        and escape(shows).encode() not in response.get_data()
        and f'id="{shows}"'.encode() not in (response.get_data())
    ):
        return f"{shows!r} not on the page"
    return None


def _check_denied(response, name: str) -> str | None:
    if response.status_code != 404:
        return f"status {response.status_code}, expected 404"
    if escape(name).encode() in response.get_data():
        return f"the 404 names {name!r}"
    return None


# Per-lead routes: (endpoint, what an allowed actor gets). Each runs on fresh leads.
LEAD_ROUTES = {
    "admin.leads.show": lambda c, i: c.get(f"/admin/sales/leads/{i}"),
    # An empty form: the new customer needs a name (nothing matches these leads).
    "admin.leads.convert_customer": lambda c, i: c.post(f"/admin/sales/leads/{i}/convert/customer", data={}),
    "admin.leads.convert_opportunity": lambda c, i: c.post(f"/admin/sales/leads/{i}/convert/opportunity"),
    "admin.leads.discard": lambda c, i: c.post(f"/admin/sales/leads/{i}/discard"),
    "admin.leads.take": lambda c, i: c.post(f"/admin/sales/leads/{i}/take"),
}


def _allowed(endpoint: str, response, lead_id: int, name: str, relation: str) -> str | None:
    if endpoint == "admin.leads.show":
        return _check_allowed(response, 200, shows=name)
    if endpoint == "admin.leads.convert_customer":
        return _check_allowed(response, 422, shows="organization_name")
    if endpoint == "admin.leads.take":
        # Only an unassigned lead can be taken; the others say it is no longer free (409).
        if relation != "unassigned":
            return _check_allowed(response, 409, shows="Someone else took this lead first")
        return _check_allowed(response, 303, location=r"/admin/sales/leads/%d$" % lead_id)
    if endpoint == "admin.leads.convert_opportunity":
        return _check_allowed(response, 303, location=r"/admin/sales/(leads/%d|opportunities/\d+)$" % lead_id)
    return _check_allowed(response, 303, location=r"/admin/sales/leads/%d$" % lead_id)


def test_staff_lead_matrix(app, people, login, capsys):
    actors, _other, _team = people
    failures, cases = [], 0
    for role, user in actors.items():
        client = _client(app, login, user)
        for endpoint, call in LEAD_ROUTES.items():
            tag = f"{role}-{endpoint.rsplit('.', 1)[1]}"
            leads = _leads(app, people, tag)
            for relation, lead_id in leads.items():
                response = call(client, lead_id)
                name = _name(relation, tag)
                if relation in SEES[role]:
                    problem = _allowed(endpoint, response, lead_id, name, relation)
                else:
                    problem = _check_denied(response, name)
                cases += 1
                if problem:
                    failures.append((role, relation, endpoint, problem))
    with capsys.disabled():
        print(f"\nlead authorization matrix: {cases} (route, actor, lead) cases")
    assert not failures, failures


def test_denied_posts_change_nothing(app, people, login):
    """A sales rep's POSTs on another rep's lead elsewhere: 404 and the lead untouched."""
    actors, other, _team = people
    leads = _leads(app, people, "untouched")
    client = _client(app, login, actors["sales"])
    for path in ("convert/customer", "convert/opportunity", "discard", "take"):
        assert (
            client.post(f"/admin/sales/leads/{leads['other']}/{path}", data={"organization_name": "X"}).status_code
            == 404
        )
    with app.app_context():
        lead = db.session.get(Lead, leads["other"])
        assert (lead.status, lead.organization_id, lead.opportunity_id, lead.rep_id) == ("open", None, None, other.id)


def test_the_list_shows_what_each_role_may_see(app, people, login):
    _leads(app, people, "listed")
    actors, _other, _team = people
    for role, user in actors.items():
        client = _client(app, login, user)
        response = client.get("/admin/sales/leads/")
        if role == "technician":
            assert response.status_code == 404
            continue
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        for relation in RELATIONS:
            assert (_name(relation, "listed") in body) == (relation in SEES[role]), (role, relation)


def test_new_lead_form_for_each_role(app, people, login):
    actors, _other, _team = people
    for role, user in actors.items():
        client = _client(app, login, user)
        form, empty = client.get("/admin/sales/leads/new"), client.post("/admin/sales/leads/new", data={})
        if role == "technician":
            assert (form.status_code, empty.status_code) == (404, 404)
        else:
            assert form.status_code == 200 and 'id="lead-form"' in form.get_data(as_text=True)
            assert empty.status_code == 422 and "Enter a name." in empty.get_data(as_text=True)


def test_anonymous_staff_routes_go_to_the_login(app, people):
    leads = _leads(app, people, "anon")
    client = app.test_client()
    for path in ("/admin/sales/leads/", "/admin/sales/leads/new", f"/admin/sales/leads/{leads['own']}"):
        response = client.get(path)
        assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"], path


# --- the public quote page and the portal ----------------------------------------------


def test_the_quote_page_is_public(app):
    client = app.test_client()
    page = client.get("/quote")
    assert page.status_code == 200 and 'id="quote-form"' in page.get_data(as_text=True)
    assert client.post("/quote", data={}).status_code == 422
    sent = client.post(
        "/quote", data={"name": "Vera Visitor", "email": "vera@visitor.example", "need": "Mowing, weekly"}
    )
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/quote/thanks")
    thanks = client.get("/quote/thanks")
    assert thanks.status_code == 200 and "v•••@visitor.example" in thanks.get_data(as_text=True)


@pytest.fixture
def contacts(make):
    org = make.organization_with("Quote Customer")
    other = make.organization_with("Another Customer")
    return {
        "me": make.contact(org, first_name="Quinn", email="quinn@quote.example"),
        "colleague": make.contact(org, first_name="Colleague", email="colleague@quote.example"),
        "stranger": make.contact(other, first_name="Stranger", email="stranger@other.example"),
    }


def _portal_lead(app, contact, need: str) -> int:
    with app.app_context():
        lead = Lead(
            name=contact.first_name,
            email=contact.email,
            notes=need,
            origin="portal",
            contact_id=contact.id,
            organization_id=contact.organization_id,
        )
        db.session.add(lead)
        db.session.commit()
        return lead.id


def test_portal_quote_routes_for_each_kind_of_visitor(app, make, contacts):
    me = contacts["me"]
    own = _portal_lead(app, me, "Need own hedges")
    colleagues = _portal_lead(app, contacts["colleague"], "Need colleague hedges")
    strangers = _portal_lead(app, contacts["stranger"], "Need stranger hedges")

    signed_in = app.test_client()
    forge_signed_in_session(app, signed_in, me)
    ask = signed_in.get("/quotes/new")
    assert ask.status_code == 200 and 'id="ask-form"' in ask.get_data(as_text=True)
    assert signed_in.post("/quotes/new", data={"need": ""}).status_code == 422
    sent = signed_in.post("/quotes/new", data={"need": "A new lawn"})
    assert sent.status_code == 303 and re.search(r"/quotes/\d+$", sent.headers["Location"])
    page = signed_in.get(f"/quotes/{own}")
    assert page.status_code == 200 and "Need own hedges" in page.get_data(as_text=True)
    for lead_id, text in ((colleagues, "Need colleague hedges"), (strangers, "Need stranger hedges")):
        denied = signed_in.get(f"/quotes/{lead_id}")
        assert denied.status_code == 404 and text not in denied.get_data(as_text=True)

    # A browser that only opened a proposal link is not known to be the contact's own.
    delivered = make.delivered(contact=me, title="Linked proposal")
    link_only = app.test_client()
    assert link_only.get(f"/l/{delivered.token}").status_code == 303
    for client in (link_only, app.test_client()):
        for response in (client.get("/quotes/new"), client.post("/quotes/new", data={"need": "x"})):
            assert response.status_code == 303 and "/sign-in" in response.headers["Location"]
        denied = client.get(f"/quotes/{own}")
        assert denied.status_code in (303, 404) and "Need own hedges" not in denied.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Lead).count() == 4  # the one signed-in request only
