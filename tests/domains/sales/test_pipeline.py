"""Stage moves from proposal events (story 7), Make proposal, lost and reopen: the
services without HTTP, on whichever engine the suite runs on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import Proposal
from portal.domains.sales import opportunities as sales
from portal.domains.sales.models import Competitor, LostReason, Opportunity, Stage
from portal.domains.timeline.models import Subject, TimelineEntry
from tests.factories import sign_input
from tests.sales_factories import make_opportunity, opportunity_input, stage_id


@pytest.fixture
def rep(make):
    return make.staff(name="Rita Rep")


@pytest.fixture
def customer(make):
    org = make.organization("Birch Lane HOA")
    return org, make.contact(org, portal_enabled=True)


def _made_proposal(app, rep, opportunity_id) -> int:
    with app.app_context():
        opportunity = sales.load_opportunity(opportunity_id)
        proposal = sales.make_proposal(db.session.get(StaffUser, rep.id), opportunity)
        db.session.commit()
        return proposal.id


def _stage_key(app, opportunity_id) -> tuple[str, str]:
    with app.app_context():
        opportunity = db.session.get(Opportunity, opportunity_id)
        stage = db.session.get(Stage, opportunity.stage_id)
        return stage.key, opportunity.outcome


def _deliver(app, proposal_id, rep):
    with app.app_context():
        proposal = proposals.load_proposal(proposal_id)
        proposals.deliver_proposal(proposal, db.session.get(StaffUser, rep.id))
        db.session.commit()


def test_make_proposal_copies_customer_contact_currency_and_lines(app, rep, customer):
    org, contact = customer
    opp = make_opportunity(
        app, rep, org, contact, currency="EUR", lines=[("Hedge trimming", "3", "40.00"), ("Mulch", "2.5", "12.10")]
    )
    proposal_id = _made_proposal(app, rep, opp.id)
    with app.app_context():
        proposal = proposals.load_proposal(proposal_id)
        assert proposal.opportunity_id == opp.id
        assert (proposal.organization_id, proposal.contact_id, proposal.currency) == (org.id, contact.id, "EUR")
        assert proposal.status == "draft"
        assert [(l.description, l.quantity, l.unit_price) for l in proposal.lines] == [
            ("Hedge trimming", Decimal("3.000"), Decimal("40.00")),
            ("Mulch", Decimal("2.500"), Decimal("12.10")),
        ]
        assert proposal.included_total == Decimal("150.25")
        shown = sales.load_opportunity(opp.id)
        assert [p.id for p in shown.proposals] == [proposal_id]


def test_delivered_then_signed_then_won_moves_the_opportunity_forward(app, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, lines=[("Mowing", "4", "45.00")])
    proposal_id = _made_proposal(app, rep, opp.id)
    assert _stage_key(app, opp.id) == ("new", "open")
    _deliver(app, proposal_id, rep)
    assert _stage_key(app, opp.id) == ("proposal_sent", "open")
    with app.app_context():
        proposal = proposals.load_proposal(proposal_id)
        proposals.sign_proposal(proposal, db.session.get(Contact, contact.id), None, sign_input(proposal))
        db.session.commit()
    assert _stage_key(app, opp.id) == ("signed", "open")
    with app.app_context():
        assert db.session.get(Opportunity, opp.id).last_customer_activity_at is not None
        proposals.mark_won(proposals.load_proposal(proposal_id), db.session.get(StaffUser, rep.id))
        db.session.commit()
        opportunity = db.session.get(Opportunity, opp.id)
        assert opportunity.outcome == "won" and opportunity.closed_at is not None
        kinds = list(
            db.session.scalars(
                select(TimelineEntry.detail).where(
                    TimelineEntry.subject_type == Subject.OPPORTUNITY,
                    TimelineEntry.subject_id == opp.id,
                    TimelineEntry.kind == "stage",
                )
            )
        )
        assert len(kinds) == 3


def test_delivering_again_changes_nothing_and_never_moves_backwards(app, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, stage="signed", lines=[("Mowing", "4", "45.00")])
    proposal_id = _made_proposal(app, rep, opp.id)
    _deliver(app, proposal_id, rep)
    assert _stage_key(app, opp.id) == ("signed", "open")  # Proposal sent is behind Signed
    _deliver(app, proposal_id, rep)
    assert _stage_key(app, opp.id) == ("signed", "open")
    with app.app_context():
        entries = db.session.scalar(
            select(db.func.count()).where(
                TimelineEntry.subject_type == Subject.OPPORTUNITY,
                TimelineEntry.subject_id == opp.id,
                TimelineEntry.kind == "stage",
            )
        )
        assert entries == 0


def test_a_lost_proposal_carries_reason_competitor_and_detail(app, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, lines=[("Mowing", "4", "45.00")])
    proposal_id = _made_proposal(app, rep, opp.id)
    _deliver(app, proposal_id, rep)
    with app.app_context():
        proposals.mark_lost(
            proposals.load_proposal(proposal_id),
            db.session.get(StaffUser, rep.id),
            "price",
            competitor="Green Giants",
            detail="Half our price",
        )
        db.session.commit()
        opportunity = sales.load_opportunity(opp.id)
        assert opportunity.outcome == "lost"
        assert [r.key for r in opportunity.lost_reasons] == ["price"]
        assert [c.name for c in opportunity.competitors] == ["Green Giants"]
        assert opportunity.lost_detail == "Half our price"
        assert db.session.scalar(select(Competitor.is_active).where(Competitor.name == "Green Giants"))


def test_won_or_lost_opportunity_is_never_moved_by_later_events(app, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, lines=[("Mowing", "4", "45.00")])
    first = _made_proposal(app, rep, opp.id)
    second = _made_proposal(app, rep, opp.id)
    _deliver(app, first, rep)
    _deliver(app, second, rep)
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        proposals.mark_won(proposals.load_proposal(first), staff)
        db.session.commit()
        proposals.mark_lost(proposals.load_proposal(second), staff, "timing")
        db.session.commit()
    assert _stage_key(app, opp.id) == ("won", "won")
    with app.app_context():
        assert sales.load_opportunity(opp.id).lost_reasons == []


def test_a_failed_proposal_change_leaves_the_opportunity_untouched(app, rep, customer):
    """No half-updated pair: the move happens in the proposal's transaction."""
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, lines=[("Mowing", "4", "45.00")])
    proposal_id = _made_proposal(app, rep, opp.id)
    with app.app_context():
        proposals.deliver_proposal(proposals.load_proposal(proposal_id), db.session.get(StaffUser, rep.id))
        assert db.session.get(Opportunity, opp.id).outcome == "open"
        db.session.rollback()
    assert _stage_key(app, opp.id) == ("new", "open")
    with app.app_context():
        assert db.session.get(Proposal, proposal_id).status == "draft"


def test_mark_lost_needs_a_reason_and_reopen_clears_it(app, rep, customer):
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact)
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        opportunity = sales.load_opportunity(opp.id)
        with pytest.raises(InvalidInput) as error:
            sales.mark_lost(staff, opportunity, sales.LostInput(reason_ids=[], detail="x"))
        assert "reason_ids" in error.value.errors
        reasons = list(db.session.scalars(select(LostReason.id).where(LostReason.key.in_(["price", "timing"]))))
        sales.mark_lost(staff, opportunity, sales.LostInput(reason_ids=reasons, detail="Too dear, too late"))
        db.session.commit()
        opportunity = sales.load_opportunity(opp.id)
        assert opportunity.outcome == "lost" and len(opportunity.lost_reasons) == 2
        with pytest.raises(NotAllowed):
            sales.move_opportunity(staff, opportunity, db.session.get(Stage, stage_id(app, "qualified")))
        sales.reopen_opportunity(staff, opportunity)
        db.session.commit()
        opportunity = sales.load_opportunity(opp.id)
        assert (opportunity.outcome, opportunity.stage.key, opportunity.lost_reasons, opportunity.closed_at) == (
            "open",
            "new",
            [],
            None,
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("probability", "101", "0 to 100"),
        ("probability", "abc", "0 to 100"),
        ("amount", "12a", "digits only"),
        ("amount", "-5", "negative"),
        ("currency", "XYZ", "ISO 4217"),
        ("title", "", "title"),
    ],
)
def test_bad_input_names_the_field(app, rep, customer, field, value, message):
    org, contact = customer
    data = opportunity_input(app, org, contact, **{field: value})
    with app.app_context():
        with pytest.raises(InvalidInput) as error:
            sales.create_opportunity(db.session.get(StaffUser, rep.id), data)
        assert message in error.value.errors[field]


def test_a_close_date_in_1900_is_refused(app, rep, customer):
    from datetime import date

    org, contact = customer
    data = opportunity_input(app, org, contact, expected_close_on=date(1900, 1, 1))
    with app.app_context():
        with pytest.raises(InvalidInput) as error:
            sales.create_opportunity(db.session.get(StaffUser, rep.id), data)
        assert "expected_close_on" in error.value.errors


def test_probability_defaults_from_the_stage_and_can_be_overridden(app, rep, customer):
    org, contact = customer
    default = make_opportunity(app, rep, org, contact, stage="qualified")
    typed = make_opportunity(app, rep, org, contact, stage="qualified", probability="70")
    with app.app_context():
        assert sales.effective_probability(sales.load_opportunity(default.id)) == 25
        assert sales.effective_probability(sales.load_opportunity(typed.id)) == 70


def test_a_contact_of_another_customer_is_refused(app, make, rep, customer):
    org, _contact = customer
    stranger = make.contact(make.organization("Elsewhere"))
    data = opportunity_input(app, org, stranger)
    with app.app_context():
        with pytest.raises(InvalidInput) as error:
            sales.create_opportunity(db.session.get(StaffUser, rep.id), data)
        assert "contact_id" in error.value.errors


def test_creating_without_a_rep_asks_the_assignment_rules(app, rep, customer, monkeypatch):
    from portal.domains.sales import opportunities as module

    seen = []
    monkeypatch.setattr(module, "assign_owner", lambda record, **kw: seen.append((record.id, kw["reason_context"])))
    org, contact = customer
    opp = make_opportunity(app, rep, org, contact, rep_id=None)
    assert seen == [(opp.id, "staff form")]
