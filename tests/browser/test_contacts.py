"""Staff edit a contact in a real Chromium: the htmx searches (contacts, and the
organization to move a contact to) swap only their region, Enter in the organization
search does not throw away the edit in progress, and the saved move ends the
contact's portal access with a notice."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import staff_login, watch
from tests.factories import contact_state

pytestmark = pytest.mark.browser

ENDED = "Portal links of this contact were revoked and their open portal sessions end now."


def _expect():
    from playwright.sync_api import expect

    return expect


def _search(query: str):
    """Matches the response to the organization search for ``query``."""
    pattern = re.compile(rf"[?&]org_q={re.escape(query)}(&|$)")
    return lambda response: bool(pattern.search(response.url))


def test_staff_search_contacts_and_move_one_to_another_organization(app, make, live_server, new_context):
    expect = _expect()
    admin = make.staff(role="admin", name="Ada Admin")
    home = make.organization("Alpha Holdings")
    for n in range(60):  # more organizations than the select lists at first
        make.organization(f"Filler {n:02d}")
    target = make.organization("Zeta Branch")
    contact = make.contact(
        home, first_name="Jane", last_name="Park", email="jane.park@example.test", portal_level="organization"
    )
    make.contact(home, first_name="Omar", last_name="Diaz", email="omar@example.test")

    page = new_context().new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, admin)

    page.goto("/admin/contacts/")
    page.fill("#q", "park")
    expect(page.locator("#results")).not_to_contain_text("Omar Diaz")
    expect(page.locator("#results")).to_contain_text("Jane Park")
    assert "q=park" in page.url  # the search is in the address bar, for back and reload

    page.click("text=Jane Park")
    page.wait_for_url(re.compile(rf"/admin/contacts/{contact.id}$"))
    page.fill("#title", "Regional manager")  # an edit in progress
    select = page.locator("#organization_id")
    expect(select.locator("option", has_text="Zeta Branch")).to_have_count(0)
    with page.expect_response(_search("zeta")):
        page.fill("#org-q", "zeta")
    expect(select.locator("option", has_text="Zeta Branch")).to_have_count(1)
    with page.expect_response(_search("zeta")):
        page.press("#org-q", "Enter")
    expect(select.locator("option", has_text="Zeta Branch")).to_have_count(1)
    expect(page.locator("#title")).to_have_value("Regional manager")  # nothing was thrown away
    select.select_option(str(target.id))
    with page.expect_response(_search("zet")):
        page.fill("#org-q", "zet")  # searching again keeps the pick
    expect(select).to_have_value(str(target.id))
    page.click("#save-contact")
    expect(page.get_by_text(ENDED)).to_be_visible()
    moved = contact_state(app, contact.id)
    assert (moved.organization_id, moved.title) == (target.id, "Regional manager")
    assert moved.portal_epoch == contact.portal_epoch + 1
    watcher.assert_clean()
