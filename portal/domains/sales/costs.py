"""Costs and margins of a proposal's lines: staff only.

A line's ``unit_cost`` is what one unit costs the business (typed by staff, or copied
from a supplier's quotation). It is not content: setting it bumps no content version,
touches no signature, and neither the portal pages nor ``content_document`` (the
signed content and its hash) read it. So a cost may be set on a signed proposal too:
the margin is the business's own business.

Each amount follows the one money rule (``portal.core.money``): a line's cost is
quantity x unit cost rounded half up to the cent; a total is the sum of rounded lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _

from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.money import MAX_MONEY, fits_money, line_amount, round_money, sum_money
from portal.core.parsing import parse_decimal
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal, ProposalLine
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event


@dataclass(frozen=True)
class LineCost:
    line: ProposalLine
    amount: Decimal
    cost: Decimal | None  # None: no unit cost set
    margin: Decimal | None

    @property
    def margin_percent(self) -> Decimal | None:
        return _percent(self.margin, self.amount)


@dataclass(frozen=True)
class ProposalCosts:
    """The included lines' totals; optional lines are listed with their own margin."""

    currency: str
    lines: list[LineCost]
    amount: Decimal
    cost: Decimal
    margin: Decimal
    lines_without_cost: int  # included lines with no cost: the margin is then an upper bound

    @property
    def margin_percent(self) -> Decimal | None:
        return _percent(self.margin, self.amount)


def _percent(part: Decimal | None, whole: Decimal) -> Decimal | None:
    if part is None or not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"))


def line_cost(line: ProposalLine) -> LineCost:
    amount = line.amount
    if line.unit_cost is None:
        return LineCost(line, amount, None, None)
    cost = line_amount(line.quantity, line.unit_cost)
    return LineCost(line, amount, cost, amount - cost)


def proposal_costs(proposal: Proposal) -> ProposalCosts:
    """Cost and margin per line and for the included lines together."""
    lines = [line_cost(line) for line in proposal.lines]
    included = [each for each in lines if not each.line.is_optional]
    amount = sum_money(each.amount for each in included)
    cost = sum_money(each.cost for each in included if each.cost is not None)
    return ProposalCosts(
        currency=proposal.currency,
        lines=lines,
        amount=amount,
        cost=cost,
        margin=amount - cost,
        lines_without_cost=sum(1 for each in included if each.cost is None),
    )


def parse_unit_cost(text: str | None) -> Decimal | None:
    """An empty text clears the cost; anything else must be a plain number >= 0 that
    fits a MONEY column. Raises ``InvalidInput`` on the ``unit_cost`` field."""
    text = (text or "").strip()
    if not text:
        return None
    value = parse_decimal(text, digits=12, places=2)
    if value is None or value < 0:
        raise InvalidInput({"unit_cost": _("Unit cost must be a number, zero or more (or empty for none).")})
    value = round_money(value)
    if value > MAX_MONEY:
        raise InvalidInput({"unit_cost": _("Unit cost can be at most %(max)s.", max=f"{MAX_MONEY:,}")})
    return value


def set_line_cost(line: ProposalLine, unit_cost: Decimal | None, staff: StaffUser, source: str = "") -> None:
    """Set (or clear) one line's unit cost. Not content: the proposal's version, its
    content hash and any signature stay as they are."""
    if unit_cost is not None and not fits_money(line_amount(line.quantity, unit_cost)):
        raise InvalidInput({"unit_cost": _("Quantity times unit cost can be at most %(max)s.", max=f"{MAX_MONEY:,}")})
    if line.unit_cost == unit_cost:
        return
    line.unit_cost = unit_cost
    cost = f"{unit_cost:.2f}" if unit_cost is not None else "-"
    record_event(
        Subject.PROPOSAL,
        line.proposal_id,
        "line_cost_set",
        staff=staff,
        detail=f"{line.position}. {line.description[:80]}: {cost}" + (f" ({source})" if source else ""),
    )
    db.session.flush()
