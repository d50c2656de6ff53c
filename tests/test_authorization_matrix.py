"""The authorization matrix: every route, for every kind of actor, against objects they
may and may not see. A route missing from the tables below fails the test, so a new
route cannot slip past it.

Portal: contacts of each level (signed in), in an organization O whose parent is P and
whose sub-organization is S, against proposals addressed to them, to a colleague in O,
in S, in P and in an unrelated U; and a contact who only opened one link.

Admin: each staff role, on the account team of one organization and not of another,
against that organization's objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from flask import url_for

from portal.extensions import db
from portal.models import Contact, Organization
from tests.factories import add_to_team, sign_form

# --- what every route is ---------------------------------------------------------

# Routes anyone may open: (endpoint) -> why
PUBLIC = {
    "static": "assets",
    "index": "landing page",
    "healthz": "health check",
    "links.open": "portal link landing (token checked)",
    "links.renew": "renew an expired link (signed reference checked)",
    "admin.auth.login": "staff sign-in",
    "sign_in.start": "portal sign-in: same answer for every address (tests/portal/test_sign_in.py)",
    "sign_in.code": "portal sign-in by code (code checked, locks after 5 tries)",
    "sign_in.link": "sign-in link's Continue page (token checked, changes nothing)",
    "sign_in.use_link": "sign-in link's Continue (token checked, single use)",
    "sign_in.sign_out": "ends this browser's portal session",
}
# Routes that need a session but concern no object of a customer
SESSION_ONLY = {
    "admin.home": "redirect to the proposal list",
    "admin.auth.logout": "end the staff session",
    "admin.proposals.index": "list, filtered by access (checked below)",
    "admin.proposals.new": "create (contact choices filtered; checked below)",
    "admin.outbox.index": "admins and managers only (tests/admin/test_outbox.py)",
    "admin.outbox.retry": "admins and managers only",
    "admin.outbox.send_now": "admins and managers only",
    "home.index": "portal home, listed by contact_proposals_query per level (tests/portal/test_home.py)",
}

# Portal routes about one proposal: endpoint -> (method, expected status when visible)
PORTAL_PROPOSAL_ROUTES = {
    "proposals.show": ("GET", 200),
    "proposals.options": ("POST", 200),
    "proposals.sign": ("POST", 303),          # already signed: back to the signed view
    "proposals.signature_image": ("GET", 200),
}

# Admin routes about one proposal: endpoint -> (method, edits?)
ADMIN_PROPOSAL_ROUTES = {
    "admin.proposals.show": ("GET", False),
    "admin.proposals.signature": ("GET", False),
    "admin.proposals.signature_image": ("GET", False),
    "admin.proposals.update_header": ("POST", True),
    "admin.proposals.add_line": ("POST", True),
    "admin.proposals.update_line": ("POST", True),
    "admin.proposals.delete_line": ("POST", True),
    "admin.proposals.deliver": ("POST", True),
    "admin.proposals.mark_won": ("POST", True),
    "admin.proposals.mark_lost": ("POST", True),
    "admin.proposals.revise": ("POST", True),
    "admin.proposals.revoke_link": ("POST", True),
}

PORTAL_EXTRA: dict[str, tuple] = {}
ADMIN_EXTRA: dict[str, tuple] = {}


def _all_routes(app):
    return [rule for rule in app.url_map.iter_rules()]


def test_every_route_is_in_the_matrix(app):
    known = (set(PUBLIC) | set(SESSION_ONLY) | set(PORTAL_PROPOSAL_ROUTES) | set(ADMIN_PROPOSAL_ROUTES)
             | set(PORTAL_EXTRA) | set(ADMIN_EXTRA))
    missing = sorted({rule.endpoint for rule in _all_routes(app)} - known)
    assert not missing, f"routes with no authorization expectation: {missing}"


# --- the world -------------------------------------------------------------------

@dataclass
class World:
    orgs: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    proposals: dict[str, object] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def _org(app, name: str, parent_id: int | None = None) -> int:
    with app.app_context():
        org = Organization(name=name, parent_id=parent_id)
        db.session.add(org)
        db.session.commit()
        return org.id


@pytest.fixture
def world(app, make) -> World:
    """P > O > S, and an unrelated U; contacts of every level in O; signed proposals."""
    w = World()
    w.orgs["P"] = _org(app, "Parent Holdings")
    w.orgs["O"] = _org(app, "Own Org", w.orgs["P"])
    w.orgs["S"] = _org(app, "Sub Site", w.orgs["O"])
    w.orgs["U"] = _org(app, "Unrelated Ltd")
    orgs = {key: _Org(value) for key, value in w.orgs.items()}
    for level in ("requester", "organization", "organization_tree"):
        w.contacts[level] = make.contact(orgs["O"], portal_level=level, first_name=level)
    w.contacts["colleague"] = make.contact(orgs["O"], first_name="Colleague")
    w.contacts["in_S"] = make.contact(orgs["S"], first_name="SubPerson")
    w.contacts["in_P"] = make.contact(orgs["P"], first_name="ParentPerson")
    w.contacts["in_U"] = make.contact(orgs["U"], first_name="Stranger")
    for key in ("requester", "organization", "organization_tree", "colleague", "in_S", "in_P", "in_U"):
        delivered = make.signed(make.delivered(contact=w.contacts[key], title=f"Proposal for {key}"))
        w.proposals[key] = delivered.proposal
        w.tokens[key] = delivered.token
    return w


@dataclass
class _Org:
    id: int


def _signed_in(app, contact: Contact):
    client = app.test_client()
    with client.session_transaction() as session:
        session["portal"] = {"contact": contact.id, "epoch": contact.portal_epoch, "links": [], "signed_in": True}
    return client


def _portal_call(client, endpoint: str, proposal_id: int):
    method, _ok = PORTAL_PROPOSAL_ROUTES[endpoint]
    with client.application.test_request_context():
        path = url_for(endpoint, proposal_id=proposal_id)
    if method == "GET":
        return client.get(path)
    if endpoint == "proposals.options":
        return client.post(path, data={}, headers={"HX-Request": "true"})
    return client.post(path, data=sign_form(None))


# What each level sees, by the proposal's relation to the contact.
VISIBLE = {
    "requester": {"mine"},
    "organization": {"mine", "colleague"},
    "organization_tree": {"mine", "colleague", "in_S"},
}


def test_portal_matrix(app, world, capsys):
    cases = 0
    failures = []
    for level, visible in VISIBLE.items():
        client = _signed_in(app, world.contacts[level])
        targets = {"mine": world.proposals[level], "colleague": world.proposals["colleague"],
                   "in_S": world.proposals["in_S"], "in_P": world.proposals["in_P"],
                   "in_U": world.proposals["in_U"]}
        for relation, proposal in targets.items():
            for endpoint, (_method, ok) in PORTAL_PROPOSAL_ROUTES.items():
                expected = ok if relation in visible else 404
                status = _portal_call(client, endpoint, proposal.id).status_code
                cases += 1
                if status != expected:
                    failures.append((level, relation, endpoint, expected, status))
    # A contact who only opened one link sees that proposal and nothing else.
    client = app.test_client()
    assert client.get(f"/l/{world.tokens['requester']}").status_code == 303
    for key, proposal in world.proposals.items():
        for endpoint, (_method, ok) in PORTAL_PROPOSAL_ROUTES.items():
            expected = ok if key == "requester" else 404
            status = _portal_call(client, endpoint, proposal.id).status_code
            cases += 1
            if status != expected:
                failures.append(("link only", key, endpoint, expected, status))
    with capsys.disabled():
        print(f"\nportal authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin -------------------------------------------------------------------------

ROLES = ("admin", "manager", "sales", "technician")


def _admin_call(client, endpoint: str, proposal) -> int:
    method, _edits = ADMIN_PROPOSAL_ROUTES[endpoint]
    values = {"proposal_id": proposal.id}
    if endpoint in ("admin.proposals.update_line", "admin.proposals.delete_line"):
        values["line_id"] = proposal.lines[0].id if proposal.lines else 0
    if endpoint == "admin.proposals.revoke_link":
        values["link_id"] = 0
    with client.application.test_request_context():
        path = url_for(endpoint, **values)
    if method == "GET":
        return client.get(path).status_code
    # Invalid or no-op data: what is checked is who gets past the access check.
    return client.post(path, data={}).status_code


def _admin_expected(role: str, on_team: bool, edits: bool, ok_status: int | None) -> str:
    if role in ("admin", "manager"):
        return "allowed"
    if not on_team:
        return "404"
    if role == "technician" and edits:
        return "404"
    return "allowed"


def test_admin_matrix(app, make, login, capsys):
    team_org = make.organization("Team Customer")
    other_org = make.organization("Other Customer")
    rep = make.staff(role="sales", name="Another Rep")
    proposals = {
        "team": make.signed(make.delivered(contact=make.contact(team_org), rep=rep)).proposal,
        "other": make.signed(make.delivered(contact=make.contact(other_org), rep=rep)).proposal,
    }
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, team_org.id, user)
        client = app.test_client()
        login(client, user)
        for where, proposal in proposals.items():
            for endpoint, (_method, edits) in ADMIN_PROPOSAL_ROUTES.items():
                expected = _admin_expected(role, where == "team", edits, None)
                status = _admin_call(client, endpoint, proposal)
                cases += 1
                if (status == 404) != (expected == "404") or status >= 500:
                    # revoke_link with a link id of 0 is a 404 for everyone allowed past access
                    if endpoint == "admin.proposals.revoke_link" and status == 404 and not (
                            role == "technician" and where == "team") and expected == "allowed":
                        continue
                    failures.append((role, where, endpoint, expected, status))
        # The list shows only what the role may see.
        listing = client.get("/admin/proposals/").get_data(as_text=True)
        sees_other = f"/admin/proposals/{proposals['other'].id}\"" in listing
        cases += 1
        if sees_other != (role in ("admin", "manager")):
            failures.append((role, "list", "admin.proposals.index", role in ("admin", "manager"), sees_other))
    # A sales rep sees their own proposals wherever they are.
    own = make.signed(make.delivered(contact=make.contact(other_org), rep=make.staff(role="sales", name="Owner")))
    client = app.test_client()
    with app.app_context():
        owner = db.session.get(type(rep), own.proposal.sales_rep_id)
        db.session.expunge(owner)
    login(client, owner)
    cases += 1
    if client.get(f"/admin/proposals/{own.proposal.id}").status_code != 200:
        failures.append(("sales", "own proposal elsewhere", "admin.proposals.show", 200, "not 200"))
    with capsys.disabled():
        print(f"\nadmin authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin: contacts ---------------------------------------------------------------

# Admin routes about one contact, or about one organization's contacts:
# endpoint -> (methods, edits?, the object the URL names)
ADMIN_CONTACT_ROUTES = {
    "admin.contacts.for_organization": (("GET",), False, "organization"),
    "admin.contacts.show": (("GET",), False, "contact"),
    "admin.contacts.new": (("GET", "POST"), True, "organization"),  # even the empty form is for editors
    "admin.contacts.update": (("POST",), True, "contact"),
    "admin.contacts.deactivate": (("POST",), True, "contact"),
    "admin.contacts.reactivate": (("POST",), True, "contact"),
}
ADMIN_EXTRA.update(ADMIN_CONTACT_ROUTES)
SESSION_ONLY["admin.contacts.index"] = "list and search, filtered by access (checked below)"


def test_admin_contact_matrix(app, make, login, capsys):
    orgs = {"team": make.organization("Team Customer"), "other": make.organization("Other Customer")}
    contacts = {where: make.contact(org, first_name=f"{where}-person") for where, org in orgs.items()}
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, orgs["team"].id, user)
        client = app.test_client()
        login(client, user)
        for where in ("team", "other"):
            # deactivate comes before reactivate: a contact an allowed role deactivates comes back
            for endpoint, (methods, edits, names) in ADMIN_CONTACT_ROUTES.items():
                values = ({"organization_id": orgs[where].id} if names == "organization"
                          else {"contact_id": contacts[where].id})
                with app.test_request_context():
                    path = url_for(endpoint, **values)
                for method in methods:
                    expected = _admin_expected(role, where == "team", edits, None)
                    # Empty data: what is checked is who gets past the access check.
                    status = (client.get(path) if method == "GET" else client.post(path, data={})).status_code
                    cases += 1
                    if (status == 404) != (expected == "404") or status >= 500:
                        failures.append((role, where, endpoint, method, expected, status))
        # The list and its search show only contacts of organizations the role may see.
        for url in ("/admin/contacts/", "/admin/contacts/?q=other-person"):
            listing = client.get(url).get_data(as_text=True)
            sees_other = f'/admin/contacts/{contacts["other"].id}"' in listing
            cases += 1
            if sees_other != (role in ("admin", "manager")):
                failures.append((role, "list", url, role in ("admin", "manager"), sees_other))
    with capsys.disabled():
        print(f"\nadmin contact authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin: organizations ----------------------------------------------------------

# Admin routes about one organization: endpoint -> (methods, edits?)
ADMIN_ORGANIZATION_ROUTES = {
    "admin.organizations.show": (("GET",), False),
    "admin.organizations.edit": (("GET", "POST"), True),  # even the form is for editors
    "admin.organizations.deactivate": (("POST",), True),
    "admin.organizations.reactivate": (("POST",), True),
}
ADMIN_EXTRA.update(ADMIN_ORGANIZATION_ROUTES)
SESSION_ONLY["admin.organizations.index"] = "list and search, filtered by access (checked below)"
SESSION_ONLY["admin.organizations.new"] = "create: every role but technicians (checked below)"


def test_admin_organization_matrix(app, make, login, capsys):
    orgs = {"team": make.organization("Team Customer"), "other": make.organization("Other Customer")}
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, orgs["team"].id, user)
        client = app.test_client()
        login(client, user)
        for where in ("team", "other"):
            # deactivate comes before reactivate: an organization an allowed role deactivates comes back
            for endpoint, (methods, edits) in ADMIN_ORGANIZATION_ROUTES.items():
                with app.test_request_context():
                    paths = [url_for(endpoint, organization_id=orgs[where].id)]
                    if endpoint == "admin.organizations.show":  # the sub-organization switch, page and block
                        paths.append(url_for(endpoint, organization_id=orgs[where].id, subs=1))
                for path in paths:
                    for method in methods:
                        expected = _admin_expected(role, where == "team", edits, None)
                        # Empty data: what is checked is who gets past the access check.
                        status = (client.get(path, headers={"HX-Request": "true"}) if method == "GET"
                                  else client.post(path, data={})).status_code
                        cases += 1
                        if (status == 404) != (expected == "404") or status >= 500:
                            failures.append((role, where, endpoint, path, method, expected, status))
        # Creating: everyone but technicians (an empty form is a 422, not a 404).
        for method in ("GET", "POST"):
            status = (client.get("/admin/organizations/new") if method == "GET"
                      else client.post("/admin/organizations/new", data={})).status_code
            cases += 1
            if (status == 404) != (role == "technician") or status >= 500:
                failures.append((role, "new", "admin.organizations.new", method, status))
        # The list and its search show only the organizations the role may see.
        for url in ("/admin/organizations/?status=all", "/admin/organizations/?q=other"):
            listing = client.get(url).get_data(as_text=True)
            sees_other = f'/admin/organizations/{orgs["other"].id}"' in listing
            cases += 1
            if sees_other != (role in ("admin", "manager")):
                failures.append((role, "list", url, role in ("admin", "manager"), sees_other))
    with capsys.disabled():
        print(f"\nadmin organization authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures
