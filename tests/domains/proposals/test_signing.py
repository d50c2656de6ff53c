"""Signing: what is recorded, what is refused, and the checks on the drawn signature."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.core.errors import AlreadySigned, ContentChanged, InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.demo import DEMO_STROKES, demo_signature_png
from portal.domains.customers.models import Contact
from portal.domains.identity.models import PortalLink, StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals import signing as signatures
from portal.domains.proposals.models import Signature
from portal.domains.proposals.operations import CONSENT_VERSION, LineInput
from portal.domains.timeline.models import TimelineEntry
from portal.mail.models import OutboxMessage
from tests.factories import png_data_url, sign_input


def _open(make):
    """A delivered proposal loaded in this context, its contact and its link."""
    delivered = make.delivered()
    proposal = proposals.load_proposal(delivered.proposal.id)
    return proposal, db.session.get(Contact, delivered.contact.id), db.session.get(PortalLink, delivered.link_id)


def _option_ids(proposal):
    return [line.id for line in proposal.lines if line.is_optional]


def _signature_count():
    return db.session.scalar(select(func.count()).select_from(Signature))


def test_signing_records_everything_needed_as_evidence(make, ctx):
    proposal, contact, link = _open(make)
    option = _option_ids(proposal)[0]
    before = datetime.now(UTC).replace(tzinfo=None)
    proposals.sign_proposal(
        proposal,
        contact,
        link,
        sign_input(
            proposal, [str(option)], signer_name="  Cora   Contact ", ip="198.51.100.7", user_agent="Mozilla/5.0 test"
        ),
    )
    db.session.commit()
    after = datetime.now(UTC).replace(tzinfo=None)

    signature = db.session.scalar(select(Signature))
    assert signature.proposal_id == proposal.id
    assert signature.contact_id == contact.id
    assert signature.portal_link_id == link.id
    assert signature.signer_name == "Cora Contact"
    expected_png = base64.b64decode(demo_signature_png().split(",", 1)[1])
    assert bytes(signature.image_png) == expected_png
    assert json.loads(signature.strokes_json) == json.loads(DEMO_STROKES)
    assert json.loads(signature.selected_line_ids) == [option]
    assert signature.signed_total == Decimal("310.00")  # 4 x 45 + 2 x 65
    assert signature.currency == "USD"
    assert re.fullmatch(r"[0-9a-f]{64}", signature.content_hash)
    assert signature.content_hash == proposals.signature_hash(proposal, [option], Decimal("310.00"), CONSENT_VERSION)
    assert signature.consent_version == CONSENT_VERSION
    assert before - timedelta(seconds=1) <= signature.signed_at <= after + timedelta(seconds=1)
    assert signature.signed_at.tzinfo is None  # stored as naive UTC
    assert signature.ip == "198.51.100.7"
    assert signature.user_agent == "Mozilla/5.0 test"
    assert proposal.signed_at == signature.signed_at
    assert proposals.signature_intact(signature, proposal)


def test_the_signed_total_is_computed_from_the_chosen_options_only(make, ctx):
    proposal, contact, link = _open(make)
    proposals.sign_proposal(proposal, contact, link, sign_input(proposal, []))
    assert db.session.scalar(select(Signature.signed_total)) == Decimal("180.00")


def test_signing_tells_the_sales_rep_with_an_absolute_admin_link(app, make, ctx):
    proposal, contact, link = _open(make)
    proposals.sign_proposal(proposal, contact, link, sign_input(proposal, signer_name="Cora Contact"))
    db.session.commit()
    rep = db.session.get(StaffUser, proposal.sales_rep_id)
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "proposal_signed"))
    assert message.to_addr == rep.email
    assert message.subject == f"Proposal P-{proposal.number} signed by Cora Contact"
    assert f"{app.config['BASE_URL']}/admin/proposals/{proposal.id}" in message.body_text


def test_signing_adds_a_contact_event_to_the_timeline(make, ctx):
    proposal, contact, link = _open(make)
    proposals.sign_proposal(proposal, contact, link, sign_input(proposal))
    db.session.commit()
    event = db.session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "signed"))
    assert event.contact_id == contact.id and event.staff_id is None


def test_a_second_signature_is_refused_and_the_first_stands(make, ctx):
    proposal, contact, link = _open(make)
    proposals.sign_proposal(proposal, contact, link, sign_input(proposal, signer_name="First Signer"))
    db.session.commit()
    proposal = proposals.load_proposal(proposal.id)
    with pytest.raises(AlreadySigned):
        proposals.sign_proposal(proposal, contact, link, sign_input(proposal, signer_name="Second Signer"))
    db.session.rollback()
    assert _signature_count() == 1
    assert db.session.scalar(select(Signature.signer_name)) == "First Signer"


def test_signing_a_stale_page_raises_content_changed(app, make, ctx):
    proposal, contact, link = _open(make)
    seen = proposals.content_hash(proposal)
    proposals.add_line(proposal, LineInput("Hedges", Decimal("1"), Decimal("85")))
    db.session.commit()
    proposal = proposals.load_proposal(proposal.id)
    with pytest.raises(ContentChanged):
        proposals.sign_proposal(proposal, contact, link, sign_input(proposal, seen_hash=seen))
    db.session.rollback()
    assert _signature_count() == 0


def test_a_version_bumped_between_load_and_sign_is_caught_by_the_conditional_update(app, make, ctx):
    """Staff edit commits after the contact's request read the proposal: no signature."""
    proposal, contact, link = _open(make)
    from tests.factories import staff_add_line

    staff_add_line(app, proposal.id)  # another session, committed
    with pytest.raises(ContentChanged):
        proposals.sign_proposal(proposal, contact, link, sign_input(proposal))
    db.session.rollback()
    assert _signature_count() == 0


def test_a_draft_is_not_open_for_signature(make, ctx):
    proposal = proposals.load_proposal(make.proposal().id)
    with pytest.raises(NotAllowed):
        proposals.sign_proposal(proposal, proposal.contact, None, sign_input(proposal))


BLANK = png_data_url(ink=False)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"signature_png": ""}, "signature"),
        ({"signature_png": BLANK}, "signature"),
        ({"signature_png": "data:image/jpeg;base64,/9j/4AAQ"}, "signature"),
        ({"signature_png": png_data_url(fmt="JPEG")}, "signature"),
        ({"signature_png": "data:image/png;base64,not-base64!!"}, "signature"),
        ({"strokes": ""}, "signature"),
        ({"strokes": "[]"}, "signature"),
        ({"strokes": '[{"points": "nope"}]'}, "signature"),
        ({"signer_name": ""}, "signer_name"),
        ({"signer_name": " x "}, "signer_name"),
        ({"signer_name": "n" * 201}, "signer_name"),
        ({"consent": False}, "consent"),
        ({"option_ids": ["999999"]}, "options"),
        ({"option_ids": ["abc"]}, "options"),
    ],
)
def test_invalid_signing_input_is_refused_with_a_message_per_field(make, ctx, overrides, field):
    proposal, contact, link = _open(make)
    with pytest.raises(InvalidInput) as error:
        proposals.sign_proposal(proposal, contact, link, sign_input(proposal, **overrides))
    assert error.value.errors[field]
    db.session.rollback()
    assert _signature_count() == 0
    assert proposals.load_proposal(proposal.id).signed_at is None


def test_an_included_line_cannot_be_passed_off_as_an_option(make, ctx):
    proposal, contact, link = _open(make)
    included = next(line.id for line in proposal.lines if not line.is_optional)
    with pytest.raises(InvalidInput) as error:
        proposals.sign_proposal(proposal, contact, link, sign_input(proposal, [str(included)]))
    assert "options" in error.value.errors


# --- the drawn signature ---------------------------------------------------------


def test_a_drawn_png_is_accepted(app, ctx):
    raw, error = signatures.decode_signature_png(demo_signature_png())
    assert error is None and raw.startswith(b"\x89PNG")


def test_a_blank_pad_is_refused(app, ctx):
    raw, error = signatures.decode_signature_png(png_data_url(ink=False))
    assert raw is None and "draw your signature" in error


def test_an_image_over_the_byte_limit_is_refused_before_decoding(app, ctx):
    big = "data:image/png;base64," + "A" * (5 * 1024 * 1024)
    raw, error = signatures.decode_signature_png(big)
    assert raw is None and "too large" in error


@pytest.mark.parametrize("width, height", [(5000, 100), (300, 2500), (10, 10)])
def test_images_of_unexpected_dimensions_are_refused(app, ctx, width, height):
    raw, error = signatures.decode_signature_png(png_data_url(width, height))
    assert raw is None and "unexpected size" in error


def test_a_png_header_on_garbage_is_refused(app, ctx):
    garbage = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
    raw, error = signatures.decode_signature_png(garbage)
    assert raw is None and error


def test_a_decompression_bomb_is_refused(app, ctx):
    """A tiny file declaring enormous dimensions never gets decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 6, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    raw, error = signatures.decode_signature_png("data:image/png;base64," + base64.b64encode(png).decode())
    assert raw is None and error


def test_strokes_are_stored_as_canonical_json(app, ctx):
    canonical, error = signatures.validate_strokes('[ {"points": [ {"x": 1, "y": 2.5} ] } ]')
    assert error is None
    assert canonical == '[{"points":[{"x":1,"y":2.5}]}]'


def test_overlong_strokes_are_refused(app, ctx):
    _canonical, error = signatures.validate_strokes("[" + " " * signatures.MAX_STROKES_CHARS + "]")
    assert error and "too complex" in error
