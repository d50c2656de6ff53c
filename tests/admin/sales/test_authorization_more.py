"""Authorization matrix of SALES-MORE's routes: supplier quotations, line costs, sales
reports, My day, and the public supplier page.

Each staff role, on the account team of one organization and not of another, against
that organization's opportunity (owned by another rep) and proposal: an allowed actor
gets the expected status and the object's name, a denied one a 404 without it.
"""

from __future__ import annotations

from flask import url_for

from portal.core.extensions import db
from portal.domains.proposals.models import Proposal
from tests.admin.sales import more_factories as more
from tests.factories import add_to_team

ROLES = ("admin", "manager", "sales", "technician")

# endpoint -> (method, object kind, "see" | "work", allowed status)
OBJECT_ROUTES = {
    ("admin.sales_costs.show", "GET"): ("proposal", "see", 200),
    ("admin.sales_costs.save", "POST"): ("proposal", "work", 303),
    ("admin.sales_quotes.new", "GET"): ("opportunity", "work", 200),
    ("admin.sales_quotes.new", "POST"): ("opportunity", "work", 422),
    ("admin.sales_quotes.compare", "GET"): ("opportunity", "see", 200),
    ("admin.sales_quotes.copy", "POST"): ("opportunity", "work", 422),
}
# Reports: every opportunity for admins and managers, their own figures for sales (the
# scoping is tested in test_reports.py), none for technicians.
REPORT_ROUTES = {
    ("admin.sales_reports.pipeline", "GET"): "Pipeline",
    ("admin.sales_reports.pipeline_csv", "GET"): "Open amount",
    ("admin.sales_reports.win_rate", "GET"): "Win rate",
    ("admin.sales_reports.win_rate_csv", "GET"): "Win rate",
    ("admin.sales_reports.first_response", "GET"): "first response",
    ("admin.sales_reports.first_response_csv", "GET"): "Median business minutes",
}
SESSION_ROUTES = {("admin.sales_dashboard.my_day", "GET"): "My day"}
PUBLIC_ROUTES = {
    ("supplier_quotes.show", "GET"): "the supplier page (token checked, changes nothing; rate-limited)",
    ("supplier_quotes.submit", "POST"): "the supplier's prices, once (token checked; rate-limited)",
    ("supplier_quotes.renew", "POST"): "a new link for an expired request (signed reference; rate-limited)",
}

CLASSIFIED = set(OBJECT_ROUTES) | set(REPORT_ROUTES) | set(SESSION_ROUTES) | set(PUBLIC_ROUTES)


def _allowed(role: str, on_team: bool, need: str) -> bool:
    if role in ("admin", "manager"):
        return True
    if not on_team:
        return False
    return not (role == "technician" and need == "work")


def _call(client, endpoint, method, values):
    with client.application.test_request_context():
        path = url_for(endpoint, **values)
    return client.get(path) if method == "GET" else client.post(path, data={})


def test_every_route_of_mine_is_served_and_classified(app):
    served = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint.startswith(
            (
                "admin.sales_costs.",
                "admin.sales_quotes.",
                "admin.sales_reports.",
                "admin.sales_dashboard.",
                "supplier_quotes.",
            )
        )
    }
    assert served == CLASSIFIED


def test_staff_matrix_on_opportunities_and_proposals(app, make, login, capsys):
    team_org, other_org = make.organization("Team Customer"), make.organization("Other Customer")
    rep = make.staff(name="Another Rep")
    objects = {}
    for where, org in (("team", team_org), ("other", other_org)):
        contact = make.contact(org)
        opp = more.opportunity(app, title=f"{where}-opportunity", organization_id=org.id, rep_id=rep.id)
        proposal = make.proposal(contact=contact, rep=rep, title=f"{where}-proposal")
        with app.app_context():
            db.session.get(Proposal, proposal.id).opportunity_id = opp
            db.session.commit()
        objects[where] = {
            "opportunity": ({"opportunity_id": opp}, f"{where}-opportunity"),
            "proposal": ({"proposal_id": proposal.id}, f"{where}-proposal"),
        }
    failures, cases = [], 0
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, team_org.id, user)
        client = app.test_client()
        login(client, user)
        for where in ("team", "other"):
            for (endpoint, method), (kind, need, status) in OBJECT_ROUTES.items():
                values, name = objects[where][kind]
                response = _call(client, endpoint, method, values)
                body = response.get_data(as_text=True)
                cases += 1
                if _allowed(role, where == "team", need):
                    ok = response.status_code == status and (status == 303 or name in body)
                else:
                    ok = response.status_code == 404 and name not in body
                if not ok:
                    failures.append((role, where, endpoint, method, response.status_code))
        for (endpoint, method), marker in REPORT_ROUTES.items():
            response = _call(client, endpoint, method, {})
            cases += 1
            if role == "technician":
                ok = response.status_code == 404
            else:
                ok = response.status_code == 200 and marker.lower() in response.get_data(as_text=True).lower()
            if not ok:
                failures.append((role, endpoint, response.status_code))
        for (endpoint, method), marker in SESSION_ROUTES.items():
            response = _call(client, endpoint, method, {})
            cases += 1
            if response.status_code != 200 or marker not in response.get_data(as_text=True):
                failures.append((role, endpoint, response.status_code))
        home = client.get("/admin/")
        cases += 1
        if home.status_code != 302 or not home.headers["Location"].endswith("/admin/my-day/"):
            failures.append((role, "admin.home", home.status_code))
    # Signed out: every staff route sends to the login page.
    anonymous = app.test_client()
    for (endpoint, method), (kind, _need, _status) in OBJECT_ROUTES.items():
        values, _name = objects["team"][kind]
        response = _call(anonymous, endpoint, method, values)
        cases += 1
        if response.status_code not in (302, 303) or "login" not in response.headers.get("Location", ""):
            failures.append(("anonymous", endpoint, response.status_code))
    with capsys.disabled():
        print(f"\nsales-more authorization matrix: {cases} cases")
    assert not failures, failures


def test_public_supplier_routes_need_a_valid_token(app, make, client):
    from portal.domains.identity.models import StaffUser
    from portal.domains.sales import supplier_quotes
    from portal.domains.sales.models import Opportunity

    _org, (ann,) = more.supplier(app, "Acme Supplies")
    staff = make.staff()
    opp = more.opportunity(app, title="Secret opportunity")
    with app.app_context():
        issued = supplier_quotes.request_supplier_quotes(
            db.session.get(Opportunity, opp), [ann], db.session.get(StaffUser, staff.id)
        )
        db.session.commit()
        token = issued[0].token
    assert client.get("/sq/xxx").status_code == 404
    page = client.get(f"/sq/{token}")
    assert page.status_code == 200 and "Acme Supplies" in page.get_data(as_text=True)
    # The supplier sees the items, never the customer's name or the opportunity's title.
    assert "Secret opportunity" not in page.get_data(as_text=True)
    assert client.post("/sq/not-a-token", data={}).status_code == 404
    assert client.post("/sq/renew", data={"ref": "forged"}).status_code == 404
