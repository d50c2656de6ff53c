"""Service setup in a real Chromium (CSRF on): an SLA with a mistake comes back in place
(422) with what was typed, then saves; a calendar with a split day shows its preview;
an organization picks the SLA and its onboarding item turns done."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import staff_login, watch

pytestmark = pytest.mark.browser


def test_a_manager_sets_up_an_sla_and_a_calendar_and_gives_a_customer_the_sla(
    app, make, live_server, new_context, tmp_path
):
    from playwright.sync_api import expect

    manager = make.staff(role="manager", name="Mona Manager")
    customer = make.organization_with("Greenleaf Gardens", billing_address="1 Elm St")
    page = new_context(viewport={"width": 390, "height": 844}, has_touch=True).new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, manager)

    page.click("text=Service setup")
    page.wait_for_url(re.compile(r"/admin/service/slas$"))
    page.click("#new-sla")
    page.fill("#name", "Gold")
    for priority, (first, resolution) in {
        "low": ("8", "40"),
        "normal": ("4", "24"),
        "high": ("1:30", "8"),
        "urgent": ("1", "0.5"),
    }.items():
        page.fill(f"#first_{priority}", first)
        page.fill(f"#resolution_{priority}", resolution)
    page.click("button[type=submit]:has-text('Add SLA')")
    form = page.locator("#sla-form")
    expect(form).to_contain_text("Resolution cannot be due before the first response.")
    expect(page.locator("#first_high")).to_have_value("1:30")  # nothing typed is lost
    page.screenshot(path=str(tmp_path / "sla-form.png"), full_page=True)
    page.fill("#resolution_urgent", "4")
    page.click("button[type=submit]:has-text('Add SLA')")
    page.wait_for_url(re.compile(r"/admin/service/slas$"))
    expect(page.locator("#slas")).to_contain_text("1:30 / 8")

    page.click(".subnav >> text=Service hours")
    page.click("#new-calendar")
    page.fill("#name", "Rome office")
    page.fill("#timezone", "Europe/Rome")
    page.fill("#day_0", "09:00-12:00, 13:00-17:00")
    page.click("button[type=submit]:has-text('Add calendar')")
    expect(page.locator("#preview")).to_contain_text("A 1-hour target opened now would be due at")
    page.fill("#day", "2030-12-25")
    page.fill("#holiday_name", "Christmas")
    page.click("button:has-text('Add holiday')")
    expect(page.locator("#holidays")).to_contain_text("Christmas")
    page.screenshot(path=str(tmp_path / "calendar.png"), full_page=True)

    page.goto(f"/admin/organizations/{customer.id}")
    expect(page.locator("#onboarding")).to_contain_text("None chosen: tickets use the default SLA, Standard.")
    page.click("#onboarding >> text=SLA chosen")
    page.wait_for_url(re.compile(rf"/admin/organizations/{customer.id}/edit#sla$"))
    page.select_option("#sla_id", label="Gold")
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_url(re.compile(rf"/admin/organizations/{customer.id}$"))
    expect(page.locator("#onboarding")).to_contain_text("Gold, chosen for this organization.")
    assert page.locator("#onboarding li[data-done=yes]", has_text="SLA chosen").count() == 1
    watcher.assert_clean()
