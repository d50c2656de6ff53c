"""The public verify page in a real Chromium (CSRF on, strict CSP): a genuine
certificate chosen from disk, a tampered copy, a malformed id; on a phone."""

from __future__ import annotations

import pytest

from portal.core.extensions import db
from portal.domains.proposals import certificates
from tests.browser.conftest import PHONE, watch

pytestmark = pytest.mark.browser


def test_anyone_verifies_a_certificate_on_a_phone(app, make, new_context, live_server, tmp_path):
    from playwright.sync_api import expect

    signed = make.signed()
    with app.app_context():
        certificate = certificates.issue_certificate(signed.proposal.id)
        db.session.commit()
        pdf, public_id = certificate.pdf, certificate.public_id
        db.session.remove()
    genuine = tmp_path / "certificate.pdf"
    genuine.write_bytes(pdf)
    tampered = tmp_path / "tampered.pdf"
    flipped = bytearray(pdf)
    flipped[len(flipped) // 2] ^= 0x01
    tampered.write_bytes(bytes(flipped))

    page = new_context(**PHONE).new_page()
    watcher = watch(page, live_server.url)
    page.goto("/verify")
    expect(page.locator("h1")).to_have_text("Verify a signed proposal")

    page.set_input_files("#document", str(genuine))
    page.get_by_role("button", name="Verify").click()
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("Genuine")
    expect(verdict).to_contain_text(public_id)
    expect(page.locator("#signer")).to_have_text("Cora Contact")
    expect(page.locator("#chain")).to_contain_text("Intact")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    page.screenshot(path=str(tmp_path / "verify.png"), full_page=True)

    page.set_input_files("#document", str(tampered))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verdict")).to_contain_text("Altered")

    page.set_input_files("#document", [])
    page.fill("#certificate_id", "PC-NOT-AN-ID")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verify-error")).to_contain_text("not a certificate id")
    expect(page.locator("#certificate_id")).to_have_value("PC-NOT-AN-ID")  # what was typed stays

    page.fill("#certificate_id", public_id.lower())
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verdict")).to_contain_text("Genuine")
    watcher.assert_clean()
