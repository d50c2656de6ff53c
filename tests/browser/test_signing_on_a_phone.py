"""A customer signs a proposal on a phone, in a real Chromium, against a live server.

Staff sign in and open the portal link from the delivered email in the Outbox; the
customer opens the same link in a fresh browser (their phone), ticks optional services,
draws a signature with a finger (touch events) and signs; staff then check the signature and
mark the proposal won.
"""

from __future__ import annotations

import json
import re

import pytest

from portal.core.extensions import db
from portal.domains.proposals import operations as service
from portal.domains.proposals.models import Signature
from tests.browser.conftest import PHONE, staff_login, touch_draw, watch

pytestmark = pytest.mark.browser

SIGNER = "Cora Q. Contact"
INCLUDED = (("Weekly mowing", "4", "45.00"), ("Hedge trimming", "1", "120.00"), ("Leaf cleanup", "2", "85.50"))
OPTIONAL = (("Mulch beds", "2", "65.00"), ("Lawn aeration", "1", "95.00"), ("Gutter cleaning", "1", "150.00"))


def _expect():
    from playwright.sync_api import expect

    return expect


def _delivered(make):
    rep = make.staff(role="manager", name="Sam Sales")  # managers see the outbox
    contact = make.contact(first_name="Cora", last_name="Contact")
    proposal = make.proposal(
        contact=contact, rep=rep, included=INCLUDED, optional=OPTIONAL, title="Spring grounds care"
    )
    return rep, make.delivered(proposal)


def _money(app, proposal_id: int, option_descriptions=()) -> str:
    """The grand total the server computes for a selection, formatted as the page shows it."""
    with app.test_request_context():
        proposal = service.load_proposal(proposal_id)
        ids = [line.id for line in proposal.lines if line.description in option_descriptions]
        totals = service.totals_of(proposal, ids)
        return app.jinja_env.filters["money"](totals.total, totals.currency)


def _option(page, description: str):
    return page.get_by_role("checkbox", name=re.compile(re.escape(description)))


def _staff_login(context, rep, origin: str):
    page = context.new_page()
    watcher = watch(page, origin)
    staff_login(page, rep)
    _expect()(page.get_by_role("link", name="Outbox")).to_be_visible()
    return page, watcher


def _portal_link_from_outbox(staff, live_server, token: str) -> str:
    staff.goto("/admin/outbox/")
    link = staff.locator(".outbox-message .mail-body a", has_text="/l/").first
    _expect()(link).to_be_visible()
    href = link.get_attribute("href")
    assert href == f"{live_server.url}/l/{token}", href
    return href


def _wait_for_pad(page):
    _expect()(page.locator("[data-signature-pad]")).to_have_attribute("data-ready", "1")


def _signature_strokes(page) -> list[list[tuple[float, float]]]:
    """Three strokes over the canvas, in viewport coordinates."""
    canvas = page.locator("[data-signature-pad] canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box
    # Keep clear of the Clear button in the top right corner.
    left, top, width, height = box["x"] + 16, box["y"] + 60, box["width"] * 0.6, box["height"] - 80
    strokes = [
        [(0.0, 0.8), (0.1, 0.1), (0.2, 0.9), (0.3, 0.2), (0.4, 0.7)],
        [(0.45, 0.5), (0.6, 0.2), (0.7, 0.8), (0.85, 0.3)],
        [(0.1, 0.95), (0.5, 0.9), (0.95, 0.95)],
    ]
    return [[(left + fx * width, top + fy * height) for fx, fy in stroke] for stroke in strokes]


def _record_pointer_types(page) -> None:
    """Note the ``pointerType`` of every pointerdown on the canvas (read by ``_pointer_types``)."""
    page.evaluate("""() => {
        const c = document.querySelector('[data-signature-pad] canvas');
        window.__pointerTypes = [];
        c.addEventListener('pointerdown', e => window.__pointerTypes.push(e.pointerType));
    }""")


def _pointer_types(page) -> list[str]:
    return page.evaluate("() => window.__pointerTypes")


def _draw_signature(page) -> None:
    """Three strokes over the canvas with a finger: real touch events, as on a phone."""
    strokes = _signature_strokes(page)
    _record_pointer_types(page)
    touch_draw(page, strokes)
    assert _pointer_types(page) == ["touch"] * len(strokes), "the strokes did not come from touches"
    _expect()(page.locator("input[name=strokes]")).to_have_value(re.compile(r"^\[\{"))


def _pad_values(page) -> tuple[list, str]:
    strokes = page.locator("input[name=strokes]").input_value()
    png = page.locator("input[name=signature_png]").input_value()
    return (json.loads(strokes) if strokes else []), png


def _ink_on_canvas(page) -> int:
    return page.evaluate("""() => {
        const c = document.querySelector('[data-signature-pad] canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 32) n++;
        return n;
    }""")


def _sign(page, name: str) -> None:
    page.fill("#signer_name", name)
    page.locator("input[name=consent]").check()
    page.locator("button[name=sign]").click()
    _expect()(page.locator("#signed")).to_contain_text(f"Signed by {name}")


def test_customer_signs_on_a_phone_and_staff_mark_it_won(app, make, live_server, new_context):
    expect = _expect()
    rep, delivered = _delivered(make)
    proposal_id = delivered.proposal.id

    # Staff: sign in, find the delivered email in the Outbox, follow its portal link.
    staff_context = new_context()
    staff, staff_watch = _staff_login(staff_context, rep, live_server.url)
    href = _portal_link_from_outbox(staff, live_server, delivered.token)
    staff.locator(".outbox-message .mail-body a", has_text="/l/").first.click()
    expect(staff).to_have_url(f"{live_server.url}/p/proposals/{proposal_id}")
    expect(staff.get_by_role("heading", name="Spring grounds care")).to_be_visible()

    # The customer's phone: a fresh context, the link from the email.
    phone_context = new_context(**PHONE)
    phone = phone_context.new_page()
    phone_watch = watch(phone, live_server.url)
    phone.goto(href)
    expect(phone).to_have_url(f"{live_server.url}/p/proposals/{proposal_id}")  # the token left the address bar
    _wait_for_pad(phone)
    grand = phone.locator("#grand-total")
    expect(grand).to_have_text(_money(app, proposal_id))

    # Tick two optional services: htmx swaps in the server's total each time.
    first = _money(app, proposal_id, {"Mulch beds"})
    both = _money(app, proposal_id, {"Mulch beds", "Gutter cleaning"})
    assert len({_money(app, proposal_id), first, both}) == 3
    _option(phone, "Mulch beds").check()
    expect(grand).to_have_text(first)
    _option(phone, "Gutter cleaning").check()
    expect(grand).to_have_text(both)

    _draw_signature(phone)
    strokes, png = _pad_values(phone)
    assert len(strokes) == 3 and all(stroke["points"] for stroke in strokes)
    assert png.startswith("data:image/png;base64,")

    _sign(phone, SIGNER)
    expect(phone).to_have_url(re.compile(rf"/p/proposals/{proposal_id}\?signed=1$"))
    with app.app_context():
        signature = db.session.scalar(db.select(Signature).where(Signature.proposal_id == proposal_id))
        assert signature is not None and signature.signer_name == SIGNER
        with app.test_request_context():
            signed_total = app.jinja_env.filters["money"](signature.signed_total, signature.currency)
        assert len(json.loads(signature.strokes_json)) == 3
        assert signature.image_png.startswith(b"\x89PNG")
    assert signed_total == both
    expect(grand).to_have_text(signed_total)
    expect(phone.locator(".totals .grand dt")).to_have_text("Signed total")
    expect(phone.locator("#signed img.signature-image")).to_be_visible()
    assert phone.locator("#signed img.signature-image").evaluate("img => img.naturalWidth") > 0
    expect(phone.locator("button[name=sign]")).to_have_count(0)

    # Staff: the signature, its integrity, then mark won.
    staff.goto(f"/admin/proposals/{proposal_id}")
    staff.locator("#signature-icon").click()
    expect(staff).to_have_url(f"{live_server.url}/admin/proposals/{proposal_id}/signature")
    expect(staff.locator("#signature")).to_contain_text(SIGNER)
    expect(staff.locator("#integrity")).to_contain_text("Intact")
    expect(staff.locator("#signature")).to_contain_text(signed_total)
    assert staff.locator("#signature img.signature-image").evaluate("img => img.naturalWidth") > 0
    staff.go_back()
    expect(staff).to_have_url(f"{live_server.url}/admin/proposals/{proposal_id}")
    staff.locator("#mark-won").click()
    expect(staff.locator("h1 .badge")).to_contain_text("Won")
    expect(staff.get_by_role("status")).to_contain_text("Marked won")
    expect(staff.locator("#mark-won")).to_have_count(0)

    staff_watch.assert_clean()
    phone_watch.assert_clean()


def test_signature_survives_rotating_the_phone(app, make, live_server, new_context):
    expect = _expect()
    _rep, delivered = _delivered(make)
    proposal_id = delivered.proposal.id

    phone_context = new_context(**PHONE)
    phone = phone_context.new_page()
    phone_watch = watch(phone, live_server.url)
    phone.goto(f"/l/{delivered.token}")
    expect(phone).to_have_url(f"{live_server.url}/p/proposals/{proposal_id}")
    _wait_for_pad(phone)

    _draw_signature(phone)
    drawn, _png = _pad_values(phone)
    assert len(drawn) == 3
    canvas = phone.locator("[data-signature-pad] canvas")
    portrait_width = canvas.evaluate("c => c.offsetWidth")

    for size in ({"width": 844, "height": 390}, {"width": 390, "height": 844}):
        phone.set_viewport_size(size)
        # The pad refits (debounced) once the canvas has its new width.
        phone.wait_for_function(
            "() => { const c = document.querySelector('[data-signature-pad] canvas');"
            " return c.dataset.cssWidth === String(c.offsetWidth) && c.width === Math.round(c.offsetWidth * devicePixelRatio); }"
        )
        if size["width"] == 844:
            assert canvas.evaluate("c => c.offsetWidth") != portrait_width, "rotation did not resize the pad"
        strokes, png = _pad_values(phone)
        assert isinstance(strokes, list) and len(strokes) == len(drawn), strokes
        assert all(stroke["points"] for stroke in strokes)
        assert png.startswith("data:image/png;base64,"), png[:40]
        assert _ink_on_canvas(phone) > 40, "the strokes were not redrawn after the resize"

    expect(phone.locator("#grand-total")).to_have_text(_money(app, proposal_id))
    _sign(phone, SIGNER)
    expect(phone.locator("#grand-total")).to_have_text(_money(app, proposal_id))
    with app.app_context():
        signature = db.session.scalar(db.select(Signature).where(Signature.proposal_id == proposal_id))
        assert signature is not None and len(json.loads(signature.strokes_json)) == 3
    # The signed view loads the signature image: let that request finish before the
    # tables are emptied (on PostgreSQL a request still running then can deadlock).
    phone.wait_for_load_state("networkidle")
    phone_watch.assert_clean()


def _without_touch_action_none(route) -> None:
    """Serve the app's CSS with a rule that gives the canvas back to the browser's gestures.

    The rule travels in the stylesheet itself: the CSP (``style-src 'self'``) blocks an
    injected ``<style>``, and ``!important`` beats the inline ``touch-action: none`` that
    signature_pad also sets.
    """
    response = route.fetch()
    route.fulfill(response=response, body=response.text() + "\ncanvas{touch-action:auto!important}\n")


def test_without_touch_action_none_a_finger_scrolls_instead_of_drawing(app, make, live_server, new_context):
    """The drawing tests depend on ``touch-action: none``: without it the same touches pan the page."""
    expect = _expect()
    _rep, delivered = _delivered(make)
    phone = new_context(**PHONE).new_page()
    phone.route(re.compile(r"/static/.*\.css(\?.*)?$"), _without_touch_action_none)
    phone.goto(f"/l/{delivered.token}")
    _wait_for_pad(phone)
    canvas = phone.locator("[data-signature-pad] canvas")
    assert canvas.evaluate("c => getComputedStyle(c).touchAction") == "auto"

    strokes = _signature_strokes(phone)
    _record_pointer_types(phone)
    scrolled_before = phone.evaluate("() => window.scrollY")
    touch_draw(phone, strokes)
    phone.wait_for_timeout(300)  # let a fling settle

    assert _pointer_types(phone) == ["touch"] * len(strokes), "the touches did not reach the canvas"
    drawn, _png = _pad_values(phone)
    points = sum(len(stroke["points"]) for stroke in drawn)
    scrolled = phone.evaluate("() => window.scrollY") != scrolled_before
    # Each stroke is cancelled at its first move: a dot at most, never the line.
    assert points <= len(strokes), drawn
    assert scrolled or points == 0, "the touches neither scrolled the page nor were cancelled"
    expect(phone.locator("button[name=sign]")).to_be_visible()
