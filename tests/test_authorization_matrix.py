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

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from tests.factories import add_to_team, sign_form

# --- what every route is ---------------------------------------------------------

# Routes anyone may open: (endpoint) -> why
PUBLIC = {
    "static": "assets",
    "index": "landing page",
    "healthz": "health check",
    "favicon": "site icon",
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
    "proposals.sign": ("POST", 409),  # already signed: says who signed, when, with which options
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
    known = (
        set(PUBLIC)
        | set(SESSION_ONLY)
        | set(PORTAL_PROPOSAL_ROUTES)
        | set(ADMIN_PROPOSAL_ROUTES)
        | set(PORTAL_EXTRA)
        | set(ADMIN_EXTRA)
    )
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
        targets = {
            "mine": world.proposals[level],
            "colleague": world.proposals["colleague"],
            "in_S": world.proposals["in_S"],
            "in_P": world.proposals["in_P"],
            "in_U": world.proposals["in_U"],
        }
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
                    if (
                        endpoint == "admin.proposals.revoke_link"
                        and status == 404
                        and not (role == "technician" and where == "team")
                        and expected == "allowed"
                    ):
                        continue
                    failures.append((role, where, endpoint, expected, status))
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
    "admin.tickets.new": (("GET", "POST"), False, "contact"),  # a ticket taken by phone: technicians too
    "admin.contacts.new": (("GET", "POST"), True, "organization"),  # even the empty form is for editors
    "admin.contacts.update": (("POST",), True, "contact"),
    "admin.contacts.deactivate": (("POST",), True, "contact"),
    "admin.contacts.reactivate": (("POST",), True, "contact"),
}
ADMIN_EXTRA.update(ADMIN_CONTACT_ROUTES)
SESSION_ONLY["admin.contacts.index"] = "list and search, filtered by access (checked below)"
SESSION_ONLY["admin.tickets.sub_issue_types"] = "the sub-issue select of the new-ticket form; names no customer object"


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
                        status = (
                            client.get(path, headers={"HX-Request": "true"})
                            if method == "GET"
                            else client.post(path, data={})
                        ).status_code
                        cases += 1
                        if (status == 404) != (expected == "404") or status >= 500:
                            failures.append((role, where, endpoint, path, method, expected, status))
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
    "tickets.show": ("GET", 200),
    "tickets.attachment": ("GET", 200),
    "tickets.reply": ("POST", 303),
    "tickets.close": ("POST", 303),
    "tickets.reopen": ("POST", 303),
}
PORTAL_EXTRA.update(PORTAL_TICKET_ROUTES)
SESSION_ONLY["tickets.index"] = "ticket list by contact_tickets_query per level (checked below)"
SESSION_ONLY["tickets.new"] = "opens a ticket on the contact's own organization (tests/portal/test_tickets.py)"
SESSION_ONLY["tickets.sub_issue_types"] = "the sub-issue select of the new-ticket form; names no customer object"


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _ticket_call(client, endpoint: str, ticket_id: int, attachment_id: int) -> int:
    method, _ok = PORTAL_TICKET_ROUTES[endpoint]
    values = {"ticket_id": ticket_id}
    if endpoint == "tickets.attachment":
        values["attachment_id"] = attachment_id
    with client.application.test_request_context():
        path = url_for(endpoint, **values)
    if method == "GET":
        with client.get(path) as response:  # closes a served file
            return response.status_code
    return client.post(path, data={"body": "A reply from the matrix"}).status_code


def test_portal_ticket_matrix(app, world, make, monkeypatch, tmp_path, capsys):
    import re

    from werkzeug.datastructures import FileStorage

    from portal.domains.service_desk.models import TicketAttachment
    from tests.factories import outbox

    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path / "attachments"))
    tickets, attachments = {}, {}
    for key in ("requester", "organization", "organization_tree", "colleague", "in_S", "in_P", "in_U"):
        import io

        photo = FileStorage(io.BytesIO(_png()), filename="photo.png", content_type="image/png")
        tickets[key] = make.ticket(world.contacts[key], title=f"Ticket for {key}", files=[photo]).id
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
            for endpoint, (_method, ok) in PORTAL_TICKET_ROUTES.items():
                expected = ok if relation in visible else 404
                status = _ticket_call(client, endpoint, ticket_id, attachments[ticket_id])
                cases += 1
                if status != expected:
                    failures.append((level, relation, endpoint, expected, status))
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
        for endpoint, (_method, ok) in PORTAL_TICKET_ROUTES.items():
            expected = ok if key == "requester" else 404
            status = _ticket_call(client, endpoint, ticket_id, attachments[ticket_id])
            cases += 1
            if status != expected:
                failures.append(("link only", key, endpoint, expected, status))
    # Another ticket's attachment through a visible ticket's URL is a 404 too.
    client = _signed_in(app, world.contacts["organization_tree"])
    cases += 1
    if _ticket_call(client, "tickets.attachment", tickets["organization_tree"], attachments[tickets["in_U"]]) != 404:
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
}
ADMIN_EXTRA.update(ADMIN_TICKET_ROUTES)
SESSION_ONLY["admin.tickets.index"] = "the queue, filtered by staff_tickets_query (checked below)"
SESSION_ONLY["admin.tickets.bulk_assign"] = "each ticket through staff_tickets_query (checked below)"


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
            for endpoint, (method, ok) in ADMIN_TICKET_ROUTES.items():
                values = {"ticket_id": ticket_id}
                if endpoint == "admin.tickets.attachment":
                    values["attachment_id"] = attachments[ticket_id]
                with app.test_request_context():
                    path = url_for(endpoint, **values)
                visible = role in ("admin", "manager") or where == "team"
                expected = ok if visible else 404
                if method == "GET":
                    with client.get(path) as response:  # closes a served file
                        status = response.status_code
                else:
                    status = client.post(path, data={"assignee_id": "0"}).status_code
                cases += 1
                if status != expected:
                    failures.append((role, where, endpoint, expected, status))
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
SESSION_ONLY.update(
    {
        endpoint: "service setup: admins and managers only (test_admin_service_setup_matrix)"
        for endpoint in ADMIN_SERVICE_ROUTES
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
                # Empty data: what is checked is who gets past the access check (422, 400, 303 all count).
                status = (client.get(path) if method == "GET" else client.post(path, data={})).status_code
                cases += 1
                if (status == 404) == allowed or status >= 500:
                    failures.append((role, endpoint, method, "allowed" if allowed else "404", status))
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
ADMIN_EXTRA.update(ADMIN_SITE_ROUTES)
# Reports span every customer: admins and managers only, a 404 for everyone else.
ADMIN_EXTRA["admin.reports.first_response"] = ("GET", "admins and managers only")


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
                expected = _admin_expected(role, where == "team", edits, None)
                # Empty data (a 422) or a repeated deactivation (a no-op): who gets past the access check.
                for headers in ({}, {"HX-Request": "true"}):
                    status = (
                        client.get(path, headers=headers)
                        if method == "GET"
                        else client.post(path, data={}, headers=headers)
                    ).status_code
                    cases += 1
                    if (status == 404) != (expected == "404") or status >= 500:
                        failures.append((role, where, endpoint, headers, expected, status))
        for query in ("", f"?organization_id={orgs['team'].id}&from_month=2026-01&to_month=2026-12"):
            status = client.get(f"/admin/reports/first-response{query}").status_code
            cases += 1
            if status != (200 if role in ("admin", "manager") else 404):
                failures.append((role, "report", "admin.reports.first_response", query, status))
    with capsys.disabled():
        print(f"\nadmin site and report authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures
