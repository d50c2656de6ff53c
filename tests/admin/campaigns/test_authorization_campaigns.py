"""The authorization matrix of the campaign screens: admins and managers may do
everything; sales reps and technicians get a 404 on every route, and the 404 does
not name the campaign (``portal.access.staff.campaigns`` says why sales do not).

``CLASSIFIED`` tells ``tests/test_authorization_matrix.py`` these routes are covered.
"""

from __future__ import annotations

from flask import url_for

from tests.campaign_factories import customer, make_contract, make_property, start

ROLES = ("admin", "manager", "sales", "technician")

# endpoint -> (method(s), URL values needed)
ROUTES = {
    "admin.campaigns.index": ("GET", False),
    "admin.campaigns.new": ("GET", False),
    "admin.campaigns.run": ("POST", False),
    "admin.campaigns.show": ("GET", True),
    "admin.campaigns.progress": ("GET", True),
    "admin.campaigns.rerun": ("POST", True),
    "admin.campaigns.deliver": ("POST", True),
}

CLASSIFIED = {(endpoint, method) for endpoint, (method, _needs) in ROUTES.items()}

# What an allowed actor gets with empty data: (status, an id in the body)
ALLOWED = {
    ("admin.campaigns.index", "GET"): (200, "campaigns"),
    ("admin.campaigns.new", "GET"): (200, "campaign-form"),
    ("admin.campaigns.run", "POST"): (422, "campaign-form"),
    ("admin.campaigns.show", "GET"): (200, "items"),
    ("admin.campaigns.progress", "GET"): (200, "progress"),
    ("admin.campaigns.rerun", "POST"): (422, "progress"),  # no run number: the page again
    ("admin.campaigns.deliver", "POST"): (409, None),  # the run has not finished
}

SECRET = "Hidden campaign name"


def test_campaigns_matrix(app, make, login, capsys):
    owner = make.staff(role="manager")
    service = make.catalog_item("Aeration", "100.00")
    org = customer(app, make, "Matrix Customer")
    make_contract(app, org, make_property(app, org), service.id)
    campaign_id = start(app, owner.id, service.id, name=SECRET)
    cases, failures = 0, []
    for role in ROLES:
        user = make.staff(role=role)
        client = app.test_client()
        login(client, user)
        allowed = role in ("admin", "manager")
        for endpoint, (method, needs_id) in ROUTES.items():
            with app.test_request_context():
                path = url_for(endpoint, **({"campaign_id": campaign_id} if needs_id else {}))
            response = client.get(path) if method == "GET" else client.post(path, data={})
            cases += 1
            body = response.get_data()
            if allowed:
                status, shows = ALLOWED[(endpoint, method)]
                if response.status_code != status:
                    failures.append((role, endpoint, f"status {response.status_code}, expected {status}"))
                elif shows and f'id="{shows}"'.encode() not in body:
                    failures.append((role, endpoint, f"no #{shows}"))
            else:
                if response.status_code != 404:
                    failures.append((role, endpoint, f"status {response.status_code}, expected 404"))
                if SECRET.encode() in body:
                    failures.append((role, endpoint, "the 404 names the campaign"))
    with capsys.disabled():
        print(f"\ncampaigns authorization matrix: {cases} (route, actor) cases")
    assert not failures, failures
