"""A visitor asks for a quote on a phone (360x740, touch) in a real Chromium, CSRF on:
a missing field comes back in place (422, htmx) with what was typed, the fixed form
goes through, the thank-you page names the receipt, the receipt is in the outbox, and
no page scrolls sideways."""

from __future__ import annotations

import pytest

from tests.browser.conftest import watch
from tests.factories import outbox

pytestmark = pytest.mark.browser

PHONE_360 = dict(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True)


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_360["viewport"]["width"], f"the page is {width}px wide on a 360px phone"


def test_a_visitor_requests_a_quote_on_a_phone(app, new_context, live_server, tmp_path):
    from playwright.sync_api import expect

    page = new_context(**PHONE_360).new_page()
    watcher = watch(page, live_server.url)
    page.goto("/quote")
    expect(page.locator("h1")).to_have_text("Request a quote")
    _no_sideways_scroll(page)
    expect(page.locator("#website")).not_to_be_in_viewport()  # the honeypot stays out of sight

    page.locator("#name").tap()
    page.fill("#name", "Vera Visitor")
    page.fill("#email", "vera@visitor.example")
    page.fill("#phone", "+1 555 0100")
    page.fill("#address", "12 Elm Street")
    page.locator("#send-quote").tap()
    # "What do you need?" was left empty: the form comes back in place, typed values kept.
    expect(page.locator("#need-error")).to_contain_text("Tell us what you need")
    expect(page.locator("#name")).to_have_value("Vera Visitor")
    expect(page.locator("#address")).to_have_value("12 Elm Street")
    _no_sideways_scroll(page)

    page.fill("#need", "Weekly mowing of a front and back lawn from April")
    page.locator("#send-quote").tap()
    page.wait_for_url(f"{live_server.url}/quote/thanks")
    expect(page.locator("#quote-thanks")).to_contain_text("A receipt is on its way to v•••@visitor.example")
    _no_sideways_scroll(page)
    page.screenshot(path=str(tmp_path / "quote-thanks.png"), full_page=True)

    [mail] = outbox(app)
    assert mail["to_addr"] == "vera@visitor.example"
    assert "Weekly mowing of a front and back lawn" in mail["body_text"]
    watcher.assert_clean()
