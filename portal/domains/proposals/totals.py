"""Proposal totals, always computed on the server from the stored lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from portal.core.money import round_money, sum_money
from portal.domains.proposals.models import ProposalLine


@dataclass(frozen=True)
class Totals:
    currency: str
    included: Decimal  # what the customer pays without any option
    options_available: Decimal  # what every optional service would add
    options_selected: Decimal  # what the ticked options add
    selected_ids: tuple[int, ...]

    @property
    def total(self) -> Decimal:
        return round_money(self.included + self.options_selected)


def compute_totals(lines: Iterable[ProposalLine], currency: str, selected_ids: Iterable[int] = ()) -> Totals:
    """Totals of a proposal for a selection of optional line ids (unknown ids ignored)."""
    chosen = set(selected_ids)
    included: list[Decimal] = []
    available: list[Decimal] = []
    selected: list[Decimal] = []
    picked: list[int] = []
    for line in lines:
        if line.is_optional:
            available.append(line.amount)
            if line.id in chosen:
                selected.append(line.amount)
                picked.append(line.id)
        else:
            included.append(line.amount)
    return Totals(
        currency=currency,
        included=sum_money(included),
        options_available=sum_money(available),
        options_selected=sum_money(selected),
        selected_ids=tuple(sorted(picked)),
    )


def parse_option_ids(raw: Iterable[str], lines: Iterable[ProposalLine]) -> tuple[list[int], list[str]]:
    """Option ids from a form, checked against the proposal's optional lines.

    Returns the valid ids and the raw values that are not an optional line of this
    proposal (a tampered or stale form).
    """
    optional = {line.id for line in lines if line.is_optional}
    ids: list[int] = []
    bad: list[str] = []
    for value in raw:
        try:
            number = int(value)
        except (TypeError, ValueError):
            bad.append(str(value)[:40])
            continue
        if number in optional:
            if number not in ids:
                ids.append(number)
        else:
            bad.append(str(value)[:40])
    return sorted(ids), bad
