"""The HTML part of real mails, rendered by Chromium as a phone's mail client would:
360 px wide, light and dark. No sideways scroll, the button visible on screen, every
piece of text readable on the background it is drawn on (WCAG contrast of the computed
colours), and nothing fetched from anywhere. Then the admin Outbox shows the same part
in its sandboxed frame, styles applied under the frame's own policy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.extensions import db
from portal.mail.models import OutboxMessage
from tests.browser.conftest import staff_login, watch
from tests.factories import staff_message

pytestmark = pytest.mark.browser

PHONE_WIDTH = 360

# For each element with text of its own: its colour, and the first opaque background
# behind it (its own or an ancestor's); the pairs whose WCAG contrast is below 4.5.
CONTRAST_JS = """
() => {
  const rgb = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r, g, b, a};
  };
  const lum = ({r, g, b}) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const low = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const fg = rgb(style.color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    checked += 1;
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)} (${style.color} on ${JSON.stringify(bg)})`);
  }
  return {checked, low};
}
"""


def _real_mails(app, make) -> dict[str, str]:
    """Mail queued by the real operations, a long ticket title among them: kind -> HTML part."""
    from portal.domains.identity.sign_in import request_sign_in

    staff = make.staff(name="Theo Tech")
    contact = make.contact(email="cora@example.test", timezone="Europe/Madrid")
    make.signed(make.delivered(proposal=make.proposal(rep=staff, contact=contact, title="Spring grounds care")))
    ticket = make.ticket(contact=contact, title="Leak " + "x" * 90 + " by the garden gate, next to the shed")
    staff_message(app, ticket, staff, body="We come on Tuesday between 9 and 11.\n" + "y" * 120)
    with app.app_context():
        request_sign_in(contact.email, "127.0.0.1")
        db.session.commit()
        mails = {m.kind: m.body_html for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}
        db.session.remove()
    assert {"proposal_delivered", "proposal_signed", "ticket_opened", "ticket_reply", "portal_sign_in"} <= set(mails)
    return mails


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_mail_html_fits_a_phone_shows_its_button_and_stays_readable(app, make, browser, scheme):
    mails = _real_mails(app, make)
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": 740}, color_scheme=scheme, is_mobile=True, has_touch=True
    )
    fetched: list[str] = []
    context.route("**/*", lambda route: (fetched.append(route.request.url), route.abort()))
    try:
        page = context.new_page()
        for kind, html in mails.items():
            page.set_content(html)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE_WIDTH, f"{kind} scrolls sideways at {PHONE_WIDTH}px ({width}px wide)"
            button = page.locator("a.button")
            assert button.count() == 1, kind  # every one of these mails has its one action
            assert button.is_visible(), kind
            box = button.bounding_box()
            assert box and box["width"] >= 80 and box["height"] >= 40, f"{kind}: button {box}"
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, f"{kind}: button off screen {box}"
            result = page.evaluate(CONTRAST_JS)
            assert result["checked"] >= 4, kind
            assert not result["low"], f"{kind} in {scheme} mode, text hard to read: {result['low']}"
            if scheme == "dark":
                body = page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor")
                assert body != "rgb(255, 255, 255)", f"{kind}: no dark background in dark mode"
        assert fetched == [], f"the mails fetched {fetched}"
    finally:
        context.close()


def test_the_outbox_frame_shows_the_html_part_styled_under_its_own_policy(app, make, new_context, live_server):
    manager = make.staff(role="manager", name="Mia Manager")
    delivered = make.delivered(title="Spring grounds care")
    context = new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    watcher = watch(page, live_server.url)
    staff_login(page, manager)
    page.goto("/admin/outbox/")
    page.locator("details.mail-html summary").first.click()
    frame = page.frame_locator("details.mail-html iframe").first
    button = frame.locator("a.button")
    button.wait_for()
    assert button.inner_text() == "Review and sign"
    # the inline styles apply inside the frame (its policy allows them), the brand colour too
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(31, 95, 168)"
    assert button.evaluate("el => getComputedStyle(el).color") == "rgb(255, 255, 255)"
    # the development mail catcher: the button is the customer's live link, opened in a new tab
    with context.expect_page() as opened:
        button.click()
    customer = opened.value
    customer.wait_for_url(f"{live_server.url}/p/proposals/{delivered.proposal.id}")
    assert "Spring grounds care" in customer.locator("h1").inner_text()
    watcher.assert_clean()
