"""Staff onboard an organization in a real Chromium: the active search swaps only the
results, the sub-organization switch swaps only the contacts and proposals, and an
invalid edit comes back in place (422) with what was typed, then saves (CSRF on)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import staff_login, watch

pytestmark = pytest.mark.browser


def _expect():
    from playwright.sync_api import expect

    return expect


def test_staff_search_switch_sub_organizations_and_fix_an_invalid_edit(app, make, live_server, new_context):
    expect = _expect()
    admin = make.staff(role="admin", name="Ada Admin")
    parent = make.organization_with("Greenleaf Holdings", city="Springfield", billing_address="1 Elm St")
    branch = make.organization_with("Greenleaf North", city="Shelbyville", parent_id=parent.id, bill_to_parent=True)
    make.organization_with("Stone Works", city="Ogdenville", billing_address="2 Oak St")
    make.contact(parent, first_name="Hana", last_name="Holding", is_primary=True)
    make.contact(branch, first_name="Nils", last_name="North")

    page = new_context().new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, admin)

    page.goto("/admin/organizations/")
    expect(page.locator("#results")).to_contain_text("Stone Works")
    page.fill("#q", "SHELBY")
    expect(page.locator("#results")).not_to_contain_text("Stone Works")
    expect(page.locator("#results")).to_contain_text("Greenleaf North")
    assert "q=SHELBY" in page.url  # in the address bar, for back and reload

    page.goto(f"/admin/organizations/{parent.id}")
    expect(page.locator("#contacts")).to_contain_text("Hana Holding")
    expect(page.locator("#contacts")).not_to_contain_text("Nils North")
    page.check("#include-subs")
    expect(page.locator("#contacts")).to_contain_text("Nils North")
    expect(page.locator("#onboarding")).to_contain_text("Primary contact chosen")  # the rest of the page stays
    assert "subs=1" in page.url

    page.click("#edit")
    page.wait_for_url(re.compile(rf"/admin/organizations/{parent.id}/edit$"))
    page.fill("#name", "")
    page.fill("#billing_attention", "Ada Accounts")
    page.select_option("#tax_region", "eu_ro")
    page.click("button[type=submit]:has-text('Save')")
    form = page.locator("#organization-form")
    expect(form).to_contain_text("Enter the organization's name.")
    expect(form).to_contain_text("Enter the tax ID: it is required with a tax region.")
    expect(page.locator("#billing_attention")).to_have_value("Ada Accounts")  # nothing typed is lost
    page.fill("#name", "Greenleaf Group")
    page.fill("#tax_id", "RO 1234")
    page.check("#billing_reviewed")
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_url(re.compile(rf"/admin/organizations/{parent.id}$"))
    expect(page.locator("h1")).to_contain_text("Greenleaf Group")
    # primary contact, portal enabled (the factory default), billing reviewed
    expect(page.locator("#onboarding li[data-done=yes]")).to_have_count(3)
    watcher.assert_clean()
