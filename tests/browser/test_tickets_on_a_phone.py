"""A contact opens a ticket on a phone, in a real Chromium against a live server: the
sub-issue list follows the chosen type (htmx), a photo goes with it, the ticket shows
in the list; staff answer, and after a reload the contact reads the reply and answers
back from the same page (htmx, CSRF on)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk import tickets as service
from portal.domains.service_desk.models import Ticket, TicketAttachment
from tests.browser.conftest import PHONE, watch

pytestmark = pytest.mark.browser


def _photo(path) -> None:
    image = Image.new("RGB", (64, 48), (30, 120, 200))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())


def test_a_contact_opens_a_ticket_with_a_photo_and_reads_the_staff_reply_on_a_phone(
    app, make, live_server, new_context, tmp_path, monkeypatch
):
    from playwright.sync_api import expect

    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path / "attachments"))
    plumbing = make.issue_type("Plumbing")
    electrical = make.issue_type("Electrical")
    make.issue_type("Leak", parent=plumbing)
    make.issue_type("Blocked drain", parent=plumbing)
    make.issue_type("Power outage", parent=electrical)
    contact = make.contact(first_name="Cora", last_name="Contact")
    delivered = make.delivered(contact=contact, title="Spring grounds care")
    staff = make.staff(name="Sam Support")
    photo = tmp_path / "kitchen.png"
    _photo(photo)

    page = new_context(**PHONE).new_page()
    watcher = watch(page, live_server.url)
    # In through the emailed proposal link (no sign-in): home, then New ticket.
    page.goto(f"/l/{delivered.token}")
    page.wait_for_url(f"{live_server.url}/p/proposals/{delivered.proposal.id}")
    page.goto("/home")
    page.locator("#tickets").get_by_role("link", name="New ticket").click()
    page.wait_for_url(f"{live_server.url}/tickets/new")

    page.fill("#title", "Kitchen tap leaking")
    page.fill("#description", "Water under the sink since Monday.")
    page.select_option("#issue_type_id", label="Electrical")
    sub = page.locator("#sub_issue_type_id")
    expect(sub.locator("option", has_text="Power outage")).to_have_count(1)
    page.select_option("#issue_type_id", label="Plumbing")  # the list follows the type
    expect(sub.locator("option", has_text="Leak")).to_have_count(1)
    expect(sub.locator("option", has_text="Power outage")).to_have_count(0)
    sub.select_option(label="Leak")
    page.select_option("#priority", "high")
    expect(page.locator("button[name=refresh]")).to_be_hidden()  # the no-JavaScript step
    page.set_input_files("#attachments", str(photo))
    page.get_by_role("button", name="Send ticket").click()

    page.wait_for_url(re.compile(rf"{re.escape(live_server.url)}/tickets/\d+$"))
    ticket_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("h1")).to_have_text("Kitchen tap leaking")
    expect(page.locator("#ticket-facts")).to_contain_text("Plumbing · Leak")
    expect(page.locator("#sla")).to_contain_text("First response by")
    expect(page.locator("#conversation").get_by_role("link", name="kitchen.png")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], "the ticket page scrolls sideways on a phone"
    with app.app_context():
        attachment = db.session.scalar(db.select(TicketAttachment).where(TicketAttachment.ticket_id == ticket_id))
        assert attachment is not None and attachment.content_type == "image/png"
        db.session.remove()

    page.locator(".topbar").get_by_role("link", name="Tickets").click()
    page.wait_for_url(f"{live_server.url}/tickets")
    expect(page.locator(f"#ticket-{ticket_id}")).to_contain_text("Kitchen tap leaking")

    # Staff answer (through the service the admin page calls).
    with app.app_context():
        service.add_staff_message(
            db.session.get(Ticket, ticket_id),
            db.session.get(StaffUser, staff.id),
            "We will come on Tuesday morning.",
            internal=False,
        )
        service.add_staff_message(
            db.session.get(Ticket, ticket_id),
            db.session.get(StaffUser, staff.id),
            "Internal: bring the big wrench.",
            internal=True,
        )
        db.session.commit()
        db.session.remove()

    page.locator(f"#ticket-{ticket_id} a").click()
    page.wait_for_url(f"{live_server.url}/tickets/{ticket_id}")
    page.reload()
    conversation = page.locator("#conversation")
    expect(conversation).to_contain_text("We will come on Tuesday morning.")
    expect(conversation).to_contain_text("Sam from Porchlight")
    expect(conversation).not_to_contain_text("big wrench")

    # The contact answers back: htmx swaps the ticket in place and empties the box.
    page.fill("#body", "Tuesday is fine, thank you.")
    page.get_by_role("button", name="Send reply").click()
    expect(conversation).to_contain_text("Tuesday is fine, thank you.")
    expect(page.locator("#body")).to_have_value("")
    assert page.url == f"{live_server.url}/tickets/{ticket_id}"

    # Close (after confirming), then reopen: the reply box goes and comes back.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close ticket").click()
    expect(page.locator("#closed")).to_contain_text("Reopen it to reply")
    expect(page.locator("#body")).to_have_count(0)
    page.get_by_role("button", name="Reopen ticket").click()
    expect(page.locator("#body")).to_be_visible()
    watcher.assert_clean()
