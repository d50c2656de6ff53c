"""Proposal service: totals, content edits, delivery, decisions and revisions (no HTTP)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity import links
from portal.domains.identity.models import PortalLink, StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import LOST_REASONS, ProposalLine, ProposalStatus, Signature
from portal.domains.proposals.operations import LineInput
from portal.domains.proposals.totals import compute_totals, parse_option_ids
from portal.domains.timeline.models import TimelineEntry
from tests.factories import sign_input


def _line(line_id, qty, price, optional=False):
    return ProposalLine(
        id=line_id,
        quantity=Decimal(qty),
        unit_price=Decimal(price),
        is_optional=optional,
        description=f"line {line_id}",
        position=line_id,
    )


LINES = [
    _line(1, "4", "45.00"),  # 180.00 included
    _line(2, "1", "30.00"),  # 30.00 included
    _line(3, "2", "65.00", True),  # 130.00 optional
    _line(4, "1", "120.00", True),  # 120.00 optional
]


# --- totals --------------------------------------------------------------------


def test_totals_count_included_lines_and_leave_options_out():
    totals = compute_totals(LINES, "USD")
    assert totals.included == Decimal("210.00")
    assert totals.options_available == Decimal("250.00")
    assert totals.options_selected == Decimal("0.00")
    assert totals.total == Decimal("210.00")
    assert totals.selected_ids == ()


def test_totals_add_only_the_selected_options():
    totals = compute_totals(LINES, "USD", [4])
    assert totals.options_selected == Decimal("120.00")
    assert totals.total == Decimal("330.00")
    assert totals.selected_ids == (4,)
    assert compute_totals(LINES, "USD", [3, 4]).total == Decimal("460.00")


def test_compute_totals_ignores_unknown_and_included_ids():
    totals = compute_totals(LINES, "USD", [999, 1, 2, 3])
    assert totals.selected_ids == (3,)
    assert totals.total == Decimal("340.00")


def test_totals_are_exact_decimals():
    lines = [_line(1, "3", "0.10"), _line(2, "3", "0.10", True)]
    totals = compute_totals(lines, "USD", [2])
    assert totals.included == Decimal("0.30")
    assert totals.total == Decimal("0.60")
    assert str(totals.total) == "0.60"
    assert isinstance(totals.total, Decimal)


def test_line_amounts_round_half_to_the_cent_once():
    lines = [_line(1, "0.333", "3.00"), _line(2, "0.333", "3.00")]
    assert compute_totals(lines, "USD").total == Decimal("2.00")


def test_parse_option_ids_reports_ids_that_are_not_optional_lines_of_the_proposal():
    ids, bad = parse_option_ids(["4", "3", "3", "1", "999", "x"], LINES)
    assert ids == [3, 4]
    assert bad == ["1", "999", "x"]


def test_totals_of_a_stored_proposal_use_the_stored_lines(make, ctx):
    proposal = make.proposal(included=(("Mowing", "3", "0.10"),), optional=(("Mulch", "2", "65.00"),))
    loaded = proposals.load_proposal(proposal.id)
    option = next(line.id for line in loaded.lines if line.is_optional)
    assert proposals.totals_of(loaded).total == Decimal("0.30")
    assert proposals.totals_of(loaded, [option]).total == Decimal("130.30")


# --- building ------------------------------------------------------------------


def test_create_proposal_needs_a_title(make, ctx):
    rep, contact = make.staff(), make.contact()
    with pytest.raises(InvalidInput) as error:
        proposals.create_proposal(db.session.get(StaffUser, rep.id), db.session.get(Contact, contact.id), "  ", "USD")
    assert "title" in error.value.errors


@pytest.mark.parametrize(
    "qty, price, field",
    [("0", "10", "quantity"), ("-1", "10", "quantity"), ("1", "-0.01", "unit_price"), ("NaN", "10", "quantity")],
)
def test_add_line_refuses_bad_numbers(make, ctx, qty, price, field):
    proposal = proposals.load_proposal(make.proposal().id)
    with pytest.raises(InvalidInput) as error:
        proposals.add_line(proposal, LineInput("x", Decimal(qty), Decimal(price)))
    assert field in error.value.errors


def test_every_content_edit_bumps_the_content_version_and_the_hash(make, ctx):
    proposal = proposals.load_proposal(make.proposal().id)
    version, digest = proposal.content_version, proposals.content_hash(proposal)
    proposals.add_line(proposal, LineInput("Edging", Decimal("1"), Decimal("30")))
    assert proposal.content_version == version + 1
    assert proposals.content_hash(proposal) != digest


def test_internal_notes_are_not_content(make, ctx):
    proposal = proposals.load_proposal(make.proposal().id)
    version, digest = proposal.content_version, proposals.content_hash(proposal)
    proposals.update_header(proposal, proposal.title, proposal.terms, "call before visiting")
    assert proposal.content_version == version
    assert proposals.content_hash(proposal) == digest


# --- delivering ----------------------------------------------------------------


def test_delivering_marks_delivered_and_mails_a_link_built_from_base_url(app, make, ctx):
    proposal = proposals.load_proposal(make.proposal().id)
    rep = db.session.get(StaffUser, proposal.sales_rep_id)
    issued = proposals.deliver_proposal(proposal, rep)
    db.session.commit()
    assert proposal.status == ProposalStatus.DELIVERED
    from portal.mail.models import OutboxMessage

    message = db.session.scalar(select(OutboxMessage))
    assert message.to_addr == proposal.contact.email
    assert f"{app.config['BASE_URL']}/l/{issued.token}" in message.body_text


def test_delivery_links_come_from_base_url_even_inside_a_request_for_another_host(app, make):
    proposal = make.proposal()
    with app.test_request_context("/admin/proposals/1/deliver", method="POST", base_url="http://evil.example.invalid"):
        loaded = proposals.load_proposal(proposal.id)
        issued = proposals.deliver_proposal(loaded, db.session.get(StaffUser, loaded.sales_rep_id))
        from portal.mail.models import OutboxMessage

        body = db.session.scalar(select(OutboxMessage.body_text))
        db.session.rollback()
    assert f"https://portal.example.test/l/{issued.token}" in body
    assert "evil.example.invalid" not in body


def test_delivering_to_a_second_contact_keeps_the_first_link_working(make, ctx):
    first = make.delivered()
    colleague = make.contact(organization=first.proposal.organization)
    second = make.delivered(proposal=first.proposal, contact=colleague)
    assert second.contact.id == colleague.id
    assert links.find_link(first.token).is_usable
    assert links.find_link(second.token).is_usable


def test_delivering_to_a_contact_of_another_organization_is_refused(make, ctx):
    proposal = proposals.load_proposal(make.proposal().id)
    stranger = db.session.get(Contact, make.contact().id)
    with pytest.raises(InvalidInput):
        proposals.deliver_proposal(proposal, db.session.get(StaffUser, proposal.sales_rep_id), stranger)


def test_a_proposal_without_lines_cannot_be_delivered(make, ctx):
    proposal = proposals.load_proposal(make.proposal(included=(), optional=()).id)
    with pytest.raises(NotAllowed):
        proposals.deliver_proposal(proposal, db.session.get(StaffUser, proposal.sales_rep_id))


def test_a_signed_proposal_cannot_be_delivered_again(make, ctx):
    signed = make.signed()
    proposal = proposals.load_proposal(signed.proposal.id)
    with pytest.raises(NotAllowed):
        proposals.deliver_proposal(proposal, db.session.get(StaffUser, proposal.sales_rep_id))


# --- signed proposals are frozen -------------------------------------------------


def _signed_and_loaded(make):
    signed = make.signed()
    return proposals.load_proposal(signed.proposal.id)


def _assert_nothing_changed(proposal_id, before_hash):
    db.session.rollback()
    db.session.expire_all()
    proposal = proposals.load_proposal(proposal_id)
    assert proposals.content_hash(proposal) == before_hash
    assert proposals.signature_intact(proposal.signature, proposal)


def test_adding_a_line_after_signing_is_refused_and_the_hash_still_matches(make, ctx):
    proposal = _signed_and_loaded(make)
    before = proposals.content_hash(proposal)
    with pytest.raises(NotAllowed):
        proposals.add_line(proposal, LineInput("Sneaky extra", Decimal("1"), Decimal("999")))
    _assert_nothing_changed(proposal.id, before)


def test_updating_a_line_after_signing_is_refused_and_the_hash_still_matches(make, ctx):
    proposal = _signed_and_loaded(make)
    before = proposals.content_hash(proposal)
    with pytest.raises(NotAllowed):
        proposals.update_line(proposal, proposal.lines[0], LineInput("Weekly mowing", Decimal("4"), Decimal("99")))
    _assert_nothing_changed(proposal.id, before)


def test_removing_a_line_after_signing_is_refused_and_the_hash_still_matches(make, ctx):
    proposal = _signed_and_loaded(make)
    before = proposals.content_hash(proposal)
    with pytest.raises(NotAllowed):
        proposals.remove_line(proposal, proposal.lines[0])
    _assert_nothing_changed(proposal.id, before)


@pytest.mark.parametrize("field", ["title", "terms"])
def test_changing_title_or_terms_after_signing_is_refused_and_the_hash_still_matches(make, ctx, field):
    proposal = _signed_and_loaded(make)
    before = proposals.content_hash(proposal)
    values = {"title": proposal.title, "terms": proposal.terms}
    values[field] = values[field] + " (changed)"
    with pytest.raises(NotAllowed):
        proposals.update_header(proposal, values["title"], values["terms"], "")
    _assert_nothing_changed(proposal.id, before)


def test_signature_intact_notices_content_changed_behind_the_services_back(make, ctx):
    proposal = _signed_and_loaded(make)
    assert proposals.signature_intact(proposal.signature, proposal)
    proposal.lines[0].unit_price = Decimal("1.00")  # a direct database edit, not through a service
    assert not proposals.signature_intact(proposal.signature, proposal)
    db.session.rollback()


# --- decisions -----------------------------------------------------------------


def test_mark_won_records_a_staff_event_and_never_a_signature(make, ctx):
    delivered = make.delivered()
    manager = db.session.get(StaffUser, make.staff(role="manager").id)
    proposal = proposals.load_proposal(delivered.proposal.id)
    proposals.mark_won(proposal, manager)
    db.session.commit()
    assert proposal.status == ProposalStatus.WON
    assert proposal.decided_by_id == manager.id
    assert proposal.signed_at is None
    assert db.session.scalar(select(func.count()).select_from(Signature)) == 0
    event = db.session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "won"))
    assert event.staff_id == manager.id
    assert event.contact_id is None


def test_mark_won_needs_a_delivered_proposal(make, ctx):
    proposal = proposals.load_proposal(make.proposal().id)
    with pytest.raises(NotAllowed):
        proposals.mark_won(proposal, db.session.get(StaffUser, proposal.sales_rep_id))


def test_mark_lost_needs_a_reason_from_the_list(make, ctx):
    proposal = proposals.load_proposal(make.delivered().proposal.id)
    rep = db.session.get(StaffUser, proposal.sales_rep_id)
    for reason in ("", "too expensive", None):
        with pytest.raises(InvalidInput) as error:
            proposals.mark_lost(proposal, rep, reason)
        assert "reason" in error.value.errors
    assert proposal.status == ProposalStatus.DELIVERED


def test_mark_lost_with_a_listed_reason_closes_the_proposal(make, ctx):
    proposal = proposals.load_proposal(make.delivered().proposal.id)
    rep = db.session.get(StaffUser, proposal.sales_rep_id)
    assert "competitor" in LOST_REASONS
    proposals.mark_lost(proposal, rep, "competitor", competitor="  GreenCo ", detail="cheaper")
    db.session.commit()
    assert proposal.status == ProposalStatus.LOST
    assert proposal.lost_reason == "competitor"
    assert proposal.lost_competitor == "GreenCo"
    event = db.session.scalar(select(TimelineEntry).where(TimelineEntry.kind == "lost"))
    assert event.staff_id == rep.id and event.contact_id is None


def test_a_lost_proposal_can_no_longer_be_signed(make, ctx):
    delivered = make.delivered()
    proposal = proposals.load_proposal(delivered.proposal.id)
    proposals.mark_lost(proposal, db.session.get(StaffUser, proposal.sales_rep_id), "price")
    db.session.commit()
    with pytest.raises(NotAllowed):
        proposals.sign_proposal(proposal, db.session.get(Contact, delivered.contact.id), None, sign_input(proposal))


# --- revisions -----------------------------------------------------------------


def test_a_revision_copies_the_lines_into_a_draft_and_the_old_one_keeps_its_signature(make, ctx):
    signed = make.signed()
    old = proposals.load_proposal(signed.proposal.id)
    old_hash = old.signature.content_hash
    revision = proposals.create_revision(old, db.session.get(StaffUser, old.sales_rep_id))
    db.session.commit()
    db.session.expire_all()

    old = proposals.load_proposal(signed.proposal.id)
    new = proposals.load_proposal(revision.id)
    assert old.status == ProposalStatus.SUPERSEDED
    assert old.signature is not None and old.signature.content_hash == old_hash
    assert proposals.signature_intact(old.signature, old)
    assert new.status == ProposalStatus.DRAFT
    assert new.signature is None and new.signed_at is None
    assert (new.number, new.revision, new.previous_id) == (old.number, old.revision + 1, old.id)
    copy = [(line.description, line.quantity, line.unit_price, line.is_optional, line.position) for line in new.lines]
    assert copy == [
        (line.description, line.quantity, line.unit_price, line.is_optional, line.position) for line in old.lines
    ]
    assert {line.id for line in new.lines}.isdisjoint({line.id for line in old.lines})


def test_a_revision_is_editable_while_the_signed_original_is_not(make, ctx):
    old = proposals.load_proposal(make.signed().proposal.id)
    revision = proposals.create_revision(old, db.session.get(StaffUser, old.sales_rep_id))
    proposals.add_line(revision, LineInput("Aeration", Decimal("1"), Decimal("120")))
    with pytest.raises(NotAllowed):
        proposals.add_line(old, LineInput("Aeration", Decimal("1"), Decimal("120")))


def test_a_new_revision_is_not_signable_until_delivered(make, ctx):
    signed = make.signed()
    old = proposals.load_proposal(signed.proposal.id)
    rep = db.session.get(StaffUser, old.sales_rep_id)
    revision = proposals.load_proposal(proposals.create_revision(old, rep).id)
    db.session.commit()
    revision = proposals.load_proposal(revision.id)
    contact = db.session.get(Contact, signed.contact.id)
    with pytest.raises(NotAllowed):
        proposals.sign_proposal(revision, contact, None, sign_input(revision))
    db.session.rollback()
    revision = proposals.load_proposal(revision.id)
    issued = proposals.deliver_proposal(revision, rep)
    proposals.sign_proposal(revision, contact, issued.link, sign_input(revision))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Signature)) == 2


def test_old_links_keep_pointing_at_the_old_revision(make, ctx):
    signed = make.signed()
    old = proposals.load_proposal(signed.proposal.id)
    revision = proposals.create_revision(old, db.session.get(StaffUser, old.sales_rep_id))
    db.session.commit()
    link = links.find_link(signed.token)
    assert link.is_usable
    assert (link.target_type, link.target_id) == ("proposal", old.id)
    assert proposals.latest_revision_id(old) == revision.id
    assert (
        db.session.scalar(select(func.count()).select_from(PortalLink).where(PortalLink.target_id == revision.id)) == 0
    )


def test_a_draft_cannot_be_revised(make, ctx):
    proposal = proposals.load_proposal(make.proposal().id)
    with pytest.raises(NotAllowed):
        proposals.create_revision(proposal, db.session.get(StaffUser, proposal.sales_rep_id))


def test_a_line_quantity_given_as_an_int_or_text_is_accepted_or_refused_cleanly(app, make, ctx):
    """Form defaults hand over ints; a 500 here was found by the authorization matrix."""
    from portal.core.errors import InvalidInput as _Invalid

    proposal = proposals.load_proposal(make.proposal().id)
    line = proposals.add_line(proposal, LineInput("Visit", 2, "10", False))
    assert (line.quantity, line.unit_price) == (Decimal("2"), Decimal("10.00"))
    with pytest.raises(_Invalid) as refused:
        proposals.add_line(proposal, LineInput("Visit", "abc", "10", False))
    assert "quantity" in refused.value.errors
