"""The Optional Service Opportunity screen in a real Chromium (CSRF on), with the
background worker running beside the live server: pick the service, see the preview
follow, name the campaign, Run, and watch the progress bar reach done; the polling
stops and the results show the opportunities made."""

from __future__ import annotations

import re
import threading

import pytest

from portal.domains.campaigns import run as runs
from tests.browser.conftest import staff_login, watch
from tests.campaign_factories import customer, make_contract, make_property

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(app):
    """The one worker (``flask worker``'s loop) in a thread, stopped after the test."""
    from portal.core.extensions import db
    from portal.jobs.worker import work

    stop = threading.Event()

    def loop():
        with app.app_context():
            work(idle=0.2, stop=stop)
            db.session.remove()

    thread = threading.Thread(target=loop, name="campaign-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def test_a_manager_runs_a_campaign_and_watches_it_finish(app, make, live_server, new_context, worker, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setattr(runs, "CHUNK_SIZE", 2)  # several chunks, several steps of the bar
    manager = make.staff(role="manager", name="Mona Manager")
    service = make.catalog_item("Aeration", "100.00")
    org = customer(app, make, "Greenleaf Gardens")
    for n in range(7):
        make_contract(app, org, make_property(app, org, name=f"Lot {n}"), service.id, "120.00")
    make_contract(app, org, make_property(app, org, with_contact=False), service.id, "50.00")

    page = new_context(viewport={"width": 1200, "height": 900}).new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, manager)
    page.goto("/admin/campaigns/new")
    expect(page.locator("#run")).to_be_disabled()
    page.select_option("#service_id", str(service.id))
    expect(page.locator("#preview-count")).to_have_text("8")  # the htmx preview followed
    expect(page.locator("#preview-total")).to_contain_text("890.00")
    page.fill("#name", "Aeration push")
    page.locator("#name").dispatch_event("change")
    expect(page.locator("#run")).to_be_enabled()
    page.click("#run")
    page.wait_for_url(re.compile(r"/admin/campaigns/\d+$"))
    bar = page.locator("#progress-bar")
    expect(page.locator("#progress-state")).to_have_text("Done", timeout=60_000)
    expect(bar).to_have_attribute("value", "100")
    expect(page.locator("#progress-figures")).to_contain_text("7 made, 1 skipped, 0 failed, of 8 properties")
    expect(page.locator("#progress")).not_to_have_attribute("hx-trigger", "every 2s")  # polling stopped
    expect(page.locator("#count-open")).to_have_text("7")
    expect(page.locator("#item-rows")).to_contain_text("Lot 0")  # the list reloaded when the run ended
    page.locator("#items nav a", has_text="Skipped").click()
    expect(page.locator("#item-rows")).to_contain_text("No one to address")
    watcher.assert_clean()
