"""Signing through the portal: the record, the refusals, stale pages, revisions, CSRF expiry."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from itsdangerous import TimestampSigner
from markupsafe import escape

from portal.demo import DEMO_STROKES, demo_signature_png
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.operations import CONSENT_VERSION
from tests.conftest import csrf_token_from
from tests.factories import outbox, page_form, png_data_url, sign_form, signature_rows, staff_add_line

HX = {"HX-Request": "true"}


class Opened:
    """A delivered proposal opened in a test client, with what its page carried."""

    def __init__(self, delivered, client, html, proposal_id=None):
        self.delivered = delivered
        self.proposal = delivered.proposal
        self.proposal_id = proposal_id or delivered.proposal.id
        self.client = client
        self.html = html
        form = page_form(html)
        self.seen_hash = form["seen_hash"]
        self.options = form["options"]

    @property
    def sign_url(self):
        return f"/p/proposals/{self.proposal_id}/sign"

    def sign(self, options=(), headers=None, **overrides):
        overrides.setdefault("seen_hash", self.seen_hash)
        data = sign_form(self.proposal, options, **overrides)
        return self.client.post(self.sign_url, data=data, headers=headers or {})


@pytest.fixture
def opened(make, client, open_link):
    delivered = make.delivered()
    page = open_link(client, delivered.token)
    assert page.status_code == 200
    return Opened(delivered, client, page.get_data(as_text=True))


def _input_value(html, name):
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html, re.S) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html, re.S
    )
    return match.group(1) if match else None


def test_signing_redirects_to_the_signed_view(opened):
    response = opened.sign([opened.options[0]])
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/p/proposals/{opened.proposal.id}?signed=1")
    html = opened.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you, your signature is recorded." in html
    assert "Signed by Cora Contact" in html
    assert 'id="sign"' not in html and 'name="sign"' not in html
    assert re.search(r'<input type="checkbox" name="option" value="\d+"\s+checked\s+disabled', html)
    assert re.search(r"<dt>Signed total</dt><dd id=\"grand-total\">\$310\.00</dd>", html)


def test_an_htmx_submit_is_told_where_to_go_instead_of_a_303(opened):
    response = opened.sign(headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].endswith(f"/p/proposals/{opened.proposal.id}?signed=1")
    assert len(signature_rows(opened.client.application)) == 1


def test_the_server_recomputes_the_total_and_ignores_a_tampered_one(app, opened):
    response = opened.sign([opened.options[0]], total="1.00", signed_total="1.00", amount="1.00", included="0.00")
    assert response.status_code == 303
    (signature,) = signature_rows(app)
    assert signature.signed_total == Decimal("310.00")
    with app.app_context():
        proposal = proposals.load_proposal(opened.proposal.id)
        assert signature.signed_total == proposals.totals_of(proposal, [int(opened.options[0])]).total


def test_the_stored_signature_holds_the_evidence(app, opened):
    before = datetime.now(UTC).replace(tzinfo=None)
    option = opened.options[0]
    response = opened.client.post(
        opened.sign_url,
        data=sign_form(opened.proposal, [option], seen_hash=opened.seen_hash, signer_name="  Cora  Q. Contact "),
        headers={"User-Agent": "Mozilla/5.0 (iPhone) Safari"},
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    assert response.status_code == 303
    after = datetime.now(UTC).replace(tzinfo=None)

    (signature,) = signature_rows(app)
    assert signature.proposal_id == opened.proposal.id
    assert signature.contact_id == opened.delivered.contact.id
    assert signature.signer_name == "Cora Q. Contact"
    assert bytes(signature.image_png) == base64.b64decode(demo_signature_png().split(",", 1)[1])
    assert json.loads(signature.strokes_json) == json.loads(DEMO_STROKES)
    assert json.loads(signature.selected_line_ids) == [int(option)]
    assert signature.signed_total == Decimal("310.00")
    assert re.fullmatch(r"[0-9a-f]{64}", signature.content_hash)
    assert signature.consent_version == CONSENT_VERSION
    assert before - timedelta(seconds=1) <= signature.signed_at <= after + timedelta(seconds=1)
    assert signature.ip == "198.51.100.23"
    assert signature.user_agent == "Mozilla/5.0 (iPhone) Safari"
    assert signature.portal_link_id == opened.delivered.link_id
    with app.app_context():
        proposal = proposals.load_proposal(opened.proposal.id)
        assert proposals.signature_intact(proposal.signature, proposal)
        assert signature.content_hash == proposals.signature_hash(
            proposal, [int(option)], Decimal("310.00"), CONSENT_VERSION
        )


def test_the_contact_can_see_their_signature_image(opened):
    opened.sign()
    response = opened.client.get(f"/p/proposals/{opened.proposal.id}/signature.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.get_data() == base64.b64decode(demo_signature_png().split(",", 1)[1])


def test_signing_tells_the_sales_rep_with_an_absolute_admin_link(app, opened):
    assert opened.sign(signer_name="Cora Contact").status_code == 303
    mail = next(m for m in outbox(app) if m["kind"] == "proposal_signed")
    assert mail["subject"] == f"Proposal P-{opened.proposal.number} signed by Cora Contact"
    assert re.match(r"Proposal P-\d+ signed by ", mail["subject"])
    assert f"https://portal.example.test/admin/proposals/{opened.proposal.id}" in mail["body_text"]
    assert mail["to_addr"] == opened.proposal.sales_rep.email


# --- refusals: 422, with what the contact typed and drew kept ----------------------

FIVE_MB = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024)).decode()

INVALID = {
    "blank signature": ({"signature_png": png_data_url(ink=False)}, "Please draw your signature in the box."),
    "no signature": ({"signature_png": "", "strokes": ""}, "Please draw your signature in the box."),
    "not a png": ({"signature_png": png_data_url(fmt="JPEG")}, "The signature must be a PNG image"),
    "gif data url": (
        {"signature_png": "data:image/gif;base64,R0lGODlhAQABAAAAACw="},
        "The signature must be a PNG image",
    ),
    "5 MB image": ({"signature_png": FIVE_MB}, "The signature image is too large"),
    "huge dimensions": ({"signature_png": png_data_url(5000, 3000)}, "The signature image has an unexpected size"),
    "missing name": ({"signer_name": ""}, "Type your full name."),
    "missing consent": ({"consent": ""}, "Tick the box to agree to sign electronically."),
    "unknown option": ({"option": ["999999"]}, "Some of the chosen options are not part of this proposal."),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_sign_form_answers_422_and_keeps_name_and_drawing(app, opened, case):
    overrides, message = INVALID[case]
    overrides = dict(overrides)
    options = overrides.pop("option", [opened.options[0]])
    name = "" if case == "missing name" else "Cora Contact"
    overrides.setdefault("signer_name", name)
    response = opened.sign(options, **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'role="alert"' in html
    assert _input_value(html, "signer_name") == name
    strokes = overrides.get("strokes", DEMO_STROKES)
    assert _input_value(html, "strokes") == str(escape(strokes))
    assert len(response.get_data()) < 200_000  # an oversized drawing is not echoed back
    assert signature_rows(app) == []
    assert 'name="sign"' in html  # the form is still there to fix and resend


def test_a_422_keeps_the_ticked_options(opened):
    response = opened.sign([opened.options[0]], consent="")
    html = response.get_data(as_text=True)
    assert re.search(rf'name="option" value="{opened.options[0]}"\s+checked', html)
    assert re.search(r'<dd id="grand-total">\$310\.00</dd>', html)


def test_an_htmx_422_swaps_in_only_the_proposal_block(opened):
    response = opened.sign(signer_name="", headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith('<article id="proposal"')
    assert "Type your full name." in html
    assert _input_value(html, "strokes") == str(escape(DEMO_STROKES))


def test_fixing_the_form_after_a_422_signs(opened):
    assert opened.sign(consent="").status_code == 422
    assert opened.sign().status_code == 303


# --- stale pages and second submits ------------------------------------------------


def test_content_changed_after_the_page_loaded_answers_409_with_the_new_version(app, opened):
    staff_add_line(app, opened.proposal.id, description="Hedge trimming (added)", price="85.00")
    response = opened.sign(signer_name="Cora Contact")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This proposal was changed after you opened it." in html
    assert "Hedge trimming (added)" in html
    new_hash = page_form(html)["seen_hash"]
    assert new_hash and new_hash != opened.seen_hash
    assert _input_value(html, "signer_name") == "Cora Contact"
    assert signature_rows(app) == []

    again = opened.sign(seen_hash=new_hash)
    assert again.status_code == 303
    (signature,) = signature_rows(app)
    assert signature.signed_total == Decimal("265.00")  # 180 + 85, no option


def test_a_second_submit_changes_nothing_and_says_who_signed_with_which_options(app, opened):
    # It was a 303 to the signed view: a stale tab's Sign then showed someone else's
    # signature with no word. Now a 409 says plainly what was signed (issue: stale tab).
    first = opened.sign([opened.options[0]], signer_name="First Submit")
    assert first.status_code == 303
    second = opened.sign([], signer_name="Second Submit")
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "This proposal was already signed on " in html and " by First Submit with these options:" in html
    assert "<li>Mulch</li>" in html
    assert f'href="/p/proposals/{opened.proposal.id}"' in html
    (signature,) = signature_rows(app)
    assert signature.signer_name == "First Submit"
    assert signature.signed_total == Decimal("310.00")
    assert len([m for m in outbox(app) if m["kind"] == "proposal_signed"]) == 1
    page = opened.client.get(f"/p/proposals/{opened.proposal.id}").get_data(as_text=True)
    assert "Signed by First Submit" in page


def test_after_signing_staff_edits_are_refused_and_the_signature_stays_intact(app, opened):
    from portal.core.errors import NotAllowed

    opened.sign()
    with pytest.raises(NotAllowed):
        staff_add_line(app, opened.proposal.id)
    with app.app_context():
        proposal = proposals.load_proposal(opened.proposal.id)
        assert len(proposal.lines) == 2
        assert proposals.signature_intact(proposal.signature, proposal)


# --- decisions and revisions ---------------------------------------------------------


def test_marking_won_is_not_a_signature(app, opened):
    from portal.core.extensions import db
    from portal.domains.identity.models import StaffUser

    with app.app_context():
        proposal = proposals.load_proposal(opened.proposal.id)
        proposals.mark_won(proposal, db.session.get(StaffUser, proposal.sales_rep_id))
        db.session.commit()
    html = opened.client.get(f"/p/proposals/{opened.proposal.id}").get_data(as_text=True)
    assert "This proposal was accepted." in html
    assert "Signed by" not in html and 'name="sign"' not in html
    assert opened.sign().status_code == 409
    assert signature_rows(app) == []


def _revise(app, proposal_id):
    from portal.core.extensions import db
    from portal.domains.identity.models import StaffUser

    with app.app_context():
        proposal = proposals.load_proposal(proposal_id)
        revision = proposals.create_revision(proposal, db.session.get(StaffUser, proposal.sales_rep_id))
        db.session.commit()
        return revision.id


def test_an_old_link_opens_the_signed_old_revision_read_only(app, make, client, open_link):
    signed = make.signed()
    new_id = _revise(app, signed.proposal.id)
    page = open_link(client, signed.token)
    assert page.status_code == 200
    assert page.request.path == f"/p/proposals/{signed.proposal.id}"
    html = page.get_data(as_text=True)
    assert "Signed by Cora Contact" in html
    assert "This version was replaced by a newer one." in html
    assert 'name="sign"' not in html
    assert client.get(f"/p/proposals/{new_id}").status_code == 404
    assert len(signature_rows(app, signed.proposal.id)) == 1
    assert signature_rows(app, new_id) == []


def test_an_unsigned_superseded_revision_cannot_be_signed_through_its_old_link(app, opened):
    new_id = _revise(app, opened.proposal.id)
    html = opened.client.get(f"/p/proposals/{opened.proposal.id}").get_data(as_text=True)
    assert "This version was replaced by a newer one." in html
    assert 'name="sign"' not in html
    response = opened.sign()
    assert response.status_code == 409
    assert "This proposal is not open for signature." in response.get_data(as_text=True)
    assert signature_rows(app) == []
    assert opened.client.get(f"/p/proposals/{new_id}").status_code == 404


def test_the_new_revision_is_signable_once_delivered(app, make, opened, open_link):
    from portal.core.extensions import db
    from portal.domains.customers.models import Contact
    from portal.domains.identity.models import StaffUser

    new_id = _revise(app, opened.proposal.id)
    with app.app_context():
        revision = proposals.load_proposal(new_id)
        assert revision.status == "draft"
        issued = proposals.deliver_proposal(
            revision,
            db.session.get(StaffUser, revision.sales_rep_id),
            db.session.get(Contact, opened.delivered.contact.id),
        )
        db.session.commit()
        token = issued.token
    page = open_link(opened.client, token)
    assert page.request.path == f"/p/proposals/{new_id}"
    fresh = Opened(opened.delivered, opened.client, page.get_data(as_text=True), proposal_id=new_id)
    assert 'name="sign"' in fresh.html
    assert fresh.sign().status_code == 303
    assert len(signature_rows(app, new_id)) == 1


# --- CSRF expiry -----------------------------------------------------------------


@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def _open_with_old_token(make, client, open_link, monkeypatch):
    """Open the proposal page as if it had been loaded two hours ago (the token is minted then)."""
    delivered = make.delivered()
    old = TimestampSigner.get_timestamp
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: old(self) - 2 * 3600)
        page = open_link(client, delivered.token)
    assert page.status_code == 200
    return Opened(delivered, client, page.get_data(as_text=True))


@pytest.mark.parametrize("token_kind", ["expired", "garbage", "missing"])
def test_an_expired_csrf_token_on_the_sign_form_keeps_name_and_drawing(
    app, make, client, open_link, monkeypatch, csrf_on, token_kind
):
    opened = _open_with_old_token(make, client, open_link, monkeypatch)
    old_token = csrf_token_from(opened.html)
    token = {"expired": old_token, "garbage": "not-a-token", "missing": None}[token_kind]
    extra = {"csrf_token": token} if token else {}

    response = opened.sign([opened.options[0]], signer_name="Cora Contact", **extra)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Your name and signature are kept." in html
    assert _input_value(html, "signer_name") == "Cora Contact"
    assert _input_value(html, "strokes") == str(escape(DEMO_STROKES))
    assert re.search(rf'name="option" value="{opened.options[0]}"\s+checked', html)
    fresh = csrf_token_from(html)
    assert fresh != old_token
    assert signature_rows(app) == []

    again = opened.sign([opened.options[0]], seen_hash=page_form(html)["seen_hash"], csrf_token=fresh)
    assert again.status_code == 303, again.get_data(as_text=True)[:500]
    (signature,) = signature_rows(app)
    assert signature.signed_total == Decimal("310.00")


def test_a_valid_csrf_token_signs_at_once(app, make, client, open_link, csrf_on):
    delivered = make.delivered()
    page = open_link(client, delivered.token)
    opened = Opened(delivered, client, page.get_data(as_text=True))
    assert opened.sign(csrf_token=csrf_token_from(opened.html)).status_code == 303


def test_an_expired_csrf_token_after_signing_says_it_was_already_signed(
    app, make, client, open_link, monkeypatch, csrf_on
):
    # It was a silent 303 to the signed view; a stale tab is now told (409).
    opened = _open_with_old_token(make, client, open_link, monkeypatch)
    make.signed(opened.delivered)
    response = opened.sign(csrf_token="stale")
    assert response.status_code == 409
    assert "This proposal was already signed on " in response.get_data(as_text=True)
    assert len(signature_rows(app)) == 1
