"""The one rounding rule for money: half up to the cent, per line, then sum.

Pages, lists, signatures and the stored totals all go through these helpers, so a
list can never show 0.99 where the page shows 1.00 (Python's default ``quantize`` is
banker's rounding, and SQL sums of floats on SQLite drift).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# The largest amount a MONEY column (Numeric(12, 2)) holds.
MAX_MONEY = Decimal("9999999999.99")


def round_money(value: Decimal) -> Decimal:
    """``value`` rounded half up to the cent (2.345 -> 2.35, -2.345 -> -2.35)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """One line's amount: quantity times unit price, rounded on its own."""
    return round_money(Decimal(quantity) * Decimal(unit_price))


def sum_money(amounts: Iterable[Decimal]) -> Decimal:
    """The sum of already rounded amounts (a total is the sum of its rounded lines)."""
    return round_money(sum((Decimal(a) for a in amounts), Decimal("0")))


def fits_money(value: Decimal) -> bool:
    """Whether ``value`` fits a MONEY column."""
    return abs(value) <= MAX_MONEY
