"""The authorization matrix: every route, for every kind of actor, against objects they
may and may not see. A route missing from the tables below fails the test, so a new
route cannot slip past it.

Portal: contacts of each level (signed in), in an organization O whose parent is P and
whose sub-organization is S, against proposals addressed to them, to a colleague in O,
in S, in P and in an unrelated U; and a contact who only opened one link.

Admin: each staff role, on the account team of one organization and not of another,
against that organization's objects.

Every (endpoint, method) of the URL map is classified; an allowed actor must get the
expected status and content (the object's name, the partial's id, the redirect target,
the image), a denied one a 404 that does not name the object. Further portal rows change
things under sessions already open: a deactivated contact, a contact of a deactivated
organization, a revoked link, a contact moved to another organization, a re-parented
organization tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape as html_escape

import pytest
from flask import url_for

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from tests.factories import add_to_team, forge_signed_in_session, sign_form

# --- what every route is ---------------------------------------------------------
#
# Every (endpoint, method) pair of the URL map is classified: public, session only, or
# in one of the route tables below, which say what each method of each route gives an
# allowed actor (status and content) and what a denied one gets (404, nothing shown).

# Routes anyone may open: (endpoint, method) -> why
PUBLIC = {
    ("static", "GET"): "assets",
    ("index", "GET"): "landing page",
    ("healthz", "GET"): "health check",
    ("favicon", "GET"): "site icon",
    ("links.open", "GET"): "portal link landing (token checked)",
    ("links.renew", "POST"): "renew an expired link (signed reference checked)",
    ("admin.auth.login", "GET"): "staff sign-in form",
    ("admin.auth.login", "POST"): "staff sign-in",
    ("sign_in.start", "GET"): "portal sign-in form",
    ("sign_in.start", "POST"): "portal sign-in: same answer for every address (tests/portal/test_sign_in.py)",
    ("sign_in.code", "POST"): "portal sign-in by code (code checked, locks after 5 tries)",
    ("sign_in.link", "GET"): "sign-in link's Continue page (token checked, changes nothing)",
    ("sign_in.use_link", "POST"): "sign-in link's Continue (token checked, single use)",
    ("sign_in.sign_out", "GET"): "the sign-out confirmation of this browser's portal session",
    ("sign_in.sign_out", "POST"): "ends this browser's portal session",
    ("languages.switch", "POST"): (
        "the footer language switch: a cookie for anyone; the contact's own preference only for"
        " the contact the session's checked access names (tests/portal/test_languages.py)"
    ),
}
# Routes that need a session but concern no object of a customer: (endpoint, method) -> why
SESSION_ONLY = {
    ("admin.home", "GET"): "redirect to My day (tests/admin/sales/test_authorization_more.py)",
    ("admin.auth.logout", "POST"): "end the staff session",
    ("admin.proposals.index", "GET"): "list, filtered by access (checked below)",
    ("admin.proposals.new", "GET"): "create form (contact choices filtered; checked below)",
    ("admin.proposals.new", "POST"): "create (the contact is checked through access)",
    ("admin.outbox.index", "GET"): "admins and managers only (tests/admin/test_outbox.py)",
    ("admin.outbox.retry", "POST"): "admins and managers only",
    ("admin.outbox.html_part", "GET"): "admins and managers only; tokens hidden with SMTP (tests/admin/test_outbox.py)",
    ("admin.outbox.send_now", "POST"): "admins and managers only",
    ("home.index", "GET"): "portal home, listed by contact_proposals_query per level (tests/portal/test_home.py)",
}


def _pairs(table: dict) -> set[tuple[str, str]]:
    """The (endpoint, method) pairs of a route table whose first column is the method(s)."""
    pairs = set()
    for endpoint, spec in table.items():
        methods = spec[0]
        for method in (methods,) if isinstance(methods, str) else methods:
            pairs.add((endpoint, method))
    return pairs


def _classified_elsewhere() -> set[tuple[str, str]]:
    """Pairs classified by the other matrix files, ``tests/**/test_authorization_*.py``:
    each domain keeps its own tables beside its tests and exports them as ``CLASSIFIED``
    (a set of (endpoint, method)); its own tests check what each actor gets."""
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parent
    pairs: set[tuple[str, str]] = set()
    for path in sorted(root.rglob("test_authorization_*.py")):
        if path.name == Path(__file__).name:
            continue
        module = ".".join(("tests", *path.relative_to(root).with_suffix("").parts))
        pairs |= set(importlib.import_module(module).CLASSIFIED)
    return pairs


def _classified() -> set[tuple[str, str]]:
    return (
        _classified_elsewhere()
        | set(PUBLIC)
        | set(SESSION_ONLY)
        | _pairs(PORTAL_PROPOSAL_ROUTES)
        | _pairs(PORTAL_TICKET_ROUTES)
        | _pairs(ADMIN_PROPOSAL_ROUTES)
        | _pairs(ADMIN_CONTACT_ROUTES)
        | _pairs(ADMIN_ORGANIZATION_ROUTES)
        | _pairs(ADMIN_TICKET_ROUTES)
        | {(endpoint, method) for endpoint, methods in ADMIN_SERVICE_ROUTES.items() for method in methods}
        | _pairs(ADMIN_SITE_ROUTES)
        | _pairs(ADMIN_REPORT_ROUTES)
    )


def _served(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method) for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_is_in_the_matrix(app):
    served, known = _served(app), _classified()
    missing = sorted(served - known)
    assert not missing, f"(endpoint, method) pairs with no authorization expectation: {missing}"
    stale = sorted(known - served)
    assert not stale, f"classified (endpoint, method) pairs the app does not serve: {stale}"


def test_the_route_check_sees_a_new_method(app):
    """A method added to a classified route is unclassified until someone says who may use it."""
    served = _served(app) | {("admin.proposals.show", "POST")}
    assert sorted(served - _classified()) == [("admin.proposals.show", "POST")]


# --- what an allowed actor gets --------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What an allowed actor gets from one method of one route.

    ``location``: a regex the redirect's path must match (``{id}`` is the object's id);
    ``shows``: ``"name"`` (the object's name is in the page), ``"png"`` (an image
    comes back), or the id of the element the page or partial must contain.
    """

    status: int
    location: str | None = None
    shows: str | None = None


# What an allowed staff member gets from each admin (endpoint, method), with the empty or
# no-op data the matrix sends (a 422 is the form coming back with its errors, a 409 a
# signed proposal refusing a change): filled in beside each table below.
ADMIN_ALLOWED: dict[tuple[str, str], Expect | tuple[Expect, ...]] = {}


def _allowed_problem(response, expect, name: str | None = None, object_id: int | None = None):
    """Why ``response`` is not what an allowed actor should get, or None. ``expect`` may
    be a tuple of outcomes, any of which will do (a state the first allowed call changes)."""
    from urllib.parse import urlsplit

    if isinstance(expect, tuple):
        problems = [_allowed_problem(response, one, name, object_id) for one in expect]
        return None if None in problems else " / ".join(problems)

    status = response.status_code
    if status != expect.status:
        return f"status {status}, expected {expect.status}"
    if expect.location is not None:
        location = urlsplit(response.headers.get("Location") or response.headers.get("HX-Redirect") or "").path
        pattern = expect.location.format(id=object_id)
        if not re.fullmatch(pattern, location):
            return f"went to {location!r}, expected {pattern!r}"
    body = response.get_data()
    if expect.shows == "name":
        if name is None or html_escape(name).encode() not in body:
            return f"{name!r} is not on the page"
    elif expect.shows == "png":
        if not body.startswith(b"\x89PNG"):
            return f"not a PNG: {response.content_type}"
    elif expect.shows and f'id="{expect.shows}"'.encode() not in body:
        return f"no #{expect.shows} in the response"
    return None


def _denied_problem(response, name: str | None = None):
    """Why ``response`` is not a plain 404 that gives the object away, or None."""
    if response.status_code != 404:
        return f"status {response.status_code}, expected 404"
    if name and html_escape(name).encode() in response.get_data():
        return f"the 404 names {name!r}"
    return None


def _portal_denied_problem(response, name: str | None = None):
    """A portal actor who may not see the object gets a 404 that does not name it; or,
    when the request has no usable session at all (ended by an access change, signed
    out, never signed in), the offer to sign in and come back here: a 303 (or htmx
    redirect) to ``/sign-in?next=...``, which names nothing either."""
    from urllib.parse import urlsplit

    location = response.headers.get("Location") or response.headers.get("HX-Redirect") or ""
    if response.status_code in (200, 303, 422) and urlsplit(location).path == "/sign-in":
        # the way back to the page: for a GET (a POST's page is the one it came from)
        if response.request.method == "GET" and "next=" not in urlsplit(location).query:
            return f"sign-in offered without the way back: {location!r}"
        if name and html_escape(name).encode() in response.get_data():
            return f"the sign-in redirect names {name!r}"
        return None
    return _denied_problem(response, name)


# Portal routes about one proposal: endpoint -> (method, what a contact who may see it gets)
PORTAL_PROPOSAL_ROUTES = {
    "proposals.show": ("GET", Expect(200, shows="name")),
    "proposals.options": ("POST", Expect(200, shows="grand-total")),  # the totals partial
    # already signed: says who signed, when, with which options
    "proposals.sign": ("POST", Expect(409, shows="proposal")),
    "proposals.signature_image": ("GET", Expect(200, shows="png")),
}

# Admin routes about one proposal: endpoint -> (method, edits?)
ADMIN_PROPOSAL_ROUTES = {
    "admin.proposals.show": ("GET", False),
    "admin.proposals.signature": ("GET", False),
    "admin.proposals.signature_image": ("GET", False),
    "admin.proposals.catalog_preview": ("GET", False),
    "admin.proposals.update_header": ("POST", True),
    "admin.proposals.add_line": ("POST", True),
    "admin.proposals.update_line": ("POST", True),
    "admin.proposals.delete_line": ("POST", True),
    "admin.proposals.deliver": ("POST", True),
    "admin.proposals.mark_won": ("POST", True),
    "admin.proposals.mark_lost": ("POST", True),
    "admin.proposals.revise": ("POST", True),
    "admin.proposals.revoke_link": ("POST", True),
    "admin.proposals.copy_link": ("POST", True),
}
# Every proposal of the matrix is signed: its content refuses changes (a 422 for an empty
# form, a 409 for a change a signed proposal cannot take); the first allowed actor marks
# it won, later ones are told it is already decided.
_SIGNED_PROPOSAL_PAGE = Expect(422, shows="links")
ADMIN_ALLOWED.update(
    {
        ("admin.proposals.show", "GET"): Expect(200, shows="name"),
        ("admin.proposals.signature", "GET"): Expect(200, shows="integrity"),
        ("admin.proposals.signature_image", "GET"): Expect(200, shows="png"),
        ("admin.proposals.catalog_preview", "GET"): Expect(200, shows="name"),  # the editor, no service chosen
        ("admin.proposals.update_header", "POST"): _SIGNED_PROPOSAL_PAGE,
        ("admin.proposals.add_line", "POST"): _SIGNED_PROPOSAL_PAGE,
        ("admin.proposals.update_line", "POST"): _SIGNED_PROPOSAL_PAGE,
        ("admin.proposals.delete_line", "POST"): Expect(409, shows="links"),
        ("admin.proposals.deliver", "POST"): _SIGNED_PROPOSAL_PAGE,
        ("admin.proposals.mark_won", "POST"): (
            Expect(303, location=r"/admin/proposals/{id}"),
            Expect(409, shows="links"),
        ),
        ("admin.proposals.mark_lost", "POST"): _SIGNED_PROPOSAL_PAGE,
        ("admin.proposals.revise", "POST"): Expect(409, shows="links"),
        ("admin.proposals.revoke_link", "POST"): Expect(303, location=r"/admin/proposals/{id}"),
        ("admin.proposals.copy_link", "POST"): Expect(200, shows="copied-link-url"),
    }
)


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
    """A browser signed in as the contact, with its server-side session record."""
    client = app.test_client()
    forge_signed_in_session(app, client, contact)
    return client


def _portal_call(client, endpoint: str, proposal_id: int):
    method, _expect = PORTAL_PROPOSAL_ROUTES[endpoint]
    with client.application.test_request_context():
        path = url_for(endpoint, proposal_id=proposal_id)
    if method == "GET":
        return client.get(path)
    if endpoint == "proposals.options":
        return client.post(path, data={}, headers={"HX-Request": "true"})
    return client.post(path, data=sign_form(None))


def _portal_proposal_problem(client, endpoint: str, proposal, visible: bool):
    """Call one route on one proposal; why the answer is wrong for an actor who may
    (``visible``) or may not see it, or None."""
    response = _portal_call(client, endpoint, proposal.id)
    if visible:
        return _allowed_problem(response, PORTAL_PROPOSAL_ROUTES[endpoint][1], proposal.title, proposal.id)
    return _portal_denied_problem(response, proposal.title)


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
        targets = {
            "mine": world.proposals[level],
            "colleague": world.proposals["colleague"],
            "in_S": world.proposals["in_S"],
            "in_P": world.proposals["in_P"],
            "in_U": world.proposals["in_U"],
        }
        for relation, proposal in targets.items():
            for endpoint in PORTAL_PROPOSAL_ROUTES:
                problem = _portal_proposal_problem(client, endpoint, proposal, relation in visible)
                cases += 1
                if problem:
                    failures.append((level, relation, endpoint, problem))
    # A contact who only opened one link sees that proposal and nothing else.
    client = app.test_client()
    assert client.get(f"/l/{world.tokens['requester']}").status_code == 303
    for key, proposal in world.proposals.items():
        for endpoint in PORTAL_PROPOSAL_ROUTES:
            problem = _portal_proposal_problem(client, endpoint, proposal, key == "requester")
            cases += 1
            if problem:
                failures.append(("link only", key, endpoint, problem))
    with capsys.disabled():
        print(f"\nportal authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin -------------------------------------------------------------------------

ROLES = ("admin", "manager", "sales", "technician")


def _admin_problem(response, key: tuple[str, str], allowed: bool, name: str | None = None, object_id=None):
    """Why a staff member's answer is wrong: an allowed one gets ``ADMIN_ALLOWED[key]``,
    a denied one a 404 that does not name the object."""
    if not allowed:
        return _denied_problem(response, name)
    if key not in ADMIN_ALLOWED:
        return f"no ADMIN_ALLOWED entry for {key}: say what an allowed actor gets"
    return _allowed_problem(response, ADMIN_ALLOWED[key], name, object_id)


def _admin_call(client, endpoint: str, proposal, link_id: int):
    method, _edits = ADMIN_PROPOSAL_ROUTES[endpoint]
    values = {"proposal_id": proposal.id}
    if endpoint in ("admin.proposals.update_line", "admin.proposals.delete_line"):
        values["line_id"] = proposal.lines[0].id if proposal.lines else 0
    if endpoint == "admin.proposals.revoke_link":
        values["link_id"] = link_id
    with client.application.test_request_context():
        path = url_for(endpoint, **values)
    if method == "GET":
        return client.get(path)
    # Invalid or no-op data: what is checked is who gets past the access check, and what they get.
    return client.post(path, data={})


def _admin_expected(role: str, on_team: bool, edits: bool, ok_status: int | None) -> str:
    if role in ("admin", "manager"):
        return "allowed"
    if not on_team:
        return "404"
    if role == "technician" and edits:
        return "404"
    return "allowed"


def test_admin_matrix(app, make, login, capsys):
    from portal.domains.identity.models import PortalLink

    team_org = make.organization("Team Customer")
    other_org = make.organization("Other Customer")
    rep = make.staff(role="sales", name="Another Rep")
    proposals = {
        where: make.signed(make.delivered(contact=make.contact(org), rep=rep, title=f"{where}-proposal")).proposal
        for where, org in (("team", team_org), ("other", other_org))
    }
    with app.app_context():
        links = {
            where: db.session.scalar(db.select(PortalLink.id).where(PortalLink.target_id == proposal.id))
            for where, proposal in proposals.items()
        }
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, team_org.id, user)
        client = app.test_client()
        login(client, user)
        for where, proposal in proposals.items():
            for endpoint, (method, edits) in ADMIN_PROPOSAL_ROUTES.items():
                allowed = _admin_expected(role, where == "team", edits, None) == "allowed"
                response = _admin_call(client, endpoint, proposal, links[where])
                problem = _admin_problem(response, (endpoint, method), allowed, proposal.title, proposal.id)
                cases += 1
                if problem:
                    failures.append((role, where, endpoint, problem))
        # The list shows only what the role may see.
        listing = client.get("/admin/proposals/").get_data(as_text=True)
        sees_other = f'/admin/proposals/{proposals["other"].id}"' in listing
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
    problem = _admin_problem(
        client.get(f"/admin/proposals/{own.proposal.id}"),
        ("admin.proposals.show", "GET"),
        True,
        own.proposal.title,
        own.proposal.id,
    )
    if problem:
        failures.append(("sales", "own proposal elsewhere", "admin.proposals.show", problem))
    with capsys.disabled():
        print(f"\nadmin authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin: contacts ---------------------------------------------------------------

# Admin routes about one contact, or about one organization's contacts:
# endpoint -> (methods, edits?, the object the URL names)
ADMIN_CONTACT_ROUTES = {
    "admin.contacts.for_organization": (("GET",), False, "organization"),
    "admin.contacts.show": (("GET",), False, "contact"),
    "admin.tickets.new": (("GET", "POST"), False, "contact"),  # a ticket taken by phone: technicians too
    "admin.contacts.new": (("GET", "POST"), True, "organization"),  # even the empty form is for editors
    "admin.contacts.update": (("POST",), True, "contact"),
    "admin.contacts.deactivate": (("POST",), True, "contact"),
    "admin.contacts.reactivate": (("POST",), True, "contact"),
}
ADMIN_ALLOWED.update(
    {
        ("admin.contacts.for_organization", "GET"): Expect(200, shows="name"),
        ("admin.contacts.show", "GET"): Expect(200, shows="name"),
        ("admin.tickets.new", "GET"): Expect(200, shows="name"),
        ("admin.tickets.new", "POST"): Expect(422, shows="name"),
        ("admin.contacts.new", "GET"): Expect(200, shows="name"),
        ("admin.contacts.new", "POST"): Expect(422, shows="name"),
        ("admin.contacts.update", "POST"): Expect(422, shows="name"),
        ("admin.contacts.deactivate", "POST"): Expect(303, location=r"/admin/contacts/{id}"),
        ("admin.contacts.reactivate", "POST"): Expect(303, location=r"/admin/contacts/{id}"),
    }
)
SESSION_ONLY[("admin.contacts.index", "GET")] = "list and search, filtered by access (checked below)"
SESSION_ONLY[("admin.tickets.sub_issue_types", "GET")] = (
    "the sub-issue select of the new-ticket form; names no customer object"
)
SESSION_ONLY[("admin.tickets.customers", "GET")] = (
    "the queue's customer filter options, by staff_organizations_query (test_tickets.py)"
)


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
                values = (
                    {"organization_id": orgs[where].id}
                    if names == "organization"
                    else {"contact_id": contacts[where].id}
                )
                with app.test_request_context():
                    path = url_for(endpoint, **values)
                name, object_id = (
                    (orgs[where].name, orgs[where].id)
                    if names == "organization"
                    else (f"{where}-person", contacts[where].id)
                )
                for method in methods:
                    allowed = _admin_expected(role, where == "team", edits, None) == "allowed"
                    # Empty data: who gets past the access check, and what they get.
                    response = client.get(path) if method == "GET" else client.post(path, data={})
                    problem = _admin_problem(response, (endpoint, method), allowed, name, object_id)
                    cases += 1
                    if problem:
                        failures.append((role, where, endpoint, method, problem))
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
ADMIN_ALLOWED.update(
    {
        # Asked for by htmx: the block of related records (the sub-organization switch).
        ("admin.organizations.show", "GET"): Expect(200, shows="related"),
        ("admin.organizations.show?subs=1", "GET"): Expect(200, shows="related"),
        ("admin.organizations.edit", "GET"): Expect(200, shows="name"),
        ("admin.organizations.edit", "POST"): Expect(422, shows="name"),
        ("admin.organizations.deactivate", "POST"): Expect(303, location=r"/admin/organizations/{id}"),
        ("admin.organizations.reactivate", "POST"): Expect(303, location=r"/admin/organizations/{id}"),
    }
)
SESSION_ONLY[("admin.organizations.index", "GET")] = "list and search, filtered by access (checked below)"
SESSION_ONLY[("admin.organizations.new", "GET")] = "create form: every role but technicians (checked below)"
SESSION_ONLY[("admin.organizations.new", "POST")] = "create: every role but technicians (checked below)"


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
                        allowed = _admin_expected(role, where == "team", edits, None) == "allowed"
                        # Empty data: who gets past the access check, and what they get.
                        response = (
                            client.get(path, headers={"HX-Request": "true"})
                            if method == "GET"
                            else client.post(path, data={})
                        )
                        key = (endpoint, method) if "subs=" not in path else (endpoint + "?subs=1", method)
                        problem = _admin_problem(response, key, allowed, orgs[where].name, orgs[where].id)
                        cases += 1
                        if problem:
                            failures.append((role, where, endpoint, path, method, problem))
        # Creating: everyone but technicians (an empty form is a 422, not a 404).
        for method in ("GET", "POST"):
            status = (
                client.get("/admin/organizations/new")
                if method == "GET"
                else client.post("/admin/organizations/new", data={})
            ).status_code
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


# --- portal: tickets ---------------------------------------------------------------

# Portal routes about one ticket: endpoint -> (method, expected status when visible).
# In this order, so each visit leaves the ticket open again (reply needs an open one).
PORTAL_TICKET_ROUTES = {
    "tickets.show": ("GET", Expect(200, shows="name")),
    "tickets.attachment": ("GET", Expect(200, shows="png")),
    "tickets.reply": ("POST", Expect(303, location=r"/tickets/{id}")),
    "tickets.close": ("POST", Expect(303, location=r"/tickets/{id}")),
    "tickets.reopen": ("POST", Expect(303, location=r"/tickets/{id}")),
}
SESSION_ONLY[("tickets.index", "GET")] = "ticket list by contact_tickets_query per level (checked below)"
SESSION_ONLY[("tickets.new", "GET")] = "the new-ticket form of the contact's own organization"
SESSION_ONLY[("tickets.new", "POST")] = (
    "opens a ticket on the contact's own organization (tests/portal/test_tickets.py)"
)
SESSION_ONLY[("tickets.sub_issue_types", "GET")] = (
    "the sub-issue select of the new-ticket form; names no customer object"
)


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _ticket_call(client, endpoint: str, ticket_id: int, attachment_id: int):
    method, _expect = PORTAL_TICKET_ROUTES[endpoint]
    values = {"ticket_id": ticket_id}
    if endpoint == "tickets.attachment":
        values["attachment_id"] = attachment_id
    with client.application.test_request_context():
        path = url_for(endpoint, **values)
    if method == "GET":
        with client.get(path) as response:  # closes a served file
            response.get_data()
            return response
    return client.post(path, data={"body": "A reply from the matrix"})


def _portal_ticket_problem(client, endpoint: str, ticket_id: int, attachment_id: int, title: str, visible: bool):
    """Call one route on one ticket; why the answer is wrong for this actor, or None."""
    response = _ticket_call(client, endpoint, ticket_id, attachment_id)
    if visible:
        return _allowed_problem(response, PORTAL_TICKET_ROUTES[endpoint][1], title, ticket_id)
    return _portal_denied_problem(response, title)


def test_portal_ticket_matrix(app, world, make, monkeypatch, tmp_path, capsys):
    import re

    from werkzeug.datastructures import FileStorage

    from portal.domains.service_desk.models import TicketAttachment
    from tests.factories import outbox

    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path / "attachments"))
    tickets, attachments, titles = {}, {}, {}
    for key in ("requester", "organization", "organization_tree", "colleague", "in_S", "in_P", "in_U"):
        import io

        photo = FileStorage(io.BytesIO(_png()), filename="photo.png", content_type="image/png")
        tickets[key] = make.ticket(world.contacts[key], title=f"Ticket for {key}", files=[photo]).id
        titles[tickets[key]] = f"Ticket for {key}"
    with app.app_context():
        for ticket_id, attachment_id in db.session.execute(db.select(TicketAttachment.ticket_id, TicketAttachment.id)):
            attachments[ticket_id] = attachment_id
        db.session.remove()
    cases = 0
    failures = []
    for level, visible in VISIBLE.items():
        client = _signed_in(app, world.contacts[level])
        targets = {
            "mine": tickets[level],
            "colleague": tickets["colleague"],
            "in_S": tickets["in_S"],
            "in_P": tickets["in_P"],
            "in_U": tickets["in_U"],
        }
        for relation, ticket_id in targets.items():
            for endpoint in PORTAL_TICKET_ROUTES:
                problem = _portal_ticket_problem(
                    client, endpoint, ticket_id, attachments[ticket_id], titles[ticket_id], relation in visible
                )
                cases += 1
                if problem:
                    failures.append((level, relation, endpoint, problem))
        # the list shows exactly what the level may open
        listed = {
            int(i) for i in re.findall(r'href="/tickets/(\d+)"', client.get("/tickets?show=all").get_data(as_text=True))
        }
        relation_of = {
            key: ("mine" if key == level else "colleague" if key in VISIBLE or key == "colleague" else key)
            for key in tickets
        }
        cases += 1
        if listed != {tickets[key] for key, relation in relation_of.items() if relation in visible}:
            failures.append((level, "list", "tickets.index", sorted(visible), sorted(listed)))
    # A contact who only opened the link mailed for one ticket sees that ticket and nothing else.
    [mail] = [
        m for m in outbox(app) if m["kind"] == "ticket_opened" and m["to_addr"] == world.contacts["requester"].email
    ]
    token = re.search(r"/l/([A-Za-z0-9_-]{20,})", mail["body_text"]).group(1)
    client = app.test_client()
    assert client.get(f"/l/{token}").status_code == 303
    for key, ticket_id in tickets.items():
        for endpoint in PORTAL_TICKET_ROUTES:
            problem = _portal_ticket_problem(
                client, endpoint, ticket_id, attachments[ticket_id], titles[ticket_id], key == "requester"
            )
            cases += 1
            if problem:
                failures.append(("link only", key, endpoint, problem))
    # Another ticket's attachment through a visible ticket's URL is a 404 too.
    client = _signed_in(app, world.contacts["organization_tree"])
    cases += 1
    crossed = _ticket_call(client, "tickets.attachment", tickets["organization_tree"], attachments[tickets["in_U"]])
    if _denied_problem(crossed):
        failures.append(("organization_tree", "foreign attachment", "tickets.attachment", 404, "not 404"))
    with capsys.disabled():
        print(f"\nportal ticket authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin: tickets ----------------------------------------------------------------

# Admin routes about one ticket: endpoint -> (method, expected status when visible).
# Everyone who may see a customer works its tickets: technicians too (no "edits" column).
# Empty or no-op data: what is checked is who gets past the access check (a 422 counts).
ADMIN_TICKET_ROUTES = {
    "admin.tickets.show": ("GET", 200),
    "admin.tickets.attachment": ("GET", 200),
    "admin.tickets.reply": ("POST", 422),
    "admin.tickets.note": ("POST", 422),
    "admin.tickets.change_status": ("POST", 422),
    "admin.tickets.change_priority": ("POST", 422),
    "admin.tickets.assign": ("POST", 303),  # to nobody: a no-op on an unassigned ticket
    "admin.tickets.copy_link": ("POST", 200),
}
ADMIN_ALLOWED.update(
    {
        ("admin.tickets.show", "GET"): Expect(200, shows="name"),
        ("admin.tickets.attachment", "GET"): Expect(200, shows="png"),
        ("admin.tickets.reply", "POST"): Expect(422, shows="name"),
        ("admin.tickets.note", "POST"): Expect(422, shows="name"),
        ("admin.tickets.change_status", "POST"): Expect(422, shows="name"),
        ("admin.tickets.change_priority", "POST"): Expect(422, shows="name"),
        ("admin.tickets.assign", "POST"): Expect(303, location=r"/admin/tickets/{id}"),
        ("admin.tickets.copy_link", "POST"): Expect(200, shows="copied-link-url"),
    }
)
SESSION_ONLY[("admin.tickets.index", "GET")] = "the queue, filtered by staff_tickets_query (checked below)"
SESSION_ONLY[("admin.tickets.bulk_assign", "POST")] = "each ticket through staff_tickets_query (checked below)"


def test_admin_ticket_matrix(app, make, login, monkeypatch, tmp_path, capsys):
    import io

    from werkzeug.datastructures import FileStorage

    from portal.domains.service_desk.models import Ticket, TicketAttachment

    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path / "attachments"))
    orgs = {"team": make.organization("Team Customer"), "other": make.organization("Other Customer")}
    tickets, attachments = {}, {}
    for where, org in orgs.items():
        photo = FileStorage(io.BytesIO(_png()), filename="photo.png", content_type="image/png")
        tickets[where] = make.ticket(make.contact(org), title=f"{where}-ticket", files=[photo]).id
    with app.app_context():
        attachments = dict(db.session.execute(db.select(TicketAttachment.ticket_id, TicketAttachment.id)).all())
        db.session.remove()
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, orgs["team"].id, user)
        client = app.test_client()
        login(client, user)
        for where, ticket_id in tickets.items():
            for endpoint, (method, _status) in ADMIN_TICKET_ROUTES.items():
                values = {"ticket_id": ticket_id}
                if endpoint == "admin.tickets.attachment":
                    values["attachment_id"] = attachments[ticket_id]
                with app.test_request_context():
                    path = url_for(endpoint, **values)
                visible = role in ("admin", "manager") or where == "team"
                if method == "GET":
                    with client.get(path) as response:  # closes a served file
                        response.get_data()
                else:
                    response = client.post(path, data={"assignee_id": "0"})
                problem = _admin_problem(response, (endpoint, method), visible, f"{where}-ticket", ticket_id)
                cases += 1
                if problem:
                    failures.append((role, where, endpoint, problem))
        # The queue, its search and bulk assign reach only what the role may see.
        for url in ("/admin/tickets/?status=all", "/admin/tickets/?q=other-ticket"):
            sees_other = f'/admin/tickets/{tickets["other"]}"' in client.get(url).get_data(as_text=True)
            cases += 1
            if sees_other != (role in ("admin", "manager")):
                failures.append((role, "list", url, role in ("admin", "manager"), sees_other))
        client.post("/admin/tickets/assign", data={"ticket_ids": [str(tickets["other"])], "assignee_id": str(user.id)})
        with app.app_context():
            assigned = db.session.get(Ticket, tickets["other"]).assignee_id
            if assigned is not None:
                db.session.get(Ticket, tickets["other"]).assignee_id = None
                db.session.commit()
            db.session.remove()
        cases += 1
        if (assigned == user.id) != (role in ("admin", "manager")):
            failures.append((role, "bulk assign", "admin.tickets.bulk_assign", role in ("admin", "manager"), assigned))
    # An attachment is reached through its own ticket only.
    client = app.test_client()
    login(client, make.staff(role="admin"))
    with app.test_request_context():
        crossed = url_for(
            "admin.tickets.attachment", ticket_id=tickets["team"], attachment_id=attachments[tickets["other"]]
        )
    cases += 1
    if client.get(crossed).status_code != 404:
        failures.append(("admin", "crossed attachment", "admin.tickets.attachment", 404, "not 404"))
    with capsys.disabled():
        print(f"\nadmin ticket authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin: service setup ------------------------------------------------------------

# SLAs, calendars, statuses and issue types: admins and managers only
# (staff_may_configure_service); every other role gets a 404 on every route.
# endpoint -> methods. Delete comes last: it removes the status the others use.
ADMIN_SERVICE_ROUTES = {
    "admin.service.index": ("GET",),
    "admin.service.slas": ("GET",),
    "admin.service.new_sla": ("GET", "POST"),
    "admin.service.edit_sla": ("GET", "POST"),
    "admin.service.calendars": ("GET",),
    "admin.service.new_calendar": ("GET", "POST"),
    "admin.service.edit_calendar": ("GET", "POST"),
    "admin.service.add_holiday": ("POST",),
    "admin.service.remove_holiday": ("POST",),
    "admin.service.statuses": ("GET", "POST"),
    "admin.service.edit_status": ("GET", "POST"),
    "admin.service.deactivate_status": ("POST",),
    "admin.service.reactivate_status": ("POST",),
    "admin.service.issue_types": ("GET", "POST"),
    "admin.service.edit_issue_type": ("GET", "POST"),
    "admin.service.move_issue_type": ("POST",),
    "admin.service.deactivate_issue_type": ("POST",),
    "admin.service.reactivate_issue_type": ("POST",),
    "admin.service.delete_status": ("POST",),
}
# Empty forms come back with their errors (422); the toggles go back to their list.
ADMIN_ALLOWED.update(
    {
        ("admin.service.index", "GET"): Expect(302, location=r"/admin/service/slas"),
        ("admin.service.slas", "GET"): Expect(200, shows="slas"),
        ("admin.service.new_sla", "GET"): Expect(200, shows="resolution_urgent"),
        ("admin.service.new_sla", "POST"): Expect(422, shows="resolution_urgent"),
        ("admin.service.edit_sla", "GET"): Expect(200, shows="sla-users"),
        ("admin.service.edit_sla", "POST"): Expect(422, shows="sla-users"),
        ("admin.service.calendars", "GET"): Expect(200, shows="calendars"),
        ("admin.service.new_calendar", "GET"): Expect(200, shows="day_6"),
        ("admin.service.new_calendar", "POST"): Expect(422, shows="day_6"),
        ("admin.service.edit_calendar", "GET"): Expect(200, shows="holiday_name"),
        ("admin.service.edit_calendar", "POST"): Expect(422, shows="holiday_name"),
        ("admin.service.add_holiday", "POST"): Expect(422, shows="holiday_name"),
        ("admin.service.remove_holiday", "POST"): Expect(303, location=r"/admin/service/calendars/\d+"),
        ("admin.service.statuses", "GET"): Expect(200, shows="state"),
        ("admin.service.statuses", "POST"): Expect(422, shows="state"),
        ("admin.service.edit_status", "GET"): Expect(200, shows="delete-status"),
        ("admin.service.edit_status", "POST"): Expect(422, shows="delete-status"),
        ("admin.service.deactivate_status", "POST"): Expect(303, location=r"/admin/service/statuses"),
        ("admin.service.reactivate_status", "POST"): Expect(303, location=r"/admin/service/statuses"),
        ("admin.service.issue_types", "GET"): Expect(200, shows="sla_id"),
        ("admin.service.issue_types", "POST"): Expect(422, shows="sla_id"),
        ("admin.service.edit_issue_type", "GET"): Expect(200, shows="sla_id"),
        ("admin.service.edit_issue_type", "POST"): Expect(422, shows="sla_id"),
        ("admin.service.move_issue_type", "POST"): Expect(400),  # no direction given
        ("admin.service.deactivate_issue_type", "POST"): Expect(303, location=r"/admin/service/issue-types"),
        ("admin.service.reactivate_issue_type", "POST"): Expect(303, location=r"/admin/service/issue-types"),
        ("admin.service.delete_status", "POST"): Expect(303, location=r"/admin/service/statuses"),
    }
)


def test_admin_service_setup_matrix(app, make, login, capsys):
    from datetime import date

    from portal.domains.service_desk.models import ServiceHoliday, Sla, TicketStatus

    arguments = {rule.endpoint: rule.arguments for rule in app.url_map.iter_rules()}
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, make.organization("Team Customer").id, user)  # a team changes nothing here
        client = app.test_client()
        login(client, user)
        sla = make.sla()
        kind = make.issue_type()
        with app.app_context():  # fresh objects per role: an allowed role's POSTs may change them
            calendar_id = db.session.get(Sla, sla.id).calendar_id
            holiday = ServiceHoliday(calendar_id=calendar_id, day=date(2030, 1, 1), name="Matrix")
            ticket_status = TicketStatus(name=f"Matrix {role}", state="open", position=99)
            db.session.add_all([holiday, ticket_status])
            db.session.commit()
            values = {
                "sla_id": sla.id,
                "calendar_id": calendar_id,
                "holiday_id": holiday.id,
                "status_id": ticket_status.id,
                "issue_type_id": kind.id,
            }
        allowed = role in ("admin", "manager")
        for endpoint, methods in ADMIN_SERVICE_ROUTES.items():
            with app.test_request_context():
                path = url_for(endpoint, **{name: values[name] for name in arguments[endpoint]})
            for method in methods:
                # Empty data: who gets past the access check, and what they get.
                response = client.get(path) if method == "GET" else client.post(path, data={})
                problem = _admin_problem(response, (endpoint, method), allowed)
                cases += 1
                if problem:
                    failures.append((role, endpoint, method, problem))
        cases += 1
        if ("Service setup" in client.get("/admin/proposals/").get_data(as_text=True)) != allowed:
            failures.append((role, "nav", "Service setup entry", allowed))
    with capsys.disabled():
        print(f"\nadmin service setup authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- admin: sites and reports ------------------------------------------------------

# Admin routes about one organization's sites: endpoint -> (method, edits?, the object the URL names)
ADMIN_SITE_ROUTES = {
    "admin.sites.index": ("GET", False, "organization"),
    "admin.sites.create": ("POST", True, "organization"),
    "admin.sites.deactivate": ("POST", True, "site"),
}
# Reports span every customer: admins and managers only, a 404 for everyone else.
ADMIN_REPORT_ROUTES = {"admin.reports.first_response": ("GET", "admins and managers only")}
ADMIN_ALLOWED.update(
    {
        ("admin.sites.index", "GET"): Expect(200, shows="name"),
        ("admin.sites.index htmx", "GET"): Expect(200, shows="name"),
        ("admin.sites.create", "POST"): Expect(422, shows="name"),
        ("admin.sites.create htmx", "POST"): Expect(422, shows="address"),  # the form block
        ("admin.sites.deactivate", "POST"): Expect(303, location=r"/admin/organizations/\d+"),
        ("admin.sites.deactivate htmx", "POST"): Expect(200, shows="name"),  # the sites block
        ("admin.reports.first_response", "GET"): Expect(200, shows="by-staff"),
    }
)


def test_admin_site_and_report_matrix(app, make, login, capsys):
    orgs = {"team": make.organization("Team Customer"), "other": make.organization("Other Customer")}
    sites = {where: make.site(org, f"{where} site") for where, org in orgs.items()}
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        add_to_team(app, orgs["team"].id, user)
        client = app.test_client()
        login(client, user)
        for where in ("team", "other"):
            for endpoint, (method, edits, names) in ADMIN_SITE_ROUTES.items():
                values = (
                    {"organization_id": orgs[where].id} if names == "organization" else {"site_id": sites[where].id}
                )
                with app.test_request_context():
                    path = url_for(endpoint, **values)
                allowed = _admin_expected(role, where == "team", edits, None) == "allowed"
                name = orgs[where].name if names == "organization" else f"{where} site"
                object_id = orgs[where].id if names == "organization" else sites[where].id
                # Empty data (a 422) or a repeated deactivation (a no-op): who gets past the access check.
                for headers in ({}, {"HX-Request": "true"}):
                    response = (
                        client.get(path, headers=headers)
                        if method == "GET"
                        else client.post(path, data={}, headers=headers)
                    )
                    key = (endpoint + (" htmx" if headers else ""), method)
                    problem = _admin_problem(response, key, allowed, name, object_id)
                    cases += 1
                    if problem:
                        failures.append((role, where, endpoint, headers, problem))
        for query in ("", f"?organization_id={orgs['team'].id}&from_month=2026-01&to_month=2026-12"):
            response = client.get(f"/admin/reports/first-response{query}")
            problem = _admin_problem(response, ("admin.reports.first_response", "GET"), role in ("admin", "manager"))
            cases += 1
            if problem:
                failures.append((role, "report", "admin.reports.first_response", query, problem))
    with capsys.disabled():
        print(f"\nadmin site and report authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


# --- portal: when things change under an open session ------------------------------
#
# Sessions and links are opened first, then the contact, its organization, a link or
# the organization tree changes, and every proposal and ticket route is asked again.
# A session is checked against the database on every request, so each change must show
# on the very next one.

KEYS = ("requester", "organization", "organization_tree", "colleague", "in_S", "in_P", "in_U")


@dataclass
class TicketWorld:
    ids: dict[str, int] = field(default_factory=dict)
    attachments: dict[int, int] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)


@pytest.fixture
def tickets_world(app, world, make, monkeypatch, tmp_path) -> TicketWorld:
    """A ticket with a photo for every contact of the world."""
    import io

    from werkzeug.datastructures import FileStorage

    from portal.domains.service_desk.models import TicketAttachment

    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path / "attachments"))
    w = TicketWorld()
    for key in KEYS:
        photo = FileStorage(io.BytesIO(_png()), filename="photo.png", content_type="image/png")
        w.ids[key] = make.ticket(world.contacts[key], title=f"Ticket for {key}", files=[photo]).id
        w.titles[w.ids[key]] = f"Ticket for {key}"
    with app.app_context():
        w.attachments = dict(db.session.execute(db.select(TicketAttachment.ticket_id, TicketAttachment.id)).all())
        db.session.remove()
    return w


def _issue_link(app, contact: Contact, target_type: str, target_id: int) -> str:
    """A fresh portal link, as a notification would mail it."""
    from portal.domains.identity import links

    with app.app_context():
        token = links.issue_link(db.session.get(Contact, contact.id), target_type, target_id).token
        db.session.commit()
        return token


def _link_client(app, *tokens: str):
    """A browser that only opened these links."""
    client = app.test_client()
    for token in tokens:
        assert client.get(f"/l/{token}").status_code == 303, token
    return client


def _gone_problem(response, name: str):
    """A link that was revoked: the link's own page (410), never the object."""
    if response.status_code != 410:
        return f"status {response.status_code}, expected 410"
    if html_escape(name).encode() in response.get_data():
        return f"the 410 page names {name!r}"
    return None


def _sweep(client, world, tickets: TicketWorld, visible=(), gone=()) -> tuple[int, list]:
    """Every proposal and ticket route on every object of the world: allowed on the
    ``visible`` keys, the revoked link's page on the ``gone`` ones, 404 elsewhere."""
    cases, failures = 0, []
    for key in KEYS:
        proposal = world.proposals[key]
        for endpoint in PORTAL_PROPOSAL_ROUTES:
            if key in gone:
                problem = _gone_problem(_portal_call(client, endpoint, proposal.id), proposal.title)
            else:
                problem = _portal_proposal_problem(client, endpoint, proposal, key in visible)
            cases += 1
            if problem:
                failures.append((key, endpoint, problem))
        ticket_id = tickets.ids[key]
        for endpoint in PORTAL_TICKET_ROUTES:
            attachment_id, title = tickets.attachments[ticket_id], tickets.titles[ticket_id]
            if key in gone:
                problem = _gone_problem(_ticket_call(client, endpoint, ticket_id, attachment_id), title)
            else:
                problem = _portal_ticket_problem(client, endpoint, ticket_id, attachment_id, title, key in visible)
            cases += 1
            if problem:
                failures.append((key, endpoint, problem))
    return cases, failures


def _change(app, action) -> None:
    with app.app_context():
        action()
        db.session.commit()
        db.session.remove()


def _run(label: str, results: list, capsys) -> None:
    cases = sum(count for _actor, count, _failures in results)
    failures = [(actor, *failure) for actor, _count, found in results for failure in found]
    with capsys.disabled():
        print(f"\nportal {label} authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


def test_portal_matrix_deactivated_contact(app, world, tickets_world, capsys):
    """A deactivated contact's session and links open nothing, not even their own."""
    contact = world.contacts["organization"]
    signed_in = _signed_in(app, contact)
    linked = _link_client(app, world.tokens["organization"])
    results = [
        (
            "before",
            *_sweep(
                signed_in, world, tickets_world, visible={"organization", "requester", "organization_tree", "colleague"}
            ),
        )
    ]

    # The flag alone, as any path that deactivates leaves it (the epoch stays as it was).
    _change(app, lambda: setattr(db.session.get(Contact, contact.id), "is_active", False))
    results.append(("signed in", *_sweep(signed_in, world, tickets_world)))
    results.append(("link", *_sweep(linked, world, tickets_world)))
    fresh = app.test_client()
    opened = fresh.get(f"/l/{world.tokens['organization']}")
    results.append(("link opened after", 1, [] if opened.status_code != 303 else [("link", "links.open", "opens")]))
    results.append(("link opened after", *_sweep(fresh, world, tickets_world)))
    _run("deactivated contact", results, capsys)


def test_portal_matrix_deactivated_organization(app, world, tickets_world, capsys):
    """When an organization is deactivated its contacts' sessions and links open nothing."""
    from portal.domains.customers import organizations

    signed_in = _signed_in(app, world.contacts["organization_tree"])
    ticket_token = _issue_link(app, world.contacts["colleague"], "ticket", tickets_world.ids["colleague"])
    linked = _link_client(app, world.tokens["colleague"], ticket_token)
    results = [("before", *_sweep(linked, world, tickets_world, visible={"colleague"}))]

    _change(app, lambda: organizations.deactivate_organization(db.session.get(Organization, world.orgs["O"])))
    results.append(("signed in", *_sweep(signed_in, world, tickets_world)))
    results.append(("link", *_sweep(linked, world, tickets_world)))
    # Its sub-organization is still active: a contact there keeps their own things.
    results.append(("in S", *_sweep(_signed_in(app, world.contacts["in_S"]), world, tickets_world, visible={"in_S"})))
    _run("deactivated organization", results, capsys)


def test_portal_matrix_revoked_link(app, world, tickets_world, capsys):
    """A revoked link opens its own page (410), never the object; a signed-in session of
    the same contact keeps what its level covers."""
    from portal.domains.identity import links
    from portal.domains.identity.models import PortalLink

    contact = world.contacts["requester"]
    ticket_token = _issue_link(app, contact, "ticket", tickets_world.ids["requester"])
    linked = _link_client(app, world.tokens["requester"], ticket_token)
    signed_in = _signed_in(app, contact)
    results = [("before", *_sweep(linked, world, tickets_world, visible={"requester"}))]

    def revoke():
        for link in db.session.scalars(db.select(PortalLink).where(PortalLink.contact_id == contact.id)):
            links.revoke_link(link)

    _change(app, revoke)
    results.append(("link", *_sweep(linked, world, tickets_world, gone={"requester"})))
    fresh = app.test_client()
    fresh.get(f"/l/{world.tokens['requester']}")
    fresh.get(f"/l/{ticket_token}")
    results.append(("link opened after", *_sweep(fresh, world, tickets_world)))
    results.append(("signed in", *_sweep(signed_in, world, tickets_world, visible={"requester"})))
    _run("revoked link", results, capsys)


def test_portal_matrix_contact_moved_to_another_organization(app, world, tickets_world, capsys):
    """A contact moved from O to U: the old session and links no longer open O's
    objects, nor does a link mailed to them afterwards; a new session sees U's."""
    from portal.domains.customers import contacts

    contact = world.contacts["organization"]
    signed_in = _signed_in(app, contact)
    ticket_token = _issue_link(app, contact, "ticket", tickets_world.ids["organization"])
    linked = _link_client(app, world.tokens["organization"], ticket_token)
    in_o = {"organization", "requester", "organization_tree", "colleague"}
    results = [("before", *_sweep(signed_in, world, tickets_world, visible=in_o))]

    def move(contact_id: int):
        moving = db.session.get(Contact, contact_id)
        data = contacts.ContactInput(
            first_name=moving.first_name,
            last_name=moving.last_name,
            email=moving.email,
            timezone=moving.timezone,
            portal_enabled=True,
            portal_level=moving.portal_level,
            organization=db.session.get(Organization, world.orgs["U"]),
        )
        assert contacts.update_contact(moving, data)  # it ends the contact's portal access

    _change(app, lambda: move(contact.id))
    results.append(("old session", *_sweep(signed_in, world, tickets_world)))
    results.append(("old links", *_sweep(linked, world, tickets_world)))
    reopened = app.test_client()
    reopened.get(f"/l/{world.tokens['organization']}")
    reopened.get(f"/l/{ticket_token}")
    results.append(("old links reopened", *_sweep(reopened, world, tickets_world)))
    # A link mailed after the move (a staff reply on the old ticket, the old proposal resent).
    late = _link_client(
        app,
        _issue_link(app, contact, "ticket", tickets_world.ids["organization"]),
        _issue_link(app, contact, "proposal", world.proposals["organization"].id),
    )
    results.append(("new link to an old object", *_sweep(late, world, tickets_world)))
    with app.app_context():
        moved = db.session.get(Contact, contact.id)
        db.session.expunge(moved)
    results.append(("new session", *_sweep(_signed_in(app, moved), world, tickets_world, visible={"in_U"})))
    # A requester sees what is addressed to them, but only in their own organization:
    # what was addressed to them in O stays with O.
    _change(app, lambda: move(world.contacts["requester"].id))
    with app.app_context():
        requester = db.session.get(Contact, world.contacts["requester"].id)
        db.session.expunge(requester)
    fresh = _signed_in(app, requester)
    results.append(("moved requester, new session", *_sweep(fresh, world, tickets_world)))
    # Nor do the lists: the portal home and the ticket list show nothing of O.
    tickets_page = fresh.get("/tickets?show=all").get_data(as_text=True)
    home = fresh.get("/home").get_data(as_text=True)
    listed = [key for key in KEYS if f'href="/tickets/{tickets_world.ids[key]}"' in tickets_page]
    listed += [key for key in KEYS if f'/p/proposals/{world.proposals[key].id}"' in home]
    results.append(("moved requester, lists", 2, [("lists", "home.index, tickets.index", listed)] if listed else []))
    _run("moved contact", results, capsys)


def test_portal_matrix_reparented_tree(app, world, tickets_world, capsys):
    """An organization-tree contact of O: S moved under P leaves their sight; U moved
    under O comes into it, on the next request of the session already open."""
    import re as regex

    from portal.domains.customers import organizations

    signed_in = _signed_in(app, world.contacts["organization_tree"])
    in_o = {"organization", "requester", "organization_tree", "colleague"}
    results = [("before", *_sweep(signed_in, world, tickets_world, visible=in_o | {"in_S"}))]

    def reparent():
        orgs = {key: db.session.get(Organization, world.orgs[key]) for key in ("S", "P", "U", "O")}
        organizations.set_parent(orgs["S"], orgs["P"])
        organizations.set_parent(orgs["U"], orgs["O"])

    _change(app, reparent)
    results.append(("after", *_sweep(signed_in, world, tickets_world, visible=in_o | {"in_U"})))
    # The lists follow the tree too.
    listed = {
        int(i)
        for i in regex.findall(r'href="/tickets/(\d+)"', signed_in.get("/tickets?show=all").get_data(as_text=True))
    }
    expected = {tickets_world.ids[key] for key in in_o | {"in_U"}}
    results.append(("ticket list", 1, [] if listed == expected else [("list", "tickets.index", sorted(listed))]))
    home = signed_in.get("/home").get_data(as_text=True)
    shown = {key for key in KEYS if f'/p/proposals/{world.proposals[key].id}"' in home}
    results.append(("home", 1, [] if shown == in_o | {"in_U"} else [("list", "home.index", sorted(shown))]))
    _run("re-parented tree", results, capsys)
