"""Ticking options in a real browser: the choice survives a reload, and a tap after the
CSRF token expired reloads the page and says so, never a ticked box with a wrong total."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import PHONE, watch
from tests.browser.test_signing_on_a_phone import OPTIONAL, _delivered, _expect, _money, _option

pytestmark = pytest.mark.browser


def test_ticked_options_survive_a_reload(app, make, live_server, new_context):
    expect = _expect()
    _rep, delivered = _delivered(make)
    page = new_context(**PHONE).new_page()
    page_watch = watch(page, live_server.url)
    page.goto(f"{live_server.url}/l/{delivered.token}")
    grand = page.locator("#grand-total")
    _option(page, "Lawn aeration").check()
    with_aeration = _money(app, delivered.proposal.id, {"Lawn aeration"})
    expect(grand).to_have_text(with_aeration)
    page.reload()
    expect(_option(page, "Lawn aeration")).to_be_checked()
    expect(grand).to_have_text(with_aeration)
    page_watch.assert_clean()


def test_a_tap_after_the_token_expired_reloads_and_says_so(app, make, live_server, new_context, monkeypatch):
    expect = _expect()
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", 1)
    _rep, delivered = _delivered(make)
    page = new_context(**PHONE).new_page()
    page.goto(f"{live_server.url}/l/{delivered.token}")
    expect(page.locator("#grand-total")).to_have_text(_money(app, delivered.proposal.id))
    time.sleep(2.2)  # the page stays open longer than the token lives (not a timing assertion)
    # One tap. Not check(): it verifies the box ended up ticked and, when the page has
    # meanwhile reloaded (as it should here), ticks the new page's box too.
    _option(page, OPTIONAL[0][0]).click()
    expect(page).to_have_url(f"{live_server.url}/p/proposals/{delivered.proposal.id}?refreshed=1")
    expect(page.get_by_role("alert").filter(has_text="we refreshed it")).to_be_visible()
    expect(_option(page, OPTIONAL[0][0])).not_to_be_checked()
    expect(page.locator("#grand-total")).to_have_text(_money(app, delivered.proposal.id))
