"""Tickets on the portal: open one (with photos), follow it, reply, close and reopen,
as each portal level and link allows; attachments served only to those who may see
them; SLA due times in the contact's own time zone; a fixed number of queries."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import PortalLink, StaffUser
from portal.domains.service_desk import tickets as service
from portal.domains.service_desk.models import (
    MessageKind,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketState,
    TicketStatus,
)
from portal.domains.timeline.models import Subject, TimelineEntry
from tests.factories import forge_signed_in_session, outbox, snapshot, stored

TOKEN = re.compile(r"/l/([A-Za-z0-9_-]{20,})")
TICKET_HREF = re.compile(r'href="/tickets/(\d+)"')
SECRET = "INTERNAL-NOTE-never-for-the-customer-51c2"


# --- helpers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def attachments_dir(app, tmp_path, monkeypatch):
    """Stored files go to a temporary folder, never into the repository."""
    folder = tmp_path / "attachments"
    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(folder))
    return folder


def stored_files(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def png_bytes(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def upload(data: bytes, name: str = "photo.png", content_type: str = "image/png"):
    """What the test client posts for a file input."""
    return (io.BytesIO(data), name, content_type)


def signed_in(app, contact):
    """A client whose portal session is this contact's, signed in (the sign-in flow
    itself is tested in test_sign_in.py; one test below goes through it)."""
    client = app.test_client()
    forge_signed_in_session(app, client, contact)
    return client


def count(app, model, *where) -> int:
    with app.app_context():
        number = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return number


def ticket_token(app, contact, ticket_id: int | None = None) -> str:
    """The token of the newest ticket mail to this contact (optionally: about that ticket)."""
    mails = [m for m in outbox(app) if m["to_addr"] == contact.email and m["kind"].startswith("ticket")]
    if ticket_id is not None:
        mails = [m for m in mails if f"T-{ticket_id:06d}" in m["subject"]]
    assert mails, f"no ticket mail to {contact.email}"
    return TOKEN.search(mails[-1]["body_text"]).group(1)


def listed(html: str) -> set[int]:
    return {int(i) for i in TICKET_HREF.findall(html)}


def staff_message(app, ticket_id: int, staff, body: str, internal: bool, files=()) -> int:
    with app.app_context():
        message = service.add_staff_message(
            db.session.get(Ticket, ticket_id),
            db.session.get(StaffUser, staff.id),
            body,
            internal=internal,
            files=list(files),
        )
        db.session.commit()
        message_id = message.id
        db.session.remove()
        return message_id


def set_state(app, ticket_id: int, state: str, staff) -> None:
    with app.app_context():
        status = service.statuses(state)[0]
        service.change_status(db.session.get(Ticket, ticket_id), status, db.session.get(StaffUser, staff.id))
        db.session.commit()
        db.session.remove()


def file_storage(data: bytes, name: str = "photo.png", content_type: str = "image/png") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, content_type=content_type)


@pytest.fixture
def kinds(make):
    """Two issue types with their own sub-types."""
    plumbing = make.issue_type("Plumbing")
    electrical = make.issue_type("Electrical")
    return {
        "plumbing": plumbing,
        "electrical": electrical,
        "leak": make.issue_type("Leak", parent=plumbing),
        "blocked": make.issue_type("Blocked drain", parent=plumbing),
        "outage": make.issue_type("Power outage", parent=electrical),
    }


def form(kinds, **overrides) -> dict:
    data = {
        "title": "Kitchen tap leaking",
        "description": "Water under the sink since Monday.",
        "issue_type_id": str(kinds["plumbing"].id),
        "sub_issue_type_id": str(kinds["leak"].id),
        "priority": "high",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- a new ticket ----------------------------------------------------------------


def test_opening_a_ticket_stores_it_mails_a_portal_link_and_goes_to_it(app, make, kinds, portal_sign_in):
    contact = make.contact(first_name="Cora", last_name="Customer")
    client = app.test_client()
    portal_sign_in(client, contact)
    mails_before = len(outbox(app))
    response = client.post("/tickets/new", data=form(kinds))
    assert response.status_code == 303
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert response.headers["Location"].endswith(f"/tickets/{ticket_id}")
    ticket = stored(app, Ticket, ticket_id)
    assert (ticket.title, ticket.priority, ticket.contact_id, ticket.organization_id) == (
        "Kitchen tap leaking",
        "high",
        contact.id,
        contact.organization_id,
    )
    assert (ticket.issue_type_id, ticket.sub_issue_type_id, ticket.state) == (
        kinds["plumbing"].id,
        kinds["leak"].id,
        TicketState.OPEN,
    )
    assert ticket.first_response_due_at is not None and ticket.resolution_due_at is not None
    with app.app_context():
        [message] = db.session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)).all()
        assert (message.kind, message.body, message.author_contact_id) == (
            MessageKind.REPLY,
            "Water under the sink since Monday.",
            contact.id,
        )
        db.session.remove()
    [mail] = [m for m in outbox(app)[mails_before:] if m["to_addr"] == contact.email]
    assert f"T-{ticket_id:06d}" in mail["subject"]
    # the mailed link opens the ticket, in a browser with no session at all
    fresh = app.test_client()
    landing = fresh.get(f"/l/{TOKEN.search(mail['body_text']).group(1)}")
    assert landing.status_code == 303 and landing.headers["Location"].endswith(f"/tickets/{ticket_id}")
    page = client.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200 and "Kitchen tap leaking" in page.get_data(as_text=True)


def test_a_contact_who_came_through_a_link_opens_a_ticket_and_can_follow_it(app, make, kinds, open_link):
    delivered = make.delivered()
    client = app.test_client()
    assert open_link(client, delivered.token).status_code == 200
    response = client.post("/tickets/new", data=form(kinds))
    assert response.status_code == 303
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "Kitchen tap leaking" in page.get_data(as_text=True)
    assert listed(client.get("/tickets").get_data(as_text=True)) == {ticket_id}
    # the session holds the ticket's link, and only that one besides the proposal's
    with client.session_transaction() as session:
        link_ids = session["portal"]["links"]
    with app.app_context():
        targets = {
            (l.target_type, l.target_id)
            for l in db.session.scalars(select(PortalLink).where(PortalLink.id.in_(link_ids)))
        }
        db.session.remove()
    assert targets == {("proposal", delivered.proposal.id), ("ticket", ticket_id)}


def test_the_same_form_sent_twice_opens_one_ticket_and_mails_once(app, make, kinds, portal_sign_in):
    contact = make.contact()
    client = app.test_client()
    portal_sign_in(client, contact)
    page = client.get("/tickets/new").get_data(as_text=True)
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    mails_before = len(outbox(app))
    first = client.post("/tickets/new", data=form(kinds, submission_key=key))
    second = client.post("/tickets/new", data=form(kinds, submission_key=key))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Ticket.id))) == 1
        db.session.remove()
    assert len([m for m in outbox(app)[mails_before:] if m["to_addr"] == contact.email]) == 1


def test_another_ticket_sent_with_an_old_form_key_is_opened_too(app, make, kinds, portal_sign_in):
    """The Back button brings the old form (and its key) back; a new title is a new ticket."""
    client = app.test_client()
    portal_sign_in(client, make.contact())
    first = client.post("/tickets/new", data=form(kinds, submission_key="k" * 22))
    second = client.post("/tickets/new", data=form(kinds, submission_key="k" * 22, title="Gate is stuck"))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] != second.headers["Location"]


def test_htmx_submit_answers_with_a_redirect_header(app, make, kinds):
    client = signed_in(app, make.contact())
    response = client.post("/tickets/new", data=form(kinds), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert re.fullmatch(r"/tickets/\d+", response.headers["HX-Redirect"])


INVALID = {
    "no title": ({"title": ""}, "title", "Please fill this in."),
    "title too long": ({"title": "x" * 201}, "title", "Keep this under 200 characters."),
    "no description": ({"description": "   "}, "description", "Please fill this in."),
    "unknown priority": ({"priority": "whenever"}, "priority", "Choose a priority."),
    "no issue type": (
        {"issue_type_id": "", "sub_issue_type_id": ""},
        "issue_type_id",
        "Choose what the ticket is about.",
    ),
    "no sub-issue type": ({"sub_issue_type_id": ""}, "sub_issue_type_id", "Choose the kind of problem."),
    "sub-type of another type": ("outage", "sub_issue_type_id", "Choose the kind of problem."),
    "a sub-type given as the type": ("leak-as-type", "issue_type_id", "Choose what the ticket is about."),
    "an issue type that does not exist": (
        {"issue_type_id": "999999"},
        "issue_type_id",
        "Choose what the ticket is about.",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_each_invalid_field_is_refused_with_422_keeping_what_was_typed(app, make, kinds, case):
    changes, field, message = INVALID[case]
    if changes == "outage":
        changes = {"sub_issue_type_id": str(kinds["outage"].id)}
    elif changes == "leak-as-type":
        changes = {"issue_type_id": str(kinds["leak"].id), "sub_issue_type_id": ""}
    client = signed_in(app, make.contact())
    data = (
        form(kinds, description="My typed words, kept.", **changes)
        if field != "description"
        else form(kinds, **changes)
    )
    before = snapshot(app)
    response = client.post("/tickets/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, case
    assert f'id="{field}-error"' in html and message in html
    if field != "description":
        assert "My typed words, kept." in html
    if field != "title":
        assert 'value="Kitchen tap leaking"' in html
    assert snapshot(app) == before  # no ticket, message, mail or link
    # htmx gets the form block only, with the same message
    partial = client.post("/tickets/new", data=data, headers={"HX-Request": "true"})
    assert partial.status_code == 422 and "<html" not in partial.get_data(as_text=True)
    assert message in partial.get_data(as_text=True)


def test_the_sub_issue_list_follows_the_chosen_type(app, make, kinds):
    client = signed_in(app, make.contact())
    page = client.get("/tickets/new").get_data(as_text=True)
    assert 'hx-get="/tickets/new/sub-issue-types"' in page and 'hx-target="#sub-issue-type"' in page
    assert "Leak" not in page  # no type chosen yet: no sub list
    partial = client.get(
        f"/tickets/new/sub-issue-types?issue_type_id={kinds['plumbing'].id}", headers={"HX-Request": "true"}
    )
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html
    assert html.strip().startswith('<div id="sub-issue-type"')
    assert "Leak" in html and "Blocked drain" in html and "Power outage" not in html
    html = client.get(
        f"/tickets/new/sub-issue-types?issue_type_id={kinds['electrical'].id}", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Power outage" in html and "Leak" not in html
    # a plain request (no JavaScript) gets the whole form with that type chosen
    full = client.get(f"/tickets/new/sub-issue-types?issue_type_id={kinds['electrical'].id}")
    html = full.get_data(as_text=True)
    assert full.status_code == 200 and "<html" in html
    assert f'<option value="{kinds["electrical"].id}" selected>' in html and "Power outage" in html


def test_without_javascript_a_changed_type_comes_back_with_its_sub_list(app, make, kinds):
    client = signed_in(app, make.contact())
    # the contact picked Plumbing / Leak, then changed the type to Electrical and sent
    response = client.post("/tickets/new", data=form(kinds, issue_type_id=str(kinds["electrical"].id)))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose the kind of problem." in html and "Power outage" in html and "Leak" not in html
    assert count(app, Ticket) == 0
    # or they pressed the no-JavaScript button that only refreshes the list
    response = client.post(
        "/tickets/new", data=form(kinds, issue_type_id=str(kinds["electrical"].id), sub_issue_type_id="", refresh="1")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Now choose the kind of problem" in html and "Power outage" in html
    assert count(app, Ticket) == 0


def test_without_issue_types_configured_a_ticket_needs_none(app, make):
    client = signed_in(app, make.contact())
    assert 'name="issue_type_id"' not in client.get("/tickets/new").get_data(as_text=True)
    response = client.post("/tickets/new", data={"title": "Gate", "description": "Broken hinge", "priority": "low"})
    assert response.status_code == 303


def test_the_site_is_asked_only_when_the_organization_has_two_or_more(app, make, kinds):
    org = make.organization("Greenleaf")
    contact = make.contact(org)
    client = signed_in(app, contact)
    assert 'name="site_id"' not in client.get("/tickets/new").get_data(as_text=True)
    only = make.site(org, "Main street")
    response = client.post("/tickets/new", data=form(kinds))
    assert response.status_code == 303
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert stored(app, Ticket, ticket_id).site_id == only.id  # the only site, without asking
    second = make.site(org, "Riverside depot")
    page = client.get("/tickets/new").get_data(as_text=True)
    assert 'name="site_id"' in page and "Main street" in page and "Riverside depot" in page
    response = client.post("/tickets/new", data=form(kinds))
    assert response.status_code == 422 and "Choose the site this is about." in response.get_data(as_text=True)
    response = client.post("/tickets/new", data=form(kinds, site_id=str(second.id)))
    assert response.status_code == 303
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert stored(app, Ticket, ticket_id).site_id == second.id


def test_a_site_of_another_organization_is_refused(app, make, kinds):
    org = make.organization("Greenleaf")
    make.site(org, "Main street")
    make.site(org, "Riverside depot")
    foreign = make.site(make.organization("Bramble & Co"), "Bramble yard")
    client = signed_in(app, make.contact(org))
    assert "Bramble yard" not in client.get("/tickets/new").get_data(as_text=True)
    before = snapshot(app)
    response = client.post("/tickets/new", data=form(kinds, site_id=str(foreign.id)))
    assert response.status_code == 422 and "Choose the site this is about." in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_without_a_portal_session_the_ticket_pages_send_to_sign_in(client):
    for path in ("/tickets", "/tickets/new"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"].endswith("/sign-in")
    # Without a session every portal page offers sign-in (tests/portal/test_session_ended.py).
    assert client.get("/tickets/new/sub-issue-types?issue_type_id=1").status_code == 303
    assert client.post("/tickets/new", data={"title": "x", "description": "y"}).status_code == 303
    response = client.get("/tickets/1")
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in?next=/tickets/1"


# --- attachments -------------------------------------------------------------------


def test_a_photo_is_stored_and_downloadable_as_an_attachment(app, make, kinds, attachments_dir):
    client = signed_in(app, make.contact())
    photo = png_bytes()
    response = client.post("/tickets/new", data={**form(kinds), "attachments": [upload(photo, "leak photo.png")]})
    assert response.status_code == 303
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        [attachment] = db.session.scalars(select(TicketAttachment)).all()
        assert (attachment.ticket_id, attachment.filename, attachment.content_type, attachment.size) == (
            ticket_id,
            "leak photo.png",
            "image/png",
            len(photo),
        )
        attachment_id = attachment.id
        db.session.remove()
    [path] = stored_files(attachments_dir)
    assert path.read_bytes() == photo and "leak" not in path.name  # a random name
    html = client.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    href = f"/tickets/{ticket_id}/attachments/{attachment_id}"
    assert f'href="{href}"' in html and "leak photo.png" in html
    with client.get(href) as download:  # closing the response closes the served file
        assert download.status_code == 200
        assert download.data == photo
        assert download.mimetype == "image/png"
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert "leak photo.png" in download.headers["Content-Disposition"]
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert download.headers["Cache-Control"] == "private, no-store"


def test_an_oversize_file_is_refused_and_nothing_is_stored(app, make, kinds, attachments_dir, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 200)
    client = signed_in(app, make.contact())
    before = snapshot(app)
    response = client.post("/tickets/new", data={**form(kinds), "attachments": [upload(png_bytes(300, 300))]})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "photo.png is larger than" in html and "MB." in html
    assert "please choose the files again" in html
    assert 'value="Kitchen tap leaking"' in html
    assert snapshot(app) == before and stored_files(attachments_dir) == []


def test_an_html_file_named_png_is_refused_and_nothing_is_stored(app, make, kinds, attachments_dir):
    client = signed_in(app, make.contact())
    before = snapshot(app)
    fake = b"<html><body><script>alert(document.cookie)</script></body></html>"
    response = client.post(
        "/tickets/new",
        data={
            **form(kinds),
            "attachments": [upload(png_bytes(), "fine.png"), upload(fake, "holiday.png", "image/png")],
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "holiday.png is not a file type we accept" in html
    assert snapshot(app) == before and stored_files(attachments_dir) == []


def test_more_than_five_files_are_refused(app, make, kinds, attachments_dir):
    client = signed_in(app, make.contact())
    before = snapshot(app)
    files = [upload(png_bytes(), f"photo{i}.png") for i in range(6)]
    response = client.post("/tickets/new", data={**form(kinds), "attachments": files})
    assert response.status_code == 422 and "Attach at most 5 files." in response.get_data(as_text=True)
    assert snapshot(app) == before and stored_files(attachments_dir) == []


def test_a_request_over_the_size_limit_gets_a_clear_message_not_a_bare_error(
    app, make, kinds, monkeypatch, attachments_dir
):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    contact = make.contact()
    client = signed_in(app, contact)

    def data():  # the test client closes the files it sent
        return {**form(kinds), "attachments": [upload(b"x" * 3000, "notes.txt", "text/plain")]}

    response = client.post("/tickets/new", data=data())
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "Those files are too large together: at most 5 files of 10 MB." in html
    assert 'id="ticket-form"' in html  # the form again, to try once more
    # with CSRF on, the body is read (and found too large) before the view: the same answer
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post("/tickets/new", data=data())
    assert response.status_code == 413 and "too large together" in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    partial = client.post("/tickets/new", data=data(), headers={"HX-Request": "true"})
    assert partial.status_code == 422  # the status htmx is configured to swap in
    assert "<html" not in partial.get_data(as_text=True) and "too large together" in partial.get_data(as_text=True)
    # the same on a reply
    ticket = make.ticket(contact, issue_type_id=kinds["plumbing"].id, sub_issue_type_id=kinds["leak"].id)
    reply = client.post(
        f"/tickets/{ticket.id}/reply", data={"body": "see file", "attachments": [upload(b"x" * 3000, "a.txt")]}
    )
    assert reply.status_code == 413 and "too large together" in reply.get_data(as_text=True)
    assert 'id="reply"' in reply.get_data(as_text=True)
    assert count(app, Ticket) == 1  # only the one made above
    assert count(app, TicketMessage, TicketMessage.ticket_id == ticket.id) == 1
    assert count(app, TicketAttachment) == 0 and stored_files(attachments_dir) == []


def test_only_those_who_may_see_the_ticket_download_its_attachments(app, make, attachments_dir):
    org = make.organization("Greenleaf")
    owner = make.contact(org)
    ticket = make.ticket(owner, files=[file_storage(png_bytes())])
    with app.app_context():
        attachment_id = db.session.scalar(select(TicketAttachment.id))
        db.session.remove()
    path = f"/tickets/{ticket.id}/attachments/{attachment_id}"
    for allowed in (owner, make.contact(org, portal_level="organization")):
        with signed_in(app, allowed).get(path) as response:
            assert response.status_code == 200
    # a requester colleague, and the widest contact of another company
    assert signed_in(app, make.contact(org, portal_level="requester")).get(path).status_code == 404
    stranger = make.contact(make.organization("Bramble & Co"), portal_level="organization_tree")
    assert signed_in(app, stranger).get(path).status_code == 404
    # through another ticket's URL, even one the contact may see
    own = make.ticket(owner, title="Another one")
    assert signed_in(app, owner).get(f"/tickets/{own.id}/attachments/{attachment_id}").status_code == 404


def test_an_internal_notes_attachment_is_never_served_to_the_contact(app, make, attachments_dir):
    contact = make.contact()
    ticket = make.ticket(contact)
    staff = make.staff(name="Sam Support")
    note_id = staff_message(
        app, ticket.id, staff, SECRET, internal=True, files=[file_storage(png_bytes(), "internal-diagram.png")]
    )
    with app.app_context():
        attachment_id = db.session.scalar(select(TicketAttachment.id).where(TicketAttachment.message_id == note_id))
        db.session.remove()
    client = signed_in(app, contact)
    assert client.get(f"/tickets/{ticket.id}/attachments/{attachment_id}").status_code == 404
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "internal-diagram.png" not in html and SECRET not in html


# --- who sees what -------------------------------------------------------------------


@pytest.fixture
def tree(app, make):
    """Holding > Greenleaf > North; Bramble unrelated. Contacts of each level at
    Greenleaf; one ticket for each place."""
    holding = make.organization("Greenleaf Holding")
    greenleaf = make.organization_with("Greenleaf", parent_id=holding.id)
    north = make.organization_with("Greenleaf North", parent_id=greenleaf.id)
    bramble = make.organization("Bramble & Co")
    contacts = {
        "requester": make.contact(greenleaf, portal_level="requester"),
        "organization": make.contact(greenleaf, portal_level="organization"),
        "organization_tree": make.contact(greenleaf, portal_level="organization_tree"),
        "colleague": make.contact(greenleaf),
        "north": make.contact(north),
        "holding": make.contact(holding),
        "bramble": make.contact(bramble),
    }
    tickets = {name: make.ticket(contact, title=f"Ticket of {name}").id for name, contact in contacts.items()}
    return contacts, tickets


LEVEL_SEES = {
    "requester": {"requester"},
    "organization": {"requester", "organization", "organization_tree", "colleague"},
    "organization_tree": {"requester", "organization", "organization_tree", "colleague", "north"},
}


@pytest.mark.parametrize("level", sorted(LEVEL_SEES))
def test_each_level_lists_and_opens_exactly_the_tickets_it_covers(app, tree, level):
    contacts, tickets = tree
    client = signed_in(app, contacts[level])
    visible = {tickets[name] for name in LEVEL_SEES[level] | {level}}
    assert listed(client.get("/tickets?show=all").get_data(as_text=True)) == visible
    for name, ticket_id in tickets.items():
        expected = 200 if ticket_id in visible else 404
        assert client.get(f"/tickets/{ticket_id}").status_code == expected, (level, name)


def test_a_link_only_session_sees_only_the_linked_ticket(app, tree, open_link):
    contacts, tickets = tree
    contact = contacts["organization_tree"]  # the widest level changes nothing without signing in
    client = app.test_client()
    page = open_link(client, ticket_token(app, contact, tickets["organization_tree"]))
    assert page.status_code == 200 and "Ticket of organization_tree" in page.get_data(as_text=True)
    assert listed(client.get("/tickets?show=all").get_data(as_text=True)) == {tickets["organization_tree"]}
    for name, ticket_id in tickets.items():
        expected = 200 if name == "organization_tree" else 404
        assert client.get(f"/tickets/{ticket_id}").status_code == expected, name


def test_a_mailed_link_opens_that_ticket_for_that_contact_and_no_other(app, make, client):
    contact = make.contact()
    first = make.ticket(contact, title="Broken gate")
    second = make.ticket(contact, title="Dead lamp")
    token = ticket_token(app, contact, first.id)
    landing = client.get(f"/l/{token}")
    assert landing.status_code == 303 and landing.headers["Location"].endswith(f"/tickets/{first.id}")
    page = client.get(landing.headers["Location"])
    assert page.status_code == 200 and "Broken gate" in page.get_data(as_text=True)
    assert client.get(f"/tickets/{second.id}").status_code == 404  # the contact's own, but not this link's
    assert contact.last_name in page.get_data(as_text=True)


def test_an_expired_ticket_link_offers_a_new_one(app, make, client, open_link):
    from datetime import timedelta

    from portal.core.db import utcnow

    contact = make.contact()
    ticket = make.ticket(contact)
    token = ticket_token(app, contact, ticket.id)
    assert open_link(client, token).status_code == 200
    with app.app_context():
        for link in db.session.scalars(select(PortalLink)):
            link.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    response = client.get(f"/tickets/{ticket.id}")
    assert response.status_code == 410 and "Email me a new link" in response.get_data(as_text=True)


# --- the conversation, reply, close, reopen -------------------------------------------------


def test_the_conversation_shows_public_replies_only(app, make):
    contact = make.contact(first_name="Cora", last_name="Customer")
    ticket = make.ticket(contact, description="The tap drips.")
    staff = make.staff(name="Sam Support")
    staff_message(app, ticket.id, staff, SECRET, internal=True)
    set_state(app, ticket.id, TicketState.WAITING, staff)  # a timeline event
    staff_message(app, ticket.id, staff, "We will come on Tuesday.", internal=False)
    html = signed_in(app, contact).get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert SECRET not in html
    assert "Status changed" not in html
    conversation = html.split('id="conversation"', 1)[1].split("</section>", 1)[0]
    assert conversation.index("The tap drips.") < conversation.index("We will come on Tuesday.")
    assert "Sam from Porchlight" in conversation and "Cora Customer" in conversation
    assert "Support" not in conversation  # staff show by first name


def test_a_reply_is_added_and_htmx_gets_the_ticket_back_with_an_empty_box(app, make, attachments_dir):
    contact = make.contact()
    ticket = make.ticket(contact)
    client = signed_in(app, contact)
    response = client.post(
        f"/tickets/{ticket.id}/reply", data={"body": "Still dripping.", "attachments": [upload(png_bytes())]}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/tickets/{ticket.id}")
    partial = client.post(
        f"/tickets/{ticket.id}/reply", data={"body": "And now the floor is wet."}, headers={"HX-Request": "true"}
    )
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html and html.strip().startswith('<article id="ticket"')
    assert "Still dripping." in html and "And now the floor is wet." in html
    assert re.search(r'<textarea id="body"[^>]*>\s*</textarea>', html)  # the box is empty again
    assert "photo.png" in html and len(stored_files(attachments_dir)) == 1
    assert count(app, TicketMessage, TicketMessage.ticket_id == ticket.id, TicketMessage.kind == "reply") == 3


def test_an_empty_reply_is_refused_and_changes_nothing(app, make):
    contact = make.contact()
    ticket = make.ticket(contact)
    client = signed_in(app, contact)
    before = snapshot(app)
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(f"/tickets/{ticket.id}/reply", data={"body": "  "}, headers=headers)
        assert response.status_code == 422 and "Please fill this in." in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_replying_on_a_waiting_ticket_moves_it_back_to_open(app, make):
    contact = make.contact()
    ticket = make.ticket(contact)
    set_state(app, ticket.id, TicketState.WAITING, make.staff())
    client = signed_in(app, contact)
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "the resolution clock is paused" in html and "Waiting on customer" in html
    assert client.post(f"/tickets/{ticket.id}/reply", data={"body": "Here is the photo."}).status_code == 303
    after = stored(app, Ticket, ticket.id)
    assert after.state == TicketState.OPEN and after.resolution_due_at is not None
    assert "the resolution clock is paused" not in client.get(f"/tickets/{ticket.id}").get_data(as_text=True)


def test_closing_twice_is_harmless_and_reopening_brings_the_reply_box_back(app, make):
    contact = make.contact()
    ticket = make.ticket(contact)
    client = signed_in(app, contact)
    assert client.post(f"/tickets/{ticket.id}/close").status_code == 303
    closed = stored(app, Ticket, ticket.id)
    assert closed.state == TicketState.CLOSED and closed.closed_at is not None
    events = count(app, TimelineEntry, TimelineEntry.subject_type == Subject.TICKET)
    before = snapshot(app)
    again = client.post(f"/tickets/{ticket.id}/close", headers={"HX-Request": "true"})
    assert again.status_code == 200 and snapshot(app) == before  # the double tap changed nothing
    html = again.get_data(as_text=True)
    assert "Reopen it to reply" in html and 'id="reply"' not in html and "Reopen ticket" in html
    refused = client.post(f"/tickets/{ticket.id}/reply", data={"body": "Hello?"})
    assert refused.status_code == 409 and "Reopen it to reply" in refused.get_data(as_text=True)
    assert client.post(f"/tickets/{ticket.id}/reopen").status_code == 303
    assert stored(app, Ticket, ticket.id).state == TicketState.OPEN
    before = snapshot(app)
    assert client.post(f"/tickets/{ticket.id}/reopen").status_code == 303
    assert snapshot(app) == before
    assert count(app, TimelineEntry, TimelineEntry.subject_type == Subject.TICKET) == events + 1
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="reply"' in html and "Close ticket" in html and 'hx-confirm="Close this ticket?' in html


# --- the SLA clocks, in the contact's time zone ---------------------------------------------


def test_due_times_are_shown_in_the_contacts_time_zone(app, make):
    # Monday 7 December 2026, 10:00 UTC; the default SLA counts Mon-Fri 9-17 UTC:
    # normal priority answers within 4 business hours (14:00 UTC) and resolves within
    # 24 (Thursday 10:00 UTC). New York is UTC-5 in December.
    contact = make.contact(timezone="America/New_York")
    ticket = make.ticket(contact, priority="normal", now=datetime(2026, 12, 7, 10, 0))
    stored_ticket = stored(app, Ticket, ticket.id)
    assert stored_ticket.first_response_due_at == datetime(2026, 12, 7, 14, 0)
    assert stored_ticket.resolution_due_at == datetime(2026, 12, 10, 10, 0)
    html = signed_in(app, contact).get(f"/tickets/{ticket.id}").get_data(as_text=True)
    # One look for a time, with the zone's abbreviation (tests/core/test_templating.py).
    assert re.search(r"First response by Dec 7, 2026, 9:00\sAM EST", html)
    assert re.search(r"Resolution by Dec 10, 2026, 5:00\sAM EST", html)
    assert not re.search(r"by Dec 7, 2026, 2:00\sPM", html)  # not the UTC time
    # the same ticket seen by a colleague in UTC
    colleague = make.contact(
        stored(app, Organization, contact.organization_id), portal_level="organization", timezone="UTC"
    )
    html = signed_in(app, colleague).get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert re.search(r"First response by Dec 7, 2026, 2:00\sPM UTC", html)


def test_the_clocks_say_overdue_then_met(app, make):
    contact = make.contact()
    ticket = make.ticket(contact, now=datetime(2020, 3, 2, 10, 0))  # long past its due times
    client = signed_in(app, contact)
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "First response was due by" in html and "Resolution was due by" in html
    staff_message(app, ticket.id, make.staff(name="Sam Support"), "On it.", internal=False)
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "(it was due by" in html and "First response was due by" not in html


# --- the list ------------------------------------------------------------------------


def test_the_list_has_open_and_closed_tabs_and_an_inviting_empty_state(app, make):
    contact = make.contact()
    client = signed_in(app, contact)
    html = client.get("/tickets").get_data(as_text=True)
    assert "No tickets here yet." in html and 'href="/tickets/new"' in html
    open_one = make.ticket(contact, title="Open one")
    closed_one = make.ticket(contact, title="Closed one")
    client.post(f"/tickets/{closed_one.id}/close")
    assert listed(client.get("/tickets").get_data(as_text=True)) == {open_one.id}
    assert listed(client.get("/tickets?show=closed").get_data(as_text=True)) == {closed_one.id}
    partial = client.get("/tickets?show=all", headers={"HX-Request": "true"})
    html = partial.get_data(as_text=True)
    assert "<html" not in html and html.strip().startswith('<section id="ticket-results"')
    assert listed(html) == {open_one.id, closed_one.id}
    assert html.index("Closed one") < html.index("Open one")  # newest first
    assert f"T-{open_one.id:06d}" in html and "Normal" in html and "New" in html


def test_the_list_is_bounded_with_a_link_to_older_tickets(app, make):
    contact = make.contact()
    with app.app_context():
        person = db.session.get(Contact, contact.id)
        status = db.session.scalar(select(TicketStatus).order_by(TicketStatus.position))
        for i in range(53):
            db.session.add(
                Ticket(
                    organization_id=person.organization_id,
                    contact_id=person.id,
                    title=f"T{i}",
                    status_id=status.id,
                    state=status.state,
                )
            )
        db.session.commit()
        ids = sorted(db.session.scalars(select(Ticket.id)), reverse=True)
        db.session.remove()
    client = signed_in(app, contact)
    html = client.get("/tickets").get_data(as_text=True)
    assert listed(html) == set(ids[:50])
    older = re.search(r'id="older-tickets" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    html = client.get(older).get_data(as_text=True)
    assert listed(html) == set(ids[50:]) and 'id="older-tickets"' not in html


def test_the_home_page_leads_to_tickets(app, make):
    client = signed_in(app, make.contact())
    html = client.get("/home").get_data(as_text=True)
    assert 'href="/tickets"' in html and 'href="/tickets/new"' in html and "New ticket" in html


def test_ticket_pages_carry_home_and_sign_out_for_a_signed_in_contact(app, make):
    contact = make.contact()
    ticket = make.ticket(contact)
    client = signed_in(app, contact)
    for path in ("/tickets", "/tickets/new", f"/tickets/{ticket.id}"):
        html = client.get(path).get_data(as_text=True)
        assert 'href="/home"' in html and 'action="/sign-out"' in html, path


# --- queries -------------------------------------------------------------------------


def test_the_list_runs_the_same_queries_for_3_or_30_tickets(app, make, count_queries):
    parent = make.organization("Greenleaf")
    sub = make.organization_with("Greenleaf North", parent_id=parent.id)
    tree_contact = make.contact(parent, portal_level="organization_tree")
    others = [make.contact(parent), make.contact(sub)]
    client = signed_in(app, tree_contact)

    def add(n: int) -> None:
        for i in range(n):
            make.ticket(others[i % 2], title=f"Ticket {i}")

    def queries() -> tuple[int, int]:
        with count_queries() as counter:
            response = client.get("/tickets")
        assert response.status_code == 200
        return counter.count, len(listed(response.get_data(as_text=True)))

    add(3)
    few, listed_few = queries()
    add(27)
    many, listed_many = queries()
    assert (listed_few, listed_many) == (3, 30)
    assert few == many <= 4, (few, many)  # contact, sub-organizations, the page of rows


def test_the_ticket_page_runs_the_same_queries_for_3_or_30_messages(app, make, count_queries):
    contact = make.contact()
    ticket = make.ticket(contact, files=[file_storage(png_bytes())])
    staff = make.staff(name="Sam Support")
    client = signed_in(app, contact)

    def add(n: int) -> None:
        for i in range(n):
            staff_message(
                app,
                ticket.id,
                staff,
                f"Reply {i}",
                internal=False,
                files=[file_storage(png_bytes(), f"r{i}.png")] if i % 2 else [],
            )
            staff_message(app, ticket.id, staff, f"Note {i}", internal=True)

    def queries() -> tuple[int, int]:
        with count_queries() as counter:
            response = client.get(f"/tickets/{ticket.id}")
        assert response.status_code == 200
        return counter.count, response.get_data(as_text=True).count('class="message ')

    add(2)
    few, shown_few = queries()
    add(27)
    many, shown_many = queries()
    assert (shown_few, shown_many) == (3, 30)
    assert few == many <= 6, (few, many)
