"""The staff side of tickets: the queue (access, search, filters, sorts, keyset pages,
bulk assign) and the ticket page (reply versus internal note, status, priority and
assignee, the SLA clocks, attachments), with query counts."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.access.staff import staff_may_see_organization
from portal.access.staff import staff_seeing_organization as assignable_staff
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk import tickets as ticket_service
from portal.domains.service_desk.models import Ticket, TicketAttachment, TicketMessage, TicketStatus
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import events_for
from portal.mail.models import OutboxMessage
from tests.factories import add_to_team, outbox, stored

HX = {"HX-Request": "true"}
ROUND_THE_CLOCK = tuple((day, 0, 24) for day in range(7))


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()


def _client(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


def _listed(html: str) -> list[int]:
    """Ticket ids of the queue's rows, in order."""
    return [int(i) for i in re.findall(r'<td><a href="/admin/tickets/(\d+)">T-\d{6}</a></td>', html)]


def _queue(client, **args) -> list[int]:
    response = client.get("/admin/tickets/", query_string=args, headers=HX)
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="ticket-results">')
    return _listed(html)


def _set(app, ticket_id: int, **columns) -> None:
    with app.app_context():
        db.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**columns))
        db.session.commit()
        db.session.remove()


def _status_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(TicketStatus.id).where(TicketStatus.name == name))


def _errors(html: str) -> list[str]:
    return re.findall(r'<p class="error">([^<]*)</p>', html)


@pytest.fixture(autouse=True)
def _attachments_dir(app, tmp_path, monkeypatch):
    """Stored files go to this test's own directory, not the instance folder."""
    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path / "attachments"))


@pytest.fixture
def admin(make):
    return make.staff(role="admin", name="Ada Admin")


@pytest.fixture
def admin_client(app, login, admin):
    return _client(app, login, admin)


# --- the queue: who sees what -------------------------------------------------------------


def test_the_queue_lists_only_tickets_of_customers_the_role_may_see(app, make, login):
    team_org, other_org = make.organization("Team Customer"), make.organization("Other Customer")
    mine = make.ticket(make.contact(team_org), title="Team leak")
    theirs = make.ticket(make.contact(other_org), title="Other leak")
    for role in ("admin", "manager", "sales", "technician"):
        user = make.staff(role=role)
        add_to_team(app, team_org, user)
        client = _client(app, login, user)
        expected = [theirs.id, mine.id] if role in ("admin", "manager") else [mine.id]
        assert _queue(client) == expected, role
        assert _queue(client, q="leak") == expected, role
        assert _queue(client, q=theirs.number) == ([theirs.id] if role in ("admin", "manager") else []), role
        assert _queue(client, organization=other_org.id) == ([theirs.id] if role in ("admin", "manager") else [])


def test_the_queue_page_has_an_active_search_and_the_nav_links_to_it(admin_client):
    html = admin_client.get("/admin/tickets/").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms, search"' in html and 'hx-push-url="true"' in html
    assert 'href="/admin/tickets/">Tickets</a>' in html


def test_the_queue_has_a_customer_filter_control_limited_to_visible_customers(app, make, login):
    team_org, other_org = make.organization("Harbor Dental"), make.organization("North Campus")
    mine = make.ticket(make.contact(team_org), title="Team leak")
    make.ticket(make.contact(other_org), title="Other leak")
    tech = make.staff(role="technician")
    add_to_team(app, team_org, tech)
    for user, names in ((make.staff(role="admin"), ["Harbor Dental", "North Campus"]), (tech, ["Harbor Dental"])):
        client = _client(app, login, user)
        html = client.get("/admin/tickets/").get_data(as_text=True)
        control = html[
            html.index('<select id="organization"') : html.index("</select>", html.index('id="organization"'))
        ]
        assert re.findall(r'<option value="\d+">([^<]+)</option>', control) == names
        assert 'hx-get="/admin/tickets/customers"' in html
    admin = _client(app, login, make.staff(role="admin"))
    response = admin.get("/admin/tickets/customers", query_string={"customer_q": "dent"}, headers=HX)
    options = response.get_data(as_text=True)
    assert response.status_code == 200 and options.lstrip().startswith('<select id="organization"')
    assert "<html" not in options and "Harbor Dental" in options and "North Campus" not in options
    assert _queue(admin, organization=team_org.id) == [mine.id]  # choosing one filters the queue


# --- search ------------------------------------------------------------------------------------


def test_the_search_finds_tickets_by_title_number_organization_and_contact(app, make, admin_client):
    greenleaf = make.organization("Greenleaf Gardens")
    stone = make.organization("Stone Works")
    cora = make.contact(greenleaf, email="cora.lane@example.test", first_name="Cora", last_name="Lane")
    bob = make.contact(stone, email="bob@stone.example", first_name="Bob", last_name="Mason")
    leak = make.ticket(cora, title="Kitchen tap LEAKING again")
    gate = make.ticket(bob, title="Broken gate")
    for query, expected in (
        ("leak", [leak.id]),
        ("TAP leak", [leak.id]),
        ("gate", [gate.id]),  # title, contains, any case
        (gate.number, [gate.id]),
        (gate.number.lower(), [gate.id]),
        (str(gate.id), [gate.id]),  # number
        ("green", [leak.id]),
        ("STONE w", [gate.id]),  # organization name prefix
        ("gardens", [leak.id]),  # a word of the organization name
        ("works", [gate.id]),
        ("cora.l", [leak.id]),
        ("bob@stone", [gate.id]),  # contact email prefix
        ("mason", [gate.id]),
        ("cora lane", [leak.id]),
        ("lan", [leak.id]),  # contact name prefix
        ("nothing like it", []),
        ("100%", []),
        ("_", []),
    ):
        assert _queue(admin_client, q=query) == expected, query


# --- filters -------------------------------------------------------------------------------------


def test_the_queue_filters_by_status_state_priority_organization_assignee_and_issue_type(
    app, make, admin, admin_client
):
    org_a, org_b = make.organization("Alpha"), make.organization("Beta")
    plumbing = make.issue_type("Plumbing")
    other_kind = make.issue_type("Garden")
    colleague = make.staff(role="manager", name="Colleague")
    new = make.ticket(make.contact(org_a), title="New one", priority="urgent", issue_type_id=plumbing.id)
    working = make.ticket(make.contact(org_a), title="Worked on", priority="low", issue_type_id=other_kind.id)
    waiting = make.ticket(make.contact(org_b), title="Waiting one", issue_type_id=plumbing.id)
    closed = make.ticket(make.contact(org_b), title="Closed one", issue_type_id=other_kind.id)
    with app.app_context():
        me, other = db.session.get(StaffUser, admin.id), db.session.get(StaffUser, colleague.id)
        for ticket_id, status, assignee in (
            (working.id, "In progress", me),
            (waiting.id, "Waiting on customer", other),
            (closed.id, "Resolved", me),
        ):
            ticket = db.session.get(Ticket, ticket_id)
            ticket_service.change_status(
                ticket, db.session.scalar(select(TicketStatus).where(TicketStatus.name == status)), me
            )
            ticket_service.assign_ticket(ticket, assignee, me, sees=staff_may_see_organization)
        db.session.commit()
    assert _queue(admin_client) == [waiting.id, working.id, new.id]  # default: not closed, newest first
    assert _queue(admin_client, status="all") == [closed.id, waiting.id, working.id, new.id]
    assert _queue(admin_client, status="open") == [working.id, new.id]
    assert _queue(admin_client, status="waiting") == [waiting.id]
    assert _queue(admin_client, status="closed") == [closed.id]
    assert _queue(admin_client, status=str(_status_id(app, "In progress"))) == [working.id]
    assert _queue(admin_client, status="nonsense") == [waiting.id, working.id, new.id]
    assert _queue(admin_client, priority="urgent") == [new.id]
    assert _queue(admin_client, priority="low") == [working.id]
    assert _queue(admin_client, organization=org_b.id, status="all") == [closed.id, waiting.id]
    assert _queue(admin_client, assignee="me", status="all") == [closed.id, working.id]
    assert _queue(admin_client, assignee="unassigned") == [new.id]
    assert _queue(admin_client, assignee=str(colleague.id)) == [waiting.id]
    assert _queue(admin_client, issue_type=plumbing.id) == [waiting.id, new.id]
    # the organization filter says which one, with a way back to all
    html = admin_client.get("/admin/tickets/", query_string={"organization": org_b.id}).get_data(as_text=True)
    assert 'id="organization-filter">Beta' in html


def test_the_sla_filters_find_breached_and_soon_due_tickets(app, make, admin_client):
    sla = make.sla(hours=ROUND_THE_CLOCK, targets={p: (60, 600) for p in ("low", "normal", "high", "urgent")})
    org = make.organization_with(sla_id=sla.id)
    contact = make.contact(org)
    now = utcnow()
    late = make.ticket(contact, title="No answer for two hours", now=now - timedelta(hours=2))
    soon = make.ticket(contact, title="Just in", now=now - timedelta(minutes=10))
    later = make.ticket(contact, title="Answered, resolution far", now=now - timedelta(minutes=30))
    answered_late = make.ticket(contact, title="Answered late", now=now - timedelta(hours=3))
    resolution_soon = make.ticket(contact, title="Resolution soon", now=now - timedelta(hours=8))
    _set(app, later.id, first_response_at=now - timedelta(minutes=20))
    _set(app, answered_late.id, first_response_at=now - timedelta(minutes=90))
    _set(app, resolution_soon.id, first_response_at=now - timedelta(hours=7, minutes=30))
    flagged = make.ticket(contact, title="Flagged by the breach job", now=now - timedelta(minutes=5))
    _set(app, flagged.id, resolution_breached_at=now)
    assert sorted(_queue(admin_client, sla="breached")) == sorted([late.id, answered_late.id, flagged.id])
    assert sorted(_queue(admin_client, sla="due_soon")) == sorted([soon.id, resolution_soon.id])
    # the row says so
    html = admin_client.get("/admin/tickets/").get_data(as_text=True)
    row = re.search(rf'<tr id="ticket-{late.id}">.*?</tr>', html, re.DOTALL).group(0)
    assert 'class="due breached"' in row and "Overdue" in row


# --- sorts and pages -------------------------------------------------------------------------------


def test_the_queue_sorts_by_age_update_priority_and_due_times(app, make, admin_client):
    sla = make.sla(
        hours=ROUND_THE_CLOCK,
        targets={"low": (240, 2400), "normal": (120, 1200), "high": (60, 600), "urgent": (30, 300)},
    )
    contact = make.contact(make.organization_with(sla_id=sla.id))
    now = utcnow()
    a = make.ticket(contact, title="A", priority="low", now=now - timedelta(minutes=3))
    b = make.ticket(contact, title="B", priority="urgent", now=now - timedelta(minutes=2))
    c = make.ticket(contact, title="C", priority="normal", now=now - timedelta(minutes=1))
    d = make.ticket(contact, title="D", priority="urgent", now=now)
    _set(app, a.id, updated_at=now + timedelta(minutes=5))
    _set(app, c.id, first_response_at=now)  # answered: sorts after the running first-response clocks
    assert _queue(admin_client) == [d.id, c.id, b.id, a.id]
    assert _queue(admin_client, sort="oldest") == [a.id, b.id, c.id, d.id]
    assert _queue(admin_client, sort="updated") == [a.id, d.id, c.id, b.id]
    assert _queue(admin_client, sort="priority") == [d.id, b.id, c.id, a.id]
    assert _queue(admin_client, sort="response_due") == [b.id, d.id, a.id, c.id]
    assert _queue(admin_client, sort="resolution_due") == [b.id, d.id, c.id, a.id]
    assert _queue(admin_client, sort="sideways") == [d.id, c.id, b.id, a.id]


def _pages(client, **args) -> list[list[int]]:
    """Every page of the queue, following the Next links."""
    pages = []
    response = client.get("/admin/tickets/", query_string=args)
    while True:
        html = response.get_data(as_text=True)
        pages.append(_listed(html))
        found = re.search(r'id="next-page" href="([^"]+)"', html)
        if not found:
            return pages
        response = client.get(found.group(1).replace("&amp;", "&"), headers=HX)
        assert response.status_code == 200


@pytest.mark.parametrize("sort", ["newest", "priority", "response_due"])
def test_the_next_page_continues_where_the_last_one_stopped(app, make, admin_client, sort):
    contact = make.contact(make.organization())
    ids = [make.ticket(contact, title=f"Ticket {i}", priority=("low", "urgent", "normal")[i % 3]).id for i in range(30)]
    pages = _pages(admin_client, sort=sort)
    assert [len(p) for p in pages] == [25, 5]
    assert sorted(pages[0] + pages[1]) == ids  # each ticket once
    assert pages[0] + pages[1] == _queue(admin_client, sort=sort) + pages[1]
    first = admin_client.get("/admin/tickets/", query_string={"sort": sort}).get_data(as_text=True)
    assert "25 shown, more follow" in first and 'id="first-page"' not in first
    # a forged cursor is the first page, not an error
    assert _queue(admin_client, sort=sort, after="bm9uc2Vuc2U") == pages[0]


# --- bulk assign --------------------------------------------------------------------------------------


def test_bulk_assign_assigns_what_the_assignee_may_see_and_names_the_skipped(app, make, admin, admin_client):
    team_org, other_org = make.organization("Team Customer"), make.organization("Other Customer")
    tech = make.staff(role="technician", name="Tess Tech")
    add_to_team(app, team_org, tech)
    one = make.ticket(make.contact(team_org), title="One")
    two = make.ticket(make.contact(team_org), title="Two")
    elsewhere = make.ticket(make.contact(other_org), title="Elsewhere")
    response = admin_client.post(
        "/admin/tickets/assign",
        headers=HX,
        data={"ticket_ids": [str(one.id), str(two.id), str(elsewhere.id)], "assignee_id": str(tech.id), "priority": ""},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="ticket-results">')
    assert "2 tickets assigned to Tess Tech." in html
    assert f"Skipped, because Tess Tech cannot see those customers: {elsewhere.number}." in html
    assert [stored(app, Ticket, t.id).assignee_id for t in (one, two, elsewhere)] == [tech.id, tech.id, None]
    assert sum(1 for m in outbox(app) if m["kind"] == "ticket_assigned" and m["to_addr"] == tech.email) == 2
    # a plain form: back to the queue with the same filters, the result flashed
    response = admin_client.post(
        "/admin/tickets/assign", data={"ticket_ids": [str(one.id)], "assignee_id": "0", "priority": "normal"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/tickets/?priority=normal"
    assert stored(app, Ticket, one.id).assignee_id is None
    assert "1 ticket unassigned." in admin_client.get(response.headers["Location"]).get_data(as_text=True)


def test_bulk_assign_leaves_tickets_the_staff_member_may_not_see_alone(app, make, login):
    team_org, other_org = make.organization("Team Customer"), make.organization("Other Customer")
    sales = make.staff(role="sales")
    add_to_team(app, team_org, sales)
    hidden = make.ticket(make.contact(other_org))
    client = _client(app, login, sales)
    response = client.post("/admin/tickets/assign", data={"ticket_ids": [str(hidden.id)], "assignee_id": str(sales.id)})
    assert response.status_code == 422
    assert "Tick at least one ticket first." in response.get_data(as_text=True)
    assert stored(app, Ticket, hidden.id).assignee_id is None
    response = client.post("/admin/tickets/assign", headers=HX, data={"ticket_ids": [], "assignee_id": "abc"})
    assert response.status_code == 422 and "<html" not in response.get_data(as_text=True)


# --- query counts ------------------------------------------------------------------------------------------


def test_the_queue_runs_the_same_number_of_queries_for_5_or_40_tickets(app, make, admin, admin_client, count_queries):
    orgs = [make.organization(f"Org {i}") for i in range(4)]
    staff = [make.staff(role="manager") for _ in range(3)]
    contacts = [make.contact(org) for org in orgs]

    def add(n: int) -> None:
        with app.app_context():
            me = db.session.get(StaffUser, admin.id)
            for i in range(n):
                ticket = ticket_service.open_ticket(
                    db.session.get(Contact, contacts[i % 4].id), title=f"T {i}", description="x"
                )
                ticket_service.assign_ticket(
                    ticket, db.session.get(StaffUser, staff[i % 3].id), me, sees=staff_may_see_organization
                )
            db.session.commit()

    def counted(**args) -> int:
        admin_client.get("/admin/tickets/", query_string=args)
        with count_queries() as counter:
            response = admin_client.get("/admin/tickets/", query_string=args)
        assert response.status_code == 200
        return counter.count

    add(5)
    small = {sort: counted(sort=sort) for sort in ("newest", "updated", "priority")} | {"q": counted(q="t")}
    add(35)
    large = {sort: counted(sort=sort) for sort in ("newest", "updated", "priority")} | {"q": counted(q="t")}
    assert small["newest"] == large["newest"] and small["updated"] == large["updated"]
    assert small["q"] == large["q"]
    assert large["priority"] <= small["priority"]  # one statement per priority at most
    assert large["newest"] <= 10


# --- the ticket page -------------------------------------------------------------------------------------


def test_the_ticket_page_shows_the_header_clocks_and_timeline(app, make, admin_client):
    sla = make.sla(name="Gold", hours=ROUND_THE_CLOCK)
    org = make.organization_with(name="Greenleaf", sla_id=sla.id)
    kind = make.issue_type("Plumbing")
    sub = make.issue_type("Leak", parent=kind)
    site = make.site(org, "North yard")
    make.site(org, "South yard")
    ticket = make.ticket(
        make.contact(org, first_name="Cora", last_name="Lane"),
        title="Dripping tap",
        issue_type_id=kind.id,
        sub_issue_type_id=sub.id,
        site_id=site.id,
    )
    html = admin_client.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
    for text in (
        ticket.number,
        "Dripping tap",
        "Greenleaf",
        "Cora Lane",
        "North yard",
        "Plumbing / Leak",
        "Gold",
        "First response",
        "Resolution",
        "Kitchen tap drips.",
    ):
        assert text in html, text
    assert 'class="clock running"' in html


def test_a_reply_is_mailed_to_the_contact_with_a_link_that_opens_the_ticket(app, make, admin_client, open_link):
    contact = make.contact(make.organization(), email="cora@example.test")
    ticket = make.ticket(contact)
    response = admin_client.post(f"/admin/tickets/{ticket.id}/reply", data={"body": "We come on Tuesday."})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/tickets/{ticket.id}#timeline")
    mail = [m for m in outbox(app) if m["kind"] == "ticket_reply"]
    assert len(mail) == 1 and mail[0]["to_addr"] == "cora@example.test"
    assert "We come on Tuesday." in mail[0]["body_text"]
    token = re.search(r"/l/([A-Za-z0-9_-]+)", mail[0]["body_text"]).group(1)
    portal = app.test_client()
    landing = portal.get(f"/l/{token}")
    assert landing.status_code == 303 and landing.headers["Location"].endswith(f"/tickets/{ticket.id}")
    if "tickets.show" in app.view_functions:  # the portal ticket page
        page = portal.get(landing.headers["Location"])
        assert page.status_code == 200 and "We come on Tuesday." in page.get_data(as_text=True)
    assert stored(app, Ticket, ticket.id).first_response_at is not None
    html = admin_client.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
    assert 'class="message from-staff"' in html and "replied to the customer" in html


def test_an_internal_note_never_reaches_the_contact(app, make, admin_client, open_link):
    """In the page (admin: marked; portal: absent) and in every mail."""
    marker = "NOTE-7f3a9c-only-for-staff"
    contact = make.contact(make.organization(), portal_level="organization")
    ticket = make.ticket(contact)
    admin_client.post(f"/admin/tickets/{ticket.id}/reply", data={"body": "Public answer"})
    response = admin_client.post(
        f"/admin/tickets/{ticket.id}/note", data={"body": f"Gate code {marker}"}, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    admin_page = admin_client.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
    assert marker in admin_page and "Internal note — not visible to the customer" in admin_page
    with app.app_context():
        note = db.session.scalar(select(TicketMessage).where(TicketMessage.body.contains(marker)))
        assert note.kind == "note" and not note.is_public
        bodies = [(m.subject, m.body_text) for m in db.session.scalars(select(OutboxMessage))]
    assert bodies and not any(marker in part for body in bodies for part in body)
    assert stored(app, Ticket, ticket.id).first_response_at is not None  # the reply, not the note
    # What the portal shows the contact: their link (from the reply mail) opens the ticket.
    token = re.search(r"/l/([A-Za-z0-9_-]+)", next(m for m in outbox(app) if m["kind"] == "ticket_reply")["body_text"])
    portal = app.test_client()
    landing = portal.get(f"/l/{token.group(1)}")
    assert landing.status_code == 303
    if "tickets.show" in app.view_functions:
        page = portal.get(landing.headers["Location"]).get_data(as_text=True)
        assert "Public answer" in page and marker not in page
    if "tickets.index" in app.view_functions:
        assert marker not in portal.get("/tickets/").get_data(as_text=True)


def test_a_note_is_not_mailed_and_counts_no_first_response(app, make, admin_client):
    ticket = make.ticket(make.contact(make.organization()))
    before = len(outbox(app))
    assert admin_client.post(f"/admin/tickets/{ticket.id}/note", data={"body": "Check the valve"}).status_code == 303
    assert len(outbox(app)) == before
    assert stored(app, Ticket, ticket.id).first_response_at is None


def test_a_contact_reply_mails_the_assignee(app, make, admin, admin_client):
    tech = make.staff(role="technician", name="Tess Tech")
    org = make.organization()
    add_to_team(app, org, tech)
    contact = make.contact(org)
    ticket = make.ticket(contact)
    admin_client.post(f"/admin/tickets/{ticket.id}/assign", data={"assignee_id": str(tech.id)})
    with app.app_context():
        ticket_service.add_contact_reply(
            db.session.get(Ticket, ticket.id), db.session.get(Contact, contact.id), "It is leaking more now."
        )
        db.session.commit()
    mail = [m for m in outbox(app) if m["kind"] == "ticket_contact_reply"]
    assert [m["to_addr"] for m in mail] == [tech.email]
    assert "It is leaking more now." in mail[0]["body_text"] and f"/admin/tickets/{ticket.id}" in mail[0]["body_text"]


def test_waiting_on_the_customer_pauses_the_resolution_clock_and_resuming_extends_it(app, make, admin_client):
    sla = make.sla(hours=ROUND_THE_CLOCK, targets={p: (60, 600) for p in ("low", "normal", "high", "urgent")})
    ticket = make.ticket(make.contact(make.organization_with(sla_id=sla.id)))
    due = stored(app, Ticket, ticket.id).resolution_due_at
    response = admin_client.post(
        f"/admin/tickets/{ticket.id}/status",
        headers=HX,
        data={"status_id": str(_status_id(app, "Waiting on customer"))},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card ticket-panel" id="ticket-panel">')
    assert 'id="ticket-header" hx-swap-oob="true"' in html and "Paused: waiting on the customer" in html
    assert 'id="timeline" hx-swap-oob="true"' in html and "Status changed to Waiting on customer" in html
    paused = stored(app, Ticket, ticket.id)
    assert paused.state == "waiting" and paused.resolution_due_at is None
    _set(app, ticket.id, waiting_since=paused.waiting_since - timedelta(hours=2))  # two hours of waiting
    response = admin_client.post(
        f"/admin/tickets/{ticket.id}/status", data={"status_id": str(_status_id(app, "In progress"))}
    )
    assert response.status_code == 303
    resumed = stored(app, Ticket, ticket.id)
    assert resumed.state == "open" and resumed.resolution_paused_minutes == 120
    assert resumed.resolution_due_at == due + timedelta(minutes=120)


def test_a_priority_change_recomputes_the_due_times(app, make, admin_client):
    sla = make.sla(
        hours=ROUND_THE_CLOCK,
        targets={"low": (240, 2400), "normal": (120, 1200), "high": (60, 600), "urgent": (30, 300)},
    )
    ticket = make.ticket(make.contact(make.organization_with(sla_id=sla.id)))
    opened = stored(app, Ticket, ticket.id)
    response = admin_client.post(f"/admin/tickets/{ticket.id}/priority", data={"priority": "urgent"}, headers=HX)
    assert response.status_code == 200 and 'id="ticket-priority">Urgent' in response.get_data(as_text=True)
    changed = stored(app, Ticket, ticket.id)
    assert changed.priority == "urgent"
    assert changed.first_response_due_at == opened.created_at + timedelta(minutes=30)
    assert changed.resolution_due_at == opened.created_at + timedelta(minutes=300)


def test_assigning_mails_the_assignee_and_refuses_one_who_cannot_see_the_customer(app, make, admin_client):
    org = make.organization()
    tech, outsider = make.staff(role="technician", name="Tess Tech"), make.staff(role="sales", name="Out Sider")
    add_to_team(app, org, tech)
    ticket = make.ticket(make.contact(org))
    page = admin_client.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
    choices = re.search(r'<select id="assignee_id".*?</select>', page, re.DOTALL).group(0)
    assert "Tess Tech" in choices and "Out Sider" not in choices
    assert (
        admin_client.post(f"/admin/tickets/{ticket.id}/assign", data={"assignee_id": str(tech.id)}).status_code == 303
    )
    assert stored(app, Ticket, ticket.id).assignee_id == tech.id
    assert [m["to_addr"] for m in outbox(app) if m["kind"] == "ticket_assigned"] == [tech.email]
    response = admin_client.post(
        f"/admin/tickets/{ticket.id}/assign", data={"assignee_id": str(outsider.id)}, headers=HX
    )
    assert response.status_code == 422
    assert "Out Sider cannot see this customer&#39;s tickets." in response.get_data(as_text=True)
    assert stored(app, Ticket, ticket.id).assignee_id == tech.id


def test_invalid_input_is_a_422_with_the_message_and_nothing_lost(app, make, admin_client):
    ticket = make.ticket(make.contact(make.organization()))
    before = stored(app, Ticket, ticket.id)
    response = admin_client.post(f"/admin/tickets/{ticket.id}/reply", data={"body": "   "})
    assert response.status_code == 422 and "Please fill this in." in _errors(response.get_data(as_text=True))
    response = admin_client.post(
        f"/admin/tickets/{ticket.id}/reply",
        content_type="multipart/form-data",
        data={"body": "Here is the manual", "attachments": [(io.BytesIO(b"MZ\x90\x00binary"), "manual.pdf")]},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "manual.pdf is not a file type we accept" in html
    assert "Here is the manual</textarea>" in html  # what was typed is still there
    for path, data in (
        (f"/admin/tickets/{ticket.id}/status", {"status_id": "999"}),
        (f"/admin/tickets/{ticket.id}/status", {"status_id": "x"}),
        (f"/admin/tickets/{ticket.id}/priority", {"priority": "whenever"}),
        (f"/admin/tickets/{ticket.id}/assign", {"assignee_id": "999"}),
    ):
        for headers in ({}, HX):
            response = admin_client.post(path, data=data, headers=headers)
            assert response.status_code == 422, (path, data)
            assert _errors(response.get_data(as_text=True)), (path, data)
    after = stored(app, Ticket, ticket.id)
    assert (after.status_id, after.priority, after.assignee_id) == (before.status_id, before.priority, None)
    with app.app_context():
        assert db.session.scalar(select(TicketAttachment.id)) is None
        assert len(db.session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)).all()) == 1


def test_a_technician_on_the_team_works_the_ticket(app, make, login):
    org = make.organization()
    tech = make.staff(role="technician")
    add_to_team(app, org, tech)
    ticket = make.ticket(make.contact(org))
    client = _client(app, login, tech)
    assert client.post(f"/admin/tickets/{ticket.id}/reply", data={"body": "On my way"}).status_code == 303
    assert (
        client.post(
            f"/admin/tickets/{ticket.id}/status", data={"status_id": str(_status_id(app, "Resolved"))}
        ).status_code
        == 303
    )
    assert stored(app, Ticket, ticket.id).state == "closed"


# --- attachments --------------------------------------------------------------------------------------


def test_attachments_download_for_those_who_may_see_the_ticket_only(app, make, login, admin_client):
    team_org, other_org = make.organization(), make.organization()
    sales = make.staff(role="sales")
    add_to_team(app, team_org, sales)
    ticket = make.ticket(make.contact(team_org))
    other = make.ticket(make.contact(other_org))
    response = admin_client.post(
        f"/admin/tickets/{ticket.id}/note",
        content_type="multipart/form-data",
        data={"body": "Photo of the valve", "attachments": [(io.BytesIO(PNG), "valve <1>.png")]},
    )
    assert response.status_code == 303
    with app.app_context():
        attachment_id = db.session.scalar(select(TicketAttachment.id).where(TicketAttachment.ticket_id == ticket.id))
    url = f"/admin/tickets/{ticket.id}/attachments/{attachment_id}"
    assert url in admin_client.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
    with _client(app, login, sales).get(url) as response:
        assert response.status_code == 200 and response.data == PNG
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "valve 1.png" in response.headers["Content-Disposition"]
        assert response.mimetype == "image/png"
    outsider = make.staff(role="sales")
    add_to_team(app, other_org, outsider)
    assert _client(app, login, outsider).get(url).status_code == 404
    assert admin_client.get(f"/admin/tickets/{other.id}/attachments/{attachment_id}").status_code == 404
    assert admin_client.get(f"/admin/tickets/{ticket.id}/attachments/{attachment_id + 1}").status_code == 404


# --- the page's queries ------------------------------------------------------------------------------------


def test_the_ticket_page_runs_the_same_number_of_queries_for_5_or_40_messages(
    app, make, admin, admin_client, count_queries
):
    ticket = make.ticket(make.contact(make.organization()))

    def add(n: int) -> None:
        with app.app_context():
            me = db.session.get(StaffUser, admin.id)
            loaded = db.session.get(Ticket, ticket.id)
            for i in range(n):
                ticket_service.add_staff_message(
                    loaded, me, f"Message {i}", internal=bool(i % 2), files=[_file(f"p{i}.png")] if i % 3 == 0 else []
                )
            db.session.commit()

    def counted() -> int:
        admin_client.get(f"/admin/tickets/{ticket.id}")
        with count_queries() as counter:
            assert admin_client.get(f"/admin/tickets/{ticket.id}").status_code == 200
        return counter.count

    add(4)
    small = counted()
    add(35)
    assert counted() == small


def _file(name: str):
    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(PNG), filename=name)


def test_the_assignee_list_follows_the_access_rule(app, make):
    org = make.organization()
    other = make.organization()
    team = make.staff(role="technician")
    manager = make.staff(role="manager")
    nobody = make.staff(role="sales")
    disabled = make.staff(role="admin")
    account_manager = make.staff(role="sales")
    seller = make.staff(role="sales")
    add_to_team(app, org, team)
    make.proposal(contact=make.contact(org), rep=seller)
    with app.app_context():
        from portal.access.staff import staff_may_see_organization
        from portal.domains.customers.models import Organization

        db.session.get(Organization, org.id).account_manager_id = account_manager.id
        db.session.get(StaffUser, disabled.id).is_enabled = False
        db.session.commit()
        for organization_id in (org.id, other.id):
            listed = {user.id for user in assignable_staff(organization_id)}
            expected = {
                user.id
                for user in db.session.scalars(select(StaffUser))
                if user.is_enabled and staff_may_see_organization(user, organization_id)
            }
            assert listed == expected
        assert {team.id, manager.id, account_manager.id, seller.id} <= {u.id for u in assignable_staff(org.id)}
        assert nobody.id not in {u.id for u in assignable_staff(org.id)}


# --- a ticket taken by phone -------------------------------------------------------------


def _phone_form(**overrides) -> dict:
    data = {
        "title": "Gate will not close",
        "description": "Called at 8am: the north gate is stuck open.",
        "priority": "urgent",
        "submission_key": "phone-call-1",
    }
    data.update(overrides)
    return data


def test_staff_open_a_ticket_for_a_caller_who_gets_the_receipt(app, make, login):
    manager = make.staff(role="manager", name="Mona Manager")
    organization = make.organization_with("Callers Inc", account_manager_id=manager.id)
    caller = make.contact(organization, first_name="Carl")
    client = _client(app, login, manager)
    page = client.get(f"/admin/tickets/new/{caller.id}")
    assert page.status_code == 200 and 'name="submission_key" value="' in page.get_data(as_text=True)
    mails_before = len(outbox(app))
    response = client.post(f"/admin/tickets/new/{caller.id}", data=_phone_form())
    assert response.status_code == 303
    ticket_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    ticket = stored(app, Ticket, ticket_id)
    assert (ticket.contact_id, ticket.organization_id, ticket.priority) == (caller.id, organization.id, "urgent")
    assert ticket.first_response_due_at is not None
    with app.app_context():
        kinds = [
            (m.kind, m.author_contact_id, m.author_staff_id)
            for m in db.session.scalars(
                select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
            )
        ]
        events = [(e.kind, e.staff_id) for e in events_for(Subject.TICKET, ticket_id)]
        db.session.remove()
    assert kinds == [("reply", caller.id, None)]
    assert events == [("change", manager.id)]  # the timeline says who took the call
    mails = outbox(app)[mails_before:]
    # the caller gets the receipt with a portal link; the manager who took the call no "new ticket" mail
    assert [(m["to_addr"], m["kind"]) for m in mails] == [(caller.email, "ticket_opened")]
    assert "/l/" in mails[0]["body_text"]
    # the same form sent again opens nothing more
    again = client.post(f"/admin/tickets/new/{caller.id}", data=_phone_form())
    assert again.headers["Location"] == response.headers["Location"]
    assert len(outbox(app)) == mails_before + 1


def test_a_caller_without_portal_access_gets_a_receipt_without_a_link(app, make, login):
    caller = make.contact(portal_enabled=False)
    client = _client(app, login, make.staff(role="admin"))
    assert client.post(f"/admin/tickets/new/{caller.id}", data=_phone_form()).status_code == 303
    [mail] = [m for m in outbox(app) if m["to_addr"] == caller.email]
    assert "/l/" not in mail["body_text"] and "We will write to you here" in mail["body_text"]


def test_a_phone_ticket_with_a_missing_title_comes_back_with_422_keeping_the_text(app, make, login):
    caller = make.contact()
    client = _client(app, login, make.staff(role="admin"))
    response = client.post(f"/admin/tickets/new/{caller.id}", data=_phone_form(title=""), headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in html
    assert "Please fill this in." in html and "the north gate is stuck open." in html
    with app.app_context():
        assert db.session.scalar(select(Ticket.id)) is None
        db.session.remove()


def test_the_phone_form_offers_the_sub_types_of_the_chosen_type(app, make, login):
    plumbing = make.issue_type("Plumbing")
    make.issue_type("Leak", parent=plumbing)
    client = _client(app, login, make.staff(role="technician"))
    response = client.get("/admin/tickets/new/sub-issue-types", query_string={"issue_type_id": plumbing.id}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and ">Leak</option>" in html


def test_no_phone_ticket_for_an_inactive_contact(app, make, login):
    caller = make.contact(is_active=False)
    client = _client(app, login, make.staff(role="admin"))
    response = client.post(f"/admin/tickets/new/{caller.id}", data=_phone_form())
    assert response.status_code == 409
    with app.app_context():
        assert db.session.scalar(select(Ticket.id)) is None
        db.session.remove()


def test_a_reply_to_a_caller_without_portal_access_says_how_to_answer(app, make, login):
    caller = make.contact(portal_enabled=False)
    ticket = make.ticket(caller)
    client = _client(app, login, make.staff(role="admin"))
    assert (
        client.post(f"/admin/tickets/{ticket.id}/reply", data={"body": "A technician comes at 10."}).status_code == 303
    )
    [mail] = [m for m in outbox(app) if m["kind"] == "ticket_reply"]
    assert mail["to_addr"] == caller.email and "/l/" not in mail["body_text"]
    assert "A technician comes at 10." in mail["body_text"] and "by phone or email" in mail["body_text"]
