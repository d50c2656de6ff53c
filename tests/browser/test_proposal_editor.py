"""The staff line editor in a real Chromium at a desktop width: each column header sits
over its inputs, and choosing a catalog service previews it in place (CSRF on)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import staff_login, watch

pytestmark = pytest.mark.browser

DESKTOP = dict(viewport={"width": 1280, "height": 900})


def test_line_editor_headers_sit_over_their_inputs_and_a_service_is_previewed(app, make, live_server, new_context):
    from playwright.sync_api import expect

    staff = make.staff(name="Sam Sales")
    item = make.catalog_item(name="Core aeration", price="120.00")
    proposal = make.proposal(rep=staff, included=(("Weekly mowing " * 8, "4", "45.00"),), optional=())
    page = new_context(**DESKTOP).new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, staff)
    page.goto(f"/admin/proposals/{proposal.id}")

    head = page.locator("#lines .line-grid.head > span")
    row = page.locator("#lines form.line-grid").first
    cells = [
        row.locator("[name=position]"),
        row.locator("[name=description]"),
        row.locator("[name=quantity]"),
        row.locator("[name=unit_price]"),
        row.locator("[name=is_optional]"),
    ]
    for index, cell in enumerate(cells):
        header = head.nth(index).bounding_box()
        box = cell.bounding_box()
        # the input starts within its header's column and does not run into the next one
        assert header["x"] - 1 <= box["x"] < header["x"] + header["width"], (index, header, box)
        assert box["x"] + box["width"] <= head.nth(index + 1).bounding_box()["x"] + 1, (index, box)
    assert row.locator("[name=quantity]").input_value() == "4"

    page.select_option("#catalog_item_id", str(item.id))
    expect(page.locator("#catalog-preview")).to_contain_text("Core aeration")
    expect(page.locator("#catalog-preview")).to_contain_text("$120.00")
    watcher.assert_clean()
