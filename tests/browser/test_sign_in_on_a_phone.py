"""A contact signs in to the portal on a phone with the emailed code, in a real Chromium:
the site root leads to the sign-in page, the code form (htmx, CSRF on) shows a wrong code
in place and lets the right one in, the home page lists the proposal, sign-out ends it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, watch
from tests.portal.conftest import sign_in_mail

pytestmark = pytest.mark.browser


def test_a_contact_signs_in_with_the_code_and_signs_out_on_a_phone(app, make, new_context, live_server, tmp_path):
    from playwright.sync_api import expect

    contact = make.contact(first_name="Cora", last_name="Contact", email="cora@greenleaf.example")
    delivered = make.delivered(contact=contact, title="Spring grounds care")
    page = new_context(**PHONE).new_page()
    watcher = watch(page, live_server.url)

    page.goto("/")
    page.get_by_role("link", name="Sign in with your email").click()
    page.fill("#email", "Cora@GreenLeaf.example")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_text("If that address has portal access, we sent a link and a code.")).to_be_visible()

    base, _token, code = sign_in_mail(app, contact.email)
    assert base == live_server.url
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.fill("#code", wrong)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("That code did not work.")).to_be_visible()  # swapped in place (422)
    page.fill("#code", code)
    page.get_by_role("button", name="Sign in", exact=True).click()

    page.wait_for_url(f"{live_server.url}/home")
    expect(page.locator(".topbar")).to_contain_text("Cora Contact")
    awaiting = page.locator("#awaiting")
    expect(awaiting).to_contain_text("Spring grounds care")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], "the home page scrolls sideways on a phone"
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

    awaiting.get_by_role("link").first.click()
    page.wait_for_url(f"{live_server.url}/p/proposals/{delivered.proposal.id}")
    expect(page.locator("h1")).to_have_text("Spring grounds care")

    page.goto("/home")
    page.locator(".topbar").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/sign-in")
    page.goto("/home")
    page.wait_for_url(f"{live_server.url}/sign-in")
    watcher.assert_clean()
