"""The one rounding rule: half up to the cent, per line, then sum."""

from __future__ import annotations

from decimal import Decimal

from portal.core.money import MAX_MONEY, fits_money, line_amount, round_money, sum_money
from portal.domains.proposals.models import ProposalLine
from portal.domains.proposals.totals import compute_totals


def test_round_money_rounds_half_up_not_to_even():
    assert round_money(Decimal("0.125")) == Decimal("0.13")  # banker's rounding gives 0.12
    assert round_money(Decimal("2.345")) == Decimal("2.35")
    assert round_money(Decimal("0.124")) == Decimal("0.12")
    assert round_money(Decimal("-0.125")) == Decimal("-0.13")


def test_line_amount_is_rounded_on_its_own():
    assert line_amount(Decimal("0.5"), Decimal("0.25")) == Decimal("0.13")
    assert line_amount(Decimal("3"), Decimal("0.33")) == Decimal("0.99")


def test_a_total_is_the_sum_of_rounded_lines():
    # three lines of 0.335 each: rounded per line 3 x 0.34 = 1.02; summed first 1.005 -> 1.01
    amounts = [line_amount(Decimal("1"), Decimal("0.335")) for _ in range(3)]
    assert sum_money(amounts) == Decimal("1.02")


def test_proposal_line_amount_and_totals_use_half_up():
    line = ProposalLine(id=1, quantity=Decimal("0.5"), unit_price=Decimal("0.25"), is_optional=False)
    assert line.amount == Decimal("0.13")
    assert compute_totals([line], "USD").included == Decimal("0.13")


def test_fits_money_matches_numeric_12_2():
    assert fits_money(MAX_MONEY)
    assert not fits_money(MAX_MONEY + Decimal("0.01"))
