"""Drag a card to another stage on the pipeline board in a real Chromium (SortableJS
needs real pointer events: Playwright's mouse and, on a phone, touch through the
DevTools input pipeline), and see the move saved after a reload. CSRF is on and the
page must stay clean under the strict CSP."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, staff_login, watch
from tests.sales_factories import make_opportunity, stage_id

pytestmark = pytest.mark.browser


def _expect():
    from playwright.sync_api import expect

    return expect


def _drag_with_mouse(page, source, target) -> None:
    _sortable_ready(page)
    """Press, move in small steps (Sortable starts a drag after a few pixels), release."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + 20, start["y"] + 10)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 30, steps=20)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 32, steps=2)
    page.mouse.up()


def test_drag_a_card_to_another_stage_and_it_stays_after_reload(app, make, live_server, new_context):
    expect = _expect()
    rep = make.staff(name="Rita Rep")
    org = make.organization_with("Birch Lane HOA", team=[rep])
    opportunity = make_opportunity(app, rep, org, title="Hedge maze")
    qualified = stage_id(app, "qualified")

    page = new_context(viewport={"width": 1400, "height": 900}).new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, rep)
    page.goto("/admin/sales/board")
    card = page.locator(f"#card-{opportunity.id}")
    expect(card).to_be_visible()
    watcher.assert_clean()  # the board itself: no inline script or style, nothing foreign
    _drag_with_mouse(page, card.locator(".card-facts"), page.locator(f"#stage-{qualified} ol.cards"))
    expect(page.locator(f"#stage-{qualified} #card-{opportunity.id}")).to_be_visible()
    expect(page.locator("#board-message")).to_contain_text("Moved to Qualified")
    expect(page.locator(f"#stage-{qualified}-count")).to_have_text("1")
    page.reload()
    expect(page.locator(f"#stage-{qualified} #card-{opportunity.id}")).to_be_visible()
    # During the drag SortableJS clones the card with the style attribute it gave it;
    # the CSP refuses that copy (the clone is positioned through CSSOM, which the CSP
    # allows), so the only complaint tolerated is that one.
    assert all("Applying inline style" in text for text in watcher.csp_errors), watcher.csp_errors
    assert not watcher.foreign_requests and not watcher.page_errors


def _sortable_ready(page) -> None:
    """board.js has made the columns sortable (a drag before that is only a scroll; on a
    loaded machine the script can run after the test's first touch)."""
    page.locator("ol.cards[data-sortable='1']").first.wait_for(state="attached", timeout=15000)


def _touch_drag(page, source, target) -> None:
    _sortable_ready(page)
    session = page.context.new_cdp_session(page)
    start, end = source.bounding_box(), target.bounding_box()
    x0, y0 = start["x"] + 20, start["y"] + 10
    x1, y1 = end["x"] + end["width"] / 2, end["y"] + 30

    def touch(kind, x=None, y=None):
        points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1}]
        session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", x0, y0)
    page.wait_for_timeout(400)  # Sortable's touch delay: a held finger, not a scroll
    steps = 20
    for i in range(1, steps + 1):
        touch("touchMove", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
        page.wait_for_timeout(15)
    touch("touchEnd")
    session.detach()


def test_a_touch_drag_on_a_tablet_moves_the_card_too(app, make, live_server, new_context):
    expect = _expect()
    rep = make.staff(name="Rita Rep")
    org = make.organization_with("Birch Lane HOA", team=[rep])
    opportunity = make_opportunity(app, rep, org, title="Hedge maze")
    qualified = stage_id(app, "qualified")
    tablet = {**PHONE, "viewport": {"width": 1100, "height": 800}}
    page = new_context(**tablet).new_page()
    staff_login(page, rep)
    page.goto("/admin/sales/board")
    _touch_drag(page, page.locator(f"#card-{opportunity.id} .card-facts"), page.locator(f"#stage-{qualified} ol.cards"))
    expect(page.locator(f"#stage-{qualified} #card-{opportunity.id}")).to_be_visible(timeout=15000)
    # Sortable moves the card at once; the server's answer says it was saved (a reload
    # before that would race the POST).
    expect(page.locator("#board-message")).to_contain_text("Moved to Qualified", timeout=15000)
    page.reload()
    expect(page.locator(f"#stage-{qualified} #card-{opportunity.id}")).to_be_visible()


def test_a_refused_drag_snaps_back(app, make, live_server, new_context):
    expect = _expect()
    rep = make.staff(name="Rita Rep")
    org = make.organization_with("Birch Lane HOA", team=[rep])
    opportunity = make_opportunity(app, rep, org, title="Hedge maze")
    lost = stage_id(app, "lost")
    new = stage_id(app, "new")
    page = new_context(viewport={"width": 1800, "height": 900}).new_page()
    staff_login(page, rep)
    page.goto("/admin/sales/board?closed=1")
    _drag_with_mouse(page, page.locator(f"#card-{opportunity.id} .card-facts"), page.locator(f"#stage-{lost} ol.cards"))
    expect(page.locator("#board-message")).to_contain_text("with the reasons")
    expect(page.locator(f"#stage-{new} #card-{opportunity.id}")).to_be_visible()
