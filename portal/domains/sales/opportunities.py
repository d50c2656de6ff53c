"""Opportunity operations: create and edit (with item lines), move between stages,
mark lost, reopen, make a proposal. Each takes the acting staff member, flushes and
never commits; the view (or CLI) commits once. Timeline entries are written in the
same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.money import MAX_MONEY, fits_money, line_amount, round_money
from portal.core.parsing import parse_decimal
from portal.core.queries.search import search_key
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import MAX_QUANTITY, MAX_UNIT_PRICE, CatalogItem, Proposal
from portal.domains.sales import lists
from portal.domains.sales.assignment import assign_owner
from portal.domains.sales.models import (
    Competitor,
    Lead,
    LostReason,
    Opportunity,
    OpportunityLine,
    OpportunityType,
    Outcome,
    Source,
    Stage,
)
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event

MAX_LINES = 100
# A close date more than this far from today is a typo (1900, 2206), not a plan.
CLOSE_DATE_YEARS = 20


def load_opportunity(opportunity_id: int) -> Opportunity | None:
    """An opportunity with what its page shows, in a fixed number of queries."""
    return db.session.scalar(
        select(Opportunity)
        .where(Opportunity.id == opportunity_id)
        .options(
            selectinload(Opportunity.organization),
            selectinload(Opportunity.contact),
            selectinload(Opportunity.lead),
            selectinload(Opportunity.type),
            selectinload(Opportunity.source),
            selectinload(Opportunity.stage),
            selectinload(Opportunity.rep),
            selectinload(Opportunity.next_contact_by),
            selectinload(Opportunity.lines).selectinload(OpportunityLine.service),
            selectinload(Opportunity.lost_reasons),
            selectinload(Opportunity.competitors),
            selectinload(Opportunity.proposals).selectinload(Proposal.signature),
        )
    )


def effective_probability(opportunity: Opportunity) -> int:
    """The probability typed on the opportunity, else its stage's default."""
    if opportunity.probability is not None:
        return opportunity.probability
    return opportunity.stage.default_probability if opportunity.stage else 0


def customer_name(opportunity: Opportunity) -> str:
    if opportunity.organization is not None:
        return opportunity.organization.name
    if opportunity.lead is not None:
        return opportunity.lead.company or opportunity.lead.name
    return ""


def refresh_label_key(opportunity: Opportunity, customer: str) -> None:
    """The one search key of the list: title and customer name together."""
    opportunity.label_key = search_key(f"{opportunity.title} {customer}")[:400]


# --- creating and editing -------------------------------------------------------------


@dataclass
class LineData:
    """One item line as typed: text, not yet numbers (the operation parses it)."""

    description: str = ""
    quantity: str = "1"
    unit_price: str = ""
    service_id: int | None = None


@dataclass
class OpportunityInput:
    """The form, as typed. Ids are None for "none"; numbers and dates are text or the
    form's parsed values (``None`` when missing or unreadable: ``*_invalid`` says which)."""

    title: str = ""
    organization_id: int | None = None
    contact_id: int | None = None
    lead_id: int | None = None
    type_id: int | None = None
    source_id: int | None = None
    stage_id: int | None = None
    amount: str = ""
    currency: str = "USD"
    probability: str = ""
    expected_close_on: date | None = None
    expected_close_invalid: bool = False
    rep_id: int | None = None
    next_contact_on: date | None = None
    next_contact_invalid: bool = False
    next_contact_by_id: int | None = None
    lines: list[LineData] = field(default_factory=list)


def _active(model, entry_id, current_id=None):
    entry = db.session.get(model, entry_id) if entry_id else None
    if entry is None or not (entry.is_active or entry.id == current_id):
        return None
    return entry


def _sane_date(value: date | None, invalid: bool, name: str, errors: dict, today: date) -> None:
    if invalid:
        errors[name] = _("Enter a date like 2027-03-31.")
    elif value is not None and not (
        today - timedelta(days=365 * CLOSE_DATE_YEARS) <= value <= today + timedelta(days=365 * CLOSE_DATE_YEARS)
    ):
        errors[name] = _("Enter a date within %(years)s years of today.", years=CLOSE_DATE_YEARS)


def _money(text: str, errors: dict, name: str, *, required: bool) -> Decimal | None:
    text = (text or "").strip().replace(",", "") if isinstance(text, str) else text
    if text in ("", None):
        if required:
            errors[name] = _("Enter an amount, 0 or more.")
        return None
    value = parse_decimal(text, digits=40, places=0)
    if value is None:
        errors[name] = _("Enter an amount with digits only, like 1250.00.")
    elif value < 0:
        errors[name] = _("The amount cannot be negative.")
    elif value > MAX_MONEY:
        errors[name] = _("The amount can be at most %(max)s.", max=f"{MAX_MONEY:,}")
    else:
        return round_money(value)
    return None


def _clean_lines(rows: list[LineData], errors: dict) -> list[tuple[str, Decimal, Decimal, int | None]]:
    """Each line as (description, quantity, unit price, service id); a fully empty row
    is dropped (the form's spare row), a bad one gets ``line-N-<field>`` messages."""
    if len(rows) > MAX_LINES:
        errors["lines"] = _("At most %(n)s lines.", n=MAX_LINES)
        return []
    clean = []
    for index, row in enumerate(rows):
        description = " ".join((row.description or "").split())
        if not description and not row.service_id and not (row.unit_price or "").strip():
            continue
        service = None
        if row.service_id:
            service = db.session.get(CatalogItem, row.service_id)
            if service is None or not service.is_active:
                errors[f"line-{index}-service_id"] = _("Choose a service from the catalog, or none.")
                service = None
        description = description or (service.name if service else "")
        if not description:
            errors[f"line-{index}-description"] = _("Describe the item, or choose a service.")
        elif len(description) > 500:
            errors[f"line-{index}-description"] = _("At most 500 characters.")
        quantity = parse_decimal((row.quantity or "").strip(), digits=40, places=0)
        if quantity is not None and quantity.copy_abs() <= MAX_QUANTITY:
            quantity = quantity.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
        if quantity is None or quantity <= 0:
            errors[f"line-{index}-quantity"] = _("Quantity must be a number greater than zero.")
            quantity = None
        elif quantity > MAX_QUANTITY:
            errors[f"line-{index}-quantity"] = _("Quantity can be at most %(max)s.", max=f"{MAX_QUANTITY:,}")
            quantity = None
        price_text = (row.unit_price or "").strip()
        price = (
            parse_decimal(price_text, digits=40, places=0) if price_text else (service.unit_price if service else None)
        )
        if price is None or price < 0:
            errors[f"line-{index}-unit_price"] = _("Unit price must be a number, zero or more.")
            price = None
        elif price > MAX_UNIT_PRICE:
            errors[f"line-{index}-unit_price"] = _("Unit price can be at most %(max)s.", max=f"{MAX_UNIT_PRICE:,}")
            price = None
        elif quantity is not None and not fits_money(line_amount(quantity, price)):
            errors[f"line-{index}-unit_price"] = _("Quantity times unit price is too large.")
            price = None
        if quantity is not None and price is not None and description and len(description) <= 500:
            clean.append((description, quantity, round_money(price), service.id if service else None))
    return clean


def _validate(actor: StaffUser, data: OpportunityInput, current: Opportunity | None, visible_org) -> dict:
    """Every field's message at once (nothing typed is lost: the view re-renders the
    form with them). ``visible_org(id)`` says whether the actor may use an organization."""
    errors: dict[str, str] = {}
    values: dict = {}
    title = " ".join((data.title or "").split())
    if not title:
        errors["title"] = _("Give the opportunity a title.")
    elif len(title) > 200:
        errors["title"] = _("At most 200 characters.")
    values["title"] = title

    organization = contact = lead = None
    if data.organization_id:
        organization = db.session.get(Organization, data.organization_id)
        if organization is None or not visible_org(organization.id):
            errors["organization_id"] = _("Choose a customer from the list.")
            organization = None
    if data.contact_id:
        contact = db.session.get(Contact, data.contact_id)
        if contact is None or (organization is not None and contact.organization_id != organization.id):
            errors["contact_id"] = _("Choose a contact of the chosen customer.")
            contact = None
        elif organization is None and not errors.get("organization_id"):
            if visible_org(contact.organization_id):
                organization = db.session.get(Organization, contact.organization_id)
            else:
                errors["contact_id"] = _("Choose a contact of the chosen customer.")
                contact = None
    if data.lead_id:
        lead = db.session.get(Lead, data.lead_id)
        if lead is None:
            errors["lead_id"] = _("Choose a lead from the list.")
    if organization is None and lead is None and "organization_id" not in errors and "lead_id" not in errors:
        errors["organization_id"] = _("Choose the customer, or the lead this opportunity comes from.")
    values.update(organization=organization, contact=contact, lead=lead)

    current_type = current.type_id if current else None
    kind = _active(OpportunityType, data.type_id, current_type)
    if kind is None:
        errors["type_id"] = _("Choose a type from the list.")
    values["type"] = kind
    source = None
    if data.source_id:
        source = _active(Source, data.source_id, current.source_id if current else None)
        if source is None:
            errors["source_id"] = _("Choose a source from the list, or none.")
    values["source"] = source
    stage = _active(Stage, data.stage_id, current.stage_id if current else None)
    if stage is None:
        errors["stage_id"] = _("Choose a stage from the list.")
    values["stage"] = stage

    values["amount"] = _money(data.amount, errors, "amount", required=False)
    currency = (data.currency or "").strip().upper()
    if currency not in lists.KNOWN_CURRENCIES:
        errors["currency"] = _("Choose a currency from the list (ISO 4217 code, like USD or EUR).")
    values["currency"] = currency

    probability = None
    text = (data.probability or "").strip() if isinstance(data.probability, str) else data.probability
    if text not in ("", None):
        number = parse_decimal(str(text), digits=12, places=0)
        if number is None or number != number.to_integral_value() or not 0 <= number <= 100:
            errors["probability"] = _(
                "Probability must be a whole number from 0 to 100, or empty for the stage's default."
            )
        else:
            probability = int(number)
    values["probability"] = probability

    today = utcnow().date()
    _sane_date(data.expected_close_on, data.expected_close_invalid, "expected_close_on", errors, today)
    _sane_date(data.next_contact_on, data.next_contact_invalid, "next_contact_on", errors, today)

    for name in ("rep_id", "next_contact_by_id"):
        staff_id = getattr(data, name)
        person = db.session.get(StaffUser, staff_id) if staff_id else None
        keep = getattr(current, name) if current else None
        if staff_id and (person is None or not (person.is_enabled or person.id == keep)):
            errors[name] = _("Choose a staff member from the list.")
            person = None
        values[name] = person
    if data.next_contact_on and values["next_contact_by_id"] is None and "next_contact_by_id" not in errors:
        values["next_contact_by_id"] = values["rep_id"] or actor
    values["lines"] = _clean_lines(data.lines, errors)
    if errors:
        raise InvalidInput(errors)
    return values


def _set_lines(opportunity: Opportunity, lines) -> None:
    opportunity.lines.clear()
    for position, (description, quantity, unit_price, service_id) in enumerate(lines, start=1):
        opportunity.lines.append(
            OpportunityLine(
                position=position,
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                service_id=service_id,
            )
        )


def _line_signature(opportunity: Opportunity) -> list:
    return [(l.description, l.quantity, l.unit_price, l.service_id) for l in opportunity.lines]


def _event(opportunity: Opportunity, kind: str, staff: StaffUser | None = None, detail: str = "", contact=None) -> None:
    record_event(Subject.OPPORTUNITY, opportunity.id, kind, staff=staff, contact=contact, detail=detail)


def create_opportunity(actor: StaffUser, data: OpportunityInput, visible_org=lambda _id: True) -> Opportunity:
    """A new opportunity; without a rep, the assignment rules choose one."""
    v = _validate(actor, data, None, visible_org)
    now = utcnow()
    opportunity = Opportunity(
        title=v["title"],
        organization_id=v["organization"].id if v["organization"] else None,
        contact_id=v["contact"].id if v["contact"] else None,
        lead_id=v["lead"].id if v["lead"] else None,
        type_id=v["type"].id,
        source_id=v["source"].id if v["source"] else None,
        stage_id=v["stage"].id,
        outcome=v["stage"].outcome,
        amount=v["amount"] if v["amount"] is not None else Decimal("0.00"),
        currency=v["currency"],
        probability=v["probability"],
        expected_close_on=data.expected_close_on,
        rep_id=v["rep_id"].id if v["rep_id"] else None,
        next_contact_on=data.next_contact_on,
        next_contact_by_id=v["next_contact_by_id"].id if v["next_contact_by_id"] else None,
        created_by_id=actor.id,
        closed_at=now if v["stage"].outcome in Outcome.CLOSED else None,
        lines=[],
    )
    _set_lines(opportunity, v["lines"])
    if opportunity.amount == 0 and opportunity.lines:
        opportunity.amount = round_money(sum((l.amount for l in opportunity.lines), Decimal("0")))
    customer = v["organization"].name if v["organization"] else (v["lead"].company or v["lead"].name)
    refresh_label_key(opportunity, customer)
    db.session.add(opportunity)
    db.session.flush()
    _event(opportunity, "created", staff=actor, detail=v["stage"].name)
    if opportunity.rep_id is None:
        assign_owner(opportunity, actor=actor, reason_context="staff form")
    db.session.flush()
    return opportunity


# The edits worth a timeline entry (besides the stage, which has its own).
_TRACKED = {
    "amount": "amount",
    "currency": "currency",
    "rep_id": "rep",
    "expected_close_on": "expected close",
    "probability": "probability",
    "organization_id": "customer",
    "contact_id": "contact",
    "type_id": "type",
}


def update_opportunity(
    actor: StaffUser, opportunity: Opportunity, data: OpportunityInput, visible_org=lambda _id: True
) -> None:
    """Change an opportunity; a changed stage is a move (``move_opportunity``'s rules)."""
    v = _validate(actor, data, opportunity, visible_org)
    before = {name: getattr(opportunity, name) for name in _TRACKED}
    lines_before = _line_signature(opportunity)
    new_stage = v["stage"]
    opportunity.title = v["title"]
    opportunity.organization_id = v["organization"].id if v["organization"] else None
    opportunity.contact_id = v["contact"].id if v["contact"] else None
    opportunity.lead_id = v["lead"].id if v["lead"] else None
    opportunity.type_id = v["type"].id
    opportunity.source_id = v["source"].id if v["source"] else None
    if v["amount"] is not None:
        opportunity.amount = v["amount"]
    opportunity.currency = v["currency"]
    opportunity.probability = v["probability"]
    opportunity.expected_close_on = data.expected_close_on
    opportunity.rep_id = v["rep_id"].id if v["rep_id"] else None
    opportunity.next_contact_on = data.next_contact_on
    opportunity.next_contact_by_id = v["next_contact_by_id"].id if v["next_contact_by_id"] else None
    _set_lines(opportunity, v["lines"])
    customer = v["organization"].name if v["organization"] else (v["lead"].company or v["lead"].name)
    refresh_label_key(opportunity, customer)
    changed = [label for name, label in _TRACKED.items() if getattr(opportunity, name) != before[name]]
    if _line_signature(opportunity) != lines_before:
        changed.append("items")
    opportunity.updated_at = utcnow()
    db.session.flush()
    if changed:
        _event(opportunity, "edited", staff=actor, detail=", ".join(changed))
    if new_stage.id != opportunity.stage_id:
        move_opportunity(actor, opportunity, new_stage)
    db.session.flush()


# --- moving, losing, reopening --------------------------------------------------------


def apply_stage(opportunity: Opportunity, stage: Stage, staff: StaffUser | None, detail: str = "") -> bool:
    """Put the opportunity in ``stage`` (outcome, closed time) with a timeline entry;
    False when it already was there (repeats change nothing)."""
    if opportunity.stage_id == stage.id:
        return False
    previous = opportunity.stage.name if opportunity.stage else ""
    now = utcnow()
    opportunity.stage_id = stage.id
    opportunity.stage = stage
    opportunity.outcome = stage.outcome
    opportunity.closed_at = now if stage.outcome in Outcome.CLOSED else None
    opportunity.updated_at = now
    db.session.flush()
    _event(opportunity, "stage", staff=staff, detail=detail or f"{previous} → {stage.name}")
    return True


def move_opportunity(actor: StaffUser, opportunity: Opportunity, stage: Stage | None) -> bool:
    """A staff move (the board's drag, the card's select, the form). Lost needs its
    reasons (``mark_lost``); a won or lost opportunity is reopened first (``reopen``)."""
    if stage is None or not stage.is_active:
        raise InvalidInput({"stage_id": _("Choose a stage from the list.")})
    if stage.id == opportunity.stage_id:
        return False
    if opportunity.outcome in Outcome.CLOSED:
        raise NotAllowed(_("This opportunity is closed: reopen it first."))
    if stage.outcome == Outcome.LOST:
        raise NotAllowed(_("Mark it lost on its page, with the reasons."))
    return apply_stage(opportunity, stage, actor)


@dataclass
class LostInput:
    reason_ids: list[int] = field(default_factory=list)
    competitor_ids: list[int] = field(default_factory=list)
    detail: str = ""


def _lost_stage() -> Stage:
    stage = lists.first_stage(Outcome.LOST)
    if stage is None:  # the lists pages keep one; a database edited by hand may not
        raise NotAllowed(_("There is no active lost stage: add one under Sales lists."))
    return stage


def close_lost(
    opportunity: Opportunity,
    reasons: list[LostReason],
    competitors: list[Competitor],
    detail: str,
    staff: StaffUser | None,
    via: str = "",
) -> bool:
    """Close the opportunity as lost with these reasons, competitors and detail: the one
    copy of "lost", whether marked on the opportunity, carried from its proposal or by
    auto-close. False (and nothing changes) when it is already won or lost."""
    if opportunity.outcome in Outcome.CLOSED:
        return False
    stage = _lost_stage()
    opportunity.lost_reasons = list(reasons)
    opportunity.competitors = list(competitors)
    opportunity.lost_detail = (detail or "").strip()[:5000] or None
    names = ", ".join(r.name for r in reasons)
    apply_stage(opportunity, stage, staff, detail=f"{stage.name}: {names}{(' · ' + via) if via else ''}")
    return True


def mark_lost(actor: StaffUser, opportunity: Opportunity, data: LostInput) -> None:
    """Story 9: lost, with one or more reasons, optional competitors and a detail text."""
    errors = {}
    reason_ids = sorted({i for i in data.reason_ids if i})
    reasons = (
        list(db.session.scalars(select(LostReason).where(LostReason.id.in_(reason_ids), LostReason.is_active)))
        if reason_ids
        else []
    )
    if not reasons or len(reasons) != len(reason_ids):
        errors["reason_ids"] = _("Choose at least one reason from the list.")
    competitor_ids = sorted({i for i in data.competitor_ids if i})
    competitors = (
        list(db.session.scalars(select(Competitor).where(Competitor.id.in_(competitor_ids), Competitor.is_active)))
        if competitor_ids
        else []
    )
    if len(competitors) != len(competitor_ids):
        errors["competitor_ids"] = _("Choose competitors from the list.")
    if len(data.detail or "") > 5000:
        errors["detail"] = _("At most 5000 characters.")
    if errors:
        raise InvalidInput(errors)
    if opportunity.outcome in Outcome.CLOSED:
        raise NotAllowed(_("This opportunity is already closed."))
    close_lost(opportunity, reasons, competitors, data.detail, actor)


def reopen_opportunity(actor: StaffUser, opportunity: Opportunity) -> None:
    """A won or lost opportunity back to the first open stage; lost details are cleared
    (the timeline keeps what they were)."""
    if opportunity.outcome not in Outcome.CLOSED:
        raise NotAllowed(_("This opportunity is open already."))
    stage = lists.first_stage(Outcome.OPEN)
    if stage is None:
        raise NotAllowed(_("There is no active open stage."))
    opportunity.lost_reasons = []
    opportunity.competitors = []
    opportunity.lost_detail = None
    apply_stage(opportunity, stage, actor, detail=_("Reopened: %(stage)s", stage=stage.name))
    _event(opportunity, "reopened", staff=actor)


# --- Make proposal ---------------------------------------------------------------------


def make_proposal(actor: StaffUser, opportunity: Opportunity) -> Proposal:
    """Story 7: a draft proposal with the opportunity's customer, contact, currency and
    item lines, through the proposals operations, linked by ``opportunity_id``."""
    if opportunity.outcome in Outcome.CLOSED:
        raise NotAllowed(_("This opportunity is closed: reopen it to make a proposal."))
    if opportunity.organization_id is None:
        raise NotAllowed(_("Convert the lead into a customer first: a proposal is addressed to a contact."))
    contact = opportunity.contact
    if contact is None:
        contact = db.session.scalar(
            select(Contact)
            .where(Contact.organization_id == opportunity.organization_id, Contact.is_active.is_(True))
            .order_by(Contact.is_primary.desc(), Contact.id)
            .limit(1)
        )
    if contact is None:
        raise NotAllowed(_("Add a contact to the customer first: a proposal is addressed to one."))
    proposal = proposals.create_proposal(
        actor, contact, opportunity.title, opportunity.currency, opportunity_id=opportunity.id
    )
    proposal = proposals.load_proposal(proposal.id)
    for line in opportunity.lines:
        proposals.add_line(
            proposal,
            proposals.LineInput(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                catalog_item_id=line.service_id,
            ),
        )
    _event(opportunity, "proposal_made", staff=actor, detail=proposal.label)
    db.session.flush()
    return proposal


def touch_customer_activity(opportunity_id: int, at=None) -> None:
    """Customer activity on an opportunity (auto-close counts from it): a conditional
    update, so concurrent events never conflict."""
    at = at or utcnow()
    db.session.execute(
        update(Opportunity)
        .where(Opportunity.id == opportunity_id)
        .values(last_customer_activity_at=at)
        .execution_options(synchronize_session=False)
    )


def require_open(opportunity: Opportunity) -> None:
    if opportunity.outcome in Outcome.CLOSED:
        raise NotAllowed(_("This opportunity is closed: reopen it first."))
