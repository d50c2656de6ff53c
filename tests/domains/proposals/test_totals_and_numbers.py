"""Stored totals, line bounds, unique positions and proposal numbers (no HTTP)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import Proposal, ProposalStatus
from portal.domains.proposals.operations import LineInput


def _loaded(proposal_id: int) -> Proposal:
    db.session.expire_all()
    return proposals.load_proposal(proposal_id)


# --- stored totals --------------------------------------------------------------------


def test_stored_totals_are_the_sum_of_lines_rounded_half_up_one_by_one(app, make):
    # 0.333 x 1.00 three times: per line 0.33 each, 0.99 in all (a SQL sum gave 1.00)
    proposal = make.proposal(included=(("A", "0.333", "1.00"),) * 3, optional=(("B", "0.5", "0.25"),))
    with app.app_context():
        loaded = _loaded(proposal.id)
        totals = proposals.totals_of(loaded)
        assert totals.included == Decimal("0.99")
        assert loaded.included_total == Decimal("0.99")
        assert totals.options_available == loaded.optional_total == Decimal("0.13")  # 0.125 half up


def test_stored_totals_follow_every_line_edit_and_the_revision_copy(app, make):
    proposal = make.proposal(included=(("Mowing", "4", "45.00"),), optional=(("Mulch", "2", "65.00"),))
    staff = make.staff()
    with app.app_context():
        loaded = _loaded(proposal.id)
        assert (loaded.included_total, loaded.optional_total) == (Decimal("180.00"), Decimal("130.00"))
        mowing, mulch = loaded.lines
        proposals.update_line(loaded, mowing, LineInput("Mowing", Decimal("5"), Decimal("45.00")))
        proposals.remove_line(loaded, mulch)
        proposals.add_line(loaded, LineInput("Edging", Decimal("1"), Decimal("30.00"), is_optional=True))
        db.session.commit()
        loaded = _loaded(proposal.id)
        assert (loaded.included_total, loaded.optional_total) == (Decimal("225.00"), Decimal("30.00"))
        proposals.deliver_proposal(loaded, db.session.get(StaffUser, loaded.sales_rep_id))
        revision = proposals.create_revision(loaded, db.session.get(StaffUser, staff.id))
        db.session.commit()
        revision = _loaded(revision.id)
        assert (revision.included_total, revision.optional_total) == (Decimal("225.00"), Decimal("30.00"))


# --- bounds --------------------------------------------------------------------------


def test_a_line_whose_amount_would_not_fit_the_money_columns_is_refused(app, make):
    proposal = make.proposal(included=(), optional=())
    with app.app_context():
        loaded = _loaded(proposal.id)
        with pytest.raises(InvalidInput) as refused:
            proposals.add_line(loaded, LineInput("Huge", Decimal("1000000"), Decimal("99999999.00")))
        assert "at most 9,999,999,999.99" in refused.value.errors["unit_price"]
        db.session.rollback()
        assert _loaded(proposal.id).lines == []


def test_a_line_that_would_take_the_total_past_the_money_columns_is_refused(app, make):
    proposal = make.proposal(included=(("Big", "1", "6000000000.00"),), optional=())
    with app.app_context():
        loaded = _loaded(proposal.id)
        with pytest.raises(InvalidInput) as refused:
            proposals.add_line(loaded, LineInput("Option", Decimal("1"), Decimal("4000000000.00"), is_optional=True))
        assert "total" in refused.value.errors["unit_price"]
        db.session.rollback()
        loaded = _loaded(proposal.id)
        (big,) = loaded.lines
        # replacing the line itself is judged without its old amount
        proposals.update_line(loaded, big, LineInput("Big", Decimal("1"), Decimal("9999999999.99")))
        db.session.commit()
        assert _loaded(proposal.id).included_total == Decimal("9999999999.99")


def test_the_largest_proposal_can_be_signed_with_every_option(app, make):
    delivered = make.delivered(included=(("Big", "1", "5000000000.00"),), optional=(("Option", "1", "4999999999.99"),))
    signed = make.signed(delivered, option_count=1)
    with app.app_context():
        assert _loaded(signed.proposal.id).signature.signed_total == Decimal("9999999999.99")


# --- positions ------------------------------------------------------------------------


def test_inserting_at_a_taken_position_moves_the_others_down(app, make):
    proposal = make.proposal(included=(("First", "1", "1.00"), ("Second", "1", "1.00")), optional=())
    with app.app_context():
        loaded = _loaded(proposal.id)
        proposals.add_line(loaded, LineInput("New first", Decimal("1"), Decimal("1.00"), position=1))
        db.session.commit()
        lines = _loaded(proposal.id).lines
        assert [(line.position, line.description) for line in lines] == [
            (1, "New first"),
            (2, "First"),
            (3, "Second"),
        ]
        last = lines[0]
        proposals.update_line(
            _loaded(proposal.id), _loaded(proposal.id).lines[0], LineInput("New first", 1, 1, position=3)
        )
        db.session.commit()
        lines = _loaded(proposal.id).lines
        assert [(line.position, line.description) for line in lines] == [
            (1, "First"),
            (2, "Second"),
            (3, last.description),
        ]
        proposals.remove_line(_loaded(proposal.id), _loaded(proposal.id).lines[0])
        db.session.commit()
        assert [line.position for line in _loaded(proposal.id).lines] == [1, 2]


# --- numbers ---------------------------------------------------------------------------


def test_numbers_continue_after_the_highest_one(app, make):
    first = make.proposal()
    second = make.proposal()
    assert second.number == first.number + 1


CREATORS = 8


def test_proposals_created_at_the_same_instant_get_distinct_numbers(app, make):
    """Real threads, each its own connection and transaction, released together."""
    contact = make.contact()
    rep = make.staff()
    barrier = threading.Barrier(CREATORS)
    results: list = [None] * CREATORS

    def create(index: int) -> None:
        with app.app_context():
            try:
                staff = db.session.get(StaffUser, rep.id)
                addressee = db.session.get(Contact, contact.id)
                barrier.wait(timeout=10)
                proposal = proposals.create_proposal(staff, addressee, f"Rush {index}", "USD")
                db.session.commit()
                results[index] = proposal.number
            except BaseException as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(CREATORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert all(isinstance(number, int) for number in results), results
    assert len(set(results)) == CREATORS
    with app.app_context():
        stored = db.session.scalars(select(Proposal.number).where(Proposal.status == ProposalStatus.DRAFT)).all()
        assert sorted(stored) == sorted(results)


@pytest.mark.parametrize(
    "quantity, field, message",
    [
        ("1e30", "quantity", "Quantity can be at most 1,000,000."),
        ("0.0004", "quantity", "Quantity must be a number greater than zero."),
    ],
)
def test_quantities_out_of_range_are_refused_with_a_message(app, make, quantity, field, message):
    proposal = make.proposal(included=(), optional=())
    with app.app_context():
        with pytest.raises(InvalidInput) as refused:
            proposals.add_line(_loaded(proposal.id), LineInput("Visit", Decimal(quantity), Decimal("1.00")))
        assert refused.value.errors[field] == message


def test_a_quantity_is_stored_rounded_half_up_to_three_decimals(app, make):
    proposal = make.proposal(included=(("Visit", "2.0005", "1.00"),), optional=())
    with app.app_context():
        (line,) = _loaded(proposal.id).lines
        assert line.quantity == Decimal("2.001")
