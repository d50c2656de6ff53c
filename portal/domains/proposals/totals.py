"""Proposal totals, always computed on the server from the stored lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Numeric, cast, func, select

from portal.domains.proposals.models import ProposalLine

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Totals:
    currency: str
    included: Decimal  # what the customer pays without any option
    options_available: Decimal  # what every optional service would add
    options_selected: Decimal  # what the ticked options add
    selected_ids: tuple[int, ...]

    @property
    def total(self) -> Decimal:
        return (self.included + self.options_selected).quantize(CENT)


def compute_totals(lines: Iterable[ProposalLine], currency: str, selected_ids: Iterable[int] = ()) -> Totals:
    """Totals of a proposal for a selection of optional line ids (unknown ids ignored)."""
    chosen = set(selected_ids)
    included = available = selected = Decimal("0")
    picked: list[int] = []
    for line in lines:
        if line.is_optional:
            available += line.amount
            if line.id in chosen:
                selected += line.amount
                picked.append(line.id)
        else:
            included += line.amount
    return Totals(
        currency=currency,
        included=included.quantize(CENT),
        options_available=available.quantize(CENT),
        options_selected=selected.quantize(CENT),
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


def included_totals_subquery():
    """Per proposal, the sum of its included lines: for lists, in one grouped query."""
    return (
        select(
            ProposalLine.proposal_id,
            cast(func.sum(ProposalLine.quantity * ProposalLine.unit_price), Numeric(14, 2)).label("included"),
        )
        .where(ProposalLine.is_optional.is_(False))
        .group_by(ProposalLine.proposal_id)
        .subquery()
    )
