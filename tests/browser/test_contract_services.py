"""The contract page in a real Chromium (CSRF on): a service is added and an active
contract's change shows the new revision, swapped in place by htmx with no page load;
the new-contract form reloads the chosen organization's properties."""

from __future__ import annotations

import pytest

from tests.browser.conftest import staff_login, watch
from tests.contract_factories import make_contract

pytestmark = pytest.mark.browser

DESKTOP = dict(viewport={"width": 1280, "height": 900})


def test_services_change_in_place_and_an_active_contract_gets_a_new_revision(app, make, live_server, new_context):
    from playwright.sync_api import expect

    staff = make.staff(role="admin", name="Ada Admin")
    org = make.organization("Birch Lane HOA")
    site = make.site(org, "Clubhouse")
    mowing = make.catalog_item(name="Mowing", price="40.00")
    aeration = make.catalog_item(name="Core aeration", price="120.00")
    contract = make_contract(app, staff, org, site, included=[(mowing, 4, "45.00")], active=True)
    page = new_context(**DESKTOP).new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, staff)
    page.goto(f"/admin/contracts/{contract.id}")
    page.evaluate("window.notReloaded = true")
    form = page.locator("#new-line")
    form.locator("[name=service_id]").select_option(str(aeration.id))
    form.locator("[name=kind]").select_option("optional")
    form.locator("[name=unit_price]").fill("110")
    form.locator("button[type=submit]").click()
    expect(page.locator("#services h2")).to_contain_text("v.1")
    expect(page.locator("#services")).to_contain_text("$110.00")
    assert page.evaluate("window.notReloaded") is True  # swapped by htmx, not a page load
    bad = page.locator("#new-line")
    bad.locator("[name=service_id]").select_option(str(mowing.id))
    bad.locator("[name=quantity]").fill("0")
    bad.locator("button[type=submit]").click()
    expect(page.locator("#services")).to_contain_text("greater than zero")
    watcher.assert_clean()


def test_the_new_contract_form_shows_the_chosen_organizations_properties(app, make, live_server, new_context):
    from playwright.sync_api import expect

    staff = make.staff(role="admin", name="Ada Admin")
    org = make.organization("Quince Court")
    make.site(org, "Gatehouse")
    page = new_context(**DESKTOP).new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, staff)
    page.goto("/admin/contracts/new")
    page.select_option("#organization_id", str(org.id))
    expect(page.locator("#site_id")).to_contain_text("Gatehouse")
    watcher.assert_clean()
