"""Contract operations: create, edit the header, add / change / remove a service,
activate, cancel, expire, and make one from a won opportunity.

Each takes the acting staff member (``expire_contracts`` is the system's), flushes and
never commits; the view, job or CLI commits once. Every state change is a conditional
update on the contract's row (its status, and for services the revision in force), so
a double tap, two tabs or two workers change it once on SQLite and PostgreSQL alike.

Services live on revisions: while a contract is a draft its v.0 is edited in place;
once active, each change copies the revision in force into v.N+1, changes the copy and
moves ``current_revision_id``, so every earlier revision stays readable as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.core.counters import next_counter_value
from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.money import MAX_MONEY, fits_money, line_amount, round_money, sum_money
from portal.core.parsing import parse_decimal
from portal.domains.contracts.models import (
    BillingCycle,
    Contract,
    ContractLine,
    ContractRevision,
    ContractStatus,
    LineKind,
)
from portal.domains.customers.models import Organization, Site
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import MAX_QUANTITY, MAX_UNIT_PRICE, CatalogItem, Proposal
from portal.domains.sales.models import Opportunity, OpportunityType, Outcome
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event

CONTRACT_NUMBER_COUNTER = "contract_number"
# A date further than this from today is a typo (1900, 2206), not a contract.
DATE_YEARS = 30
MAX_TITLE = 200
MAX_NOTES = 20000
MAX_LINES = 200
CURRENCIES = ("USD", "EUR", "GBP", "RON", "CAD")
# How long a contract made from an opportunity runs unless staff change it.
DEFAULT_TERM_DAYS = 365


# --- loading ---------------------------------------------------------------------


def load_contract(contract_id: int) -> Contract | None:
    """A contract with what its page shows (header, property, current revision and
    its services), in a fixed number of queries."""
    return db.session.scalar(
        select(Contract)
        .where(Contract.id == contract_id)
        .options(
            selectinload(Contract.organization),
            selectinload(Contract.site).selectinload(Site.site_contact),
            selectinload(Contract.created_by),
            selectinload(Contract.current_revision)
            .selectinload(ContractRevision.lines)
            .selectinload(ContractLine.service),
        )
    )


def load_revision(contract: Contract, number: int) -> ContractRevision | None:
    """One revision of ``contract`` with its services (an old one, to read)."""
    return db.session.scalar(
        select(ContractRevision)
        .where(ContractRevision.contract_id == contract.id, ContractRevision.number == number)
        .options(
            selectinload(ContractRevision.lines).selectinload(ContractLine.service),
            selectinload(ContractRevision.created_by),
        )
    )


def revisions_of(contract: Contract) -> list[ContractRevision]:
    """Every revision of ``contract``, oldest first, with who made it (one query)."""
    return list(
        db.session.scalars(
            select(ContractRevision)
            .where(ContractRevision.contract_id == contract.id)
            .options(selectinload(ContractRevision.created_by))
            .order_by(ContractRevision.number)
        )
    )


def included_lines(revision: ContractRevision | None) -> list[ContractLine]:
    return [line for line in (revision.lines if revision else []) if line.kind == LineKind.INCLUDED]


def optional_lines(revision: ContractRevision | None) -> list[ContractLine]:
    return [line for line in (revision.lines if revision else []) if line.kind == LineKind.OPTIONAL]


# --- numbering -------------------------------------------------------------------


def next_number() -> str:
    """The next contract number ("C-1001"), from a counter row incremented inside the
    transaction (two contracts made at the same instant get distinct numbers). The
    counter starts past every number already used: each contract took one."""
    value = next_counter_value(
        CONTRACT_NUMBER_COUNTER, start=lambda: 1000 + (db.session.scalar(select(func.max(Contract.id))) or 0)
    )
    return f"C-{value}"


# --- the header ----------------------------------------------------------------------


@dataclass
class ContractInput:
    """A contract's header as a form or a caller gives it (dates already parsed; a
    field the form could not read as a date is flagged ``*_invalid``)."""

    organization_id: int | None
    site_id: int | None
    starts_on: date | None
    ends_on: date | None
    title: str = ""
    billing_cycle: str = BillingCycle.MONTHLY
    currency: str = "USD"
    type_id: int | None = None
    notes: str = ""
    starts_invalid: bool = False
    ends_invalid: bool = False


def _check_date(value: date | None, invalid: bool, name: str, errors: dict[str, str], today: date) -> None:
    if invalid:
        errors[name] = _("Enter a date like 2027-03-31.")
    elif value is None:
        errors[name] = _("Enter a date.")
    elif not (today - timedelta(days=365 * DATE_YEARS) <= value <= today + timedelta(days=365 * DATE_YEARS)):
        errors[name] = _("Enter a date within %(years)s years of today.", years=DATE_YEARS)


def _validate(
    data: ContractInput, today: date, organization_id: int | None = None, visible_org=None
) -> tuple[Organization, Site]:
    """The organization and property of a valid header; ``InvalidInput`` (a message
    per field) otherwise. ``organization_id`` fixes the organization (an edit);
    ``visible_org(id)`` says whether the actor may see a chosen one (the view's access
    rule: one they may not see is "choose", as if it did not exist)."""
    errors: dict[str, str] = {}
    organization = db.session.get(Organization, organization_id or data.organization_id or 0)
    if organization is not None and organization_id is None and visible_org is not None:
        organization = organization if visible_org(organization.id) else None
    if organization is None or (organization_id is None and not organization.is_active):
        organization = None
        errors["organization_id"] = _("Choose an organization.")
    site = db.session.get(Site, data.site_id) if data.site_id else None
    if site is None:
        errors["site_id"] = _("Choose a property.")
    elif organization is not None and site.organization_id != organization.id:
        errors["site_id"] = _("This property is not one of %(name)s's.", name=organization.name)
    _check_date(data.starts_on, data.starts_invalid, "starts_on", errors, today)
    _check_date(data.ends_on, data.ends_invalid, "ends_on", errors, today)
    if "starts_on" not in errors and "ends_on" not in errors and data.ends_on < data.starts_on:
        errors["ends_on"] = _("The end date must be on or after the start date.")
    if data.billing_cycle not in BillingCycle.ALL:
        errors["billing_cycle"] = _("Choose a billing cycle.")
    if data.currency not in CURRENCIES:
        errors["currency"] = _("Choose a currency.")
    if data.type_id is not None:
        kind = db.session.get(OpportunityType, data.type_id)
        if kind is None:
            errors["type_id"] = _("Choose a type, or none.")
    if len((data.title or "").strip()) > MAX_TITLE:
        errors["title"] = _("Keep this under %(n)d characters.", n=MAX_TITLE)
    if len(data.notes or "") > MAX_NOTES:
        errors["notes"] = _("Keep this under %(n)d characters.", n=MAX_NOTES)
    if errors:
        raise InvalidInput(errors)
    return organization, site


def _event(contract: Contract, kind: str, staff: StaffUser | None = None, detail: str = "") -> None:
    record_event(Subject.CONTRACT, contract.id, kind, staff=staff, detail=detail)


def create_contract(actor: StaffUser, data: ContractInput, today: date | None = None, visible_org=None) -> Contract:
    """A new draft contract with an empty v.0 (its services are added next)."""
    today = today or date.today()
    organization, site = _validate(data, today, visible_org=visible_org)
    contract = Contract(
        number=next_number(),
        organization_id=organization.id,
        site_id=site.id,
        title=(data.title or "").strip(),
        billing_cycle=data.billing_cycle,
        currency=data.currency,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        type_id=data.type_id,
        notes=data.notes or "",
        created_by_id=actor.id if actor else None,
    )
    db.session.add(contract)
    db.session.flush()
    revision = ContractRevision(contract_id=contract.id, number=0, created_by_id=actor.id if actor else None)
    db.session.add(revision)
    db.session.flush()
    contract.current_revision_id = revision.id
    db.session.flush()
    _event(contract, "created", staff=actor, detail=contract.number)
    return contract


def _require_open(contract: Contract) -> None:
    if contract.status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
        raise NotAllowed(_("This contract is %(status)s: it no longer changes.", status=status_label(contract.status)))


def update_contract(actor: StaffUser, contract: Contract, data: ContractInput, today: date | None = None) -> None:
    """Change a draft or active contract's header (its organization stays)."""
    _require_open(contract)
    _organization, site = _validate(data, today or date.today(), organization_id=contract.organization_id)
    _claim(contract, (ContractStatus.DRAFT, ContractStatus.ACTIVE))
    contract.site_id = site.id
    contract.title = (data.title or "").strip()
    contract.billing_cycle = data.billing_cycle
    contract.currency = data.currency
    contract.starts_on = data.starts_on
    contract.ends_on = data.ends_on
    contract.type_id = data.type_id
    contract.notes = data.notes or ""
    db.session.flush()
    _event(contract, "updated", staff=actor)


def status_label(status: str) -> str:
    return {
        ContractStatus.DRAFT: _("draft"),
        ContractStatus.ACTIVE: _("active"),
        ContractStatus.EXPIRED: _("expired"),
        ContractStatus.CANCELLED: _("cancelled"),
    }.get(status, status)


def _claim(contract: Contract, statuses: tuple[str, ...], revision_id: int | None = None) -> None:
    """Take the contract's row for one change: a conditional update on its status (and
    the revision in force), which waits for a concurrent change and then refuses."""
    condition = [Contract.id == contract.id, Contract.status.in_(statuses)]
    if revision_id is not None:
        condition.append(Contract.current_revision_id == revision_id)
    result = db.session.execute(
        update(Contract).where(*condition).values(updated_at=utcnow()).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(contract)
        raise NotAllowed(_("This contract changed meanwhile: reload it and try again."))


# --- services ----------------------------------------------------------------------


@dataclass
class LineInput:
    """One service as a form gives it: catalog service, kind, quantity and price."""

    service_id: int | None
    kind: str = LineKind.INCLUDED
    quantity: object = Decimal("1")
    unit_price: object = None
    description: str = ""
    position: int | None = None


@dataclass(frozen=True)
class CleanLine:
    service: CatalogItem
    kind: str
    quantity: Decimal
    unit_price: Decimal
    description: str
    position: int | None


def _as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    parsed = parse_decimal(value if isinstance(value, Decimal | int) else str(value), digits=40, places=0)
    return Decimal("NaN") if parsed is None else parsed


def _clean_line(data: LineInput) -> CleanLine:
    """The same bounds as a proposal line (quantity, unit price, their product)."""
    errors: dict[str, str] = {}
    service = db.session.get(CatalogItem, data.service_id) if data.service_id else None
    if service is None or not service.is_active:
        errors["service_id"] = _("Choose a service from the catalog.")
    if data.kind not in LineKind.ALL:
        errors["kind"] = _("Choose included or optional.")
    quantity = _as_decimal(data.quantity)
    if quantity is not None and quantity.is_finite() and abs(quantity) <= MAX_QUANTITY:
        quantity = quantity.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    if quantity is None or not quantity.is_finite() or quantity <= 0:
        errors["quantity"] = _("Quantity must be a number greater than zero.")
    elif quantity > MAX_QUANTITY:
        errors["quantity"] = _("Quantity can be at most %(max)s.", max=f"{MAX_QUANTITY:,}")
    price = _as_decimal(data.unit_price)
    if price is None and service is not None:
        price = service.unit_price
    if price is None or not price.is_finite() or price < 0:
        errors["unit_price"] = _("Unit price must be a number, zero or more.")
    elif price > MAX_UNIT_PRICE:
        errors["unit_price"] = _("Unit price can be at most %(max)s.", max=f"{MAX_UNIT_PRICE:,}")
    elif "quantity" not in errors and not fits_money(line_amount(quantity, price)):
        errors["unit_price"] = _("Quantity times unit price can be at most %(max)s.", max=f"{MAX_MONEY:,}")
    if data.position is not None and data.position < 0:
        errors["position"] = _("Position must be zero or more.")
    description = (data.description or "").strip()
    if len(description) > 500:
        errors["description"] = _("Keep this under %(n)d characters.", n=500)
    if errors:
        raise InvalidInput(errors)
    return CleanLine(service, data.kind, quantity, round_money(price), description or service.name, data.position)


def _load_lines(revision: ContractRevision) -> list[ContractLine]:
    return list(
        db.session.scalars(
            select(ContractLine)
            .where(ContractLine.revision_id == revision.id)
            .order_by(ContractLine.kind, ContractLine.position, ContractLine.id)
        )
    )


def _revision_for_change(actor: StaffUser, contract: Contract, note: str) -> tuple[ContractRevision, dict[int, int]]:
    """The revision a change of services goes to, and how the ids of the revision in
    force map onto its lines: a draft's v.0 itself; an active contract's copy v.N+1,
    which becomes the one in force."""
    _require_open(contract)
    current = db.session.get(ContractRevision, contract.current_revision_id)
    if contract.status == ContractStatus.DRAFT:
        _claim(contract, (ContractStatus.DRAFT,), current.id)
        lines = _load_lines(current)
        return current, {line.id: line.id for line in lines}
    _claim(contract, (ContractStatus.ACTIVE,), current.id)
    number = db.session.scalar(
        select(func.max(ContractRevision.number)).where(ContractRevision.contract_id == contract.id)
    )
    revision = ContractRevision(
        contract_id=contract.id,
        number=(number or 0) + 1,
        included_total=current.included_total,
        note=note,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(revision)
    db.session.flush()
    mapping: dict[int, int] = {}
    for line in _load_lines(current):
        copy = ContractLine(
            revision_id=revision.id,
            kind=line.kind,
            service_id=line.service_id,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            position=line.position,
        )
        db.session.add(copy)
        db.session.flush()
        mapping[line.id] = copy.id
    contract.current_revision_id = revision.id
    db.session.flush()
    _event(contract, "revised", staff=actor, detail=f"{revision.label}: {note}")
    return revision, mapping


def _renumber(lines: list[ContractLine], moved: ContractLine | None = None, position: int | None = None) -> None:
    """Number each kind's lines 1, 2, 3 ... with ``moved`` at ``position``."""
    for kind in LineKind.ALL:
        ordered = sorted((line for line in lines if line.kind == kind), key=lambda line: (line.position, line.id or 0))
        if moved is not None and moved.kind == kind:
            ordered = [line for line in ordered if line is not moved]
            index = len(ordered) if position is None else max(0, min(position - 1, len(ordered)))
            if position is None and moved.position:
                index = max(0, min(moved.position - 1, len(ordered)))
            ordered.insert(index, moved)
        for number, line in enumerate(ordered, start=1):
            if line.position != number:
                line.position = number


def _refresh_total(revision: ContractRevision) -> None:
    """Store the revision's included total (what lists show), refusing one that
    would not fit a MONEY column."""
    lines = _load_lines(revision)
    total = sum_money(line.amount for line in lines if line.kind == LineKind.INCLUDED)
    if not fits_money(total):
        raise InvalidInput(
            {"unit_price": _("With this service the contract's total would exceed %(max)s.", max=f"{MAX_MONEY:,}")}
        )
    revision.included_total = total
    db.session.flush()


def _note(action: str, clean: CleanLine) -> str:
    kind = _("included") if clean.kind == LineKind.INCLUDED else _("optional")
    return f"{action} {clean.service.name} ({kind})"


def add_line(actor: StaffUser, contract: Contract, data: LineInput) -> ContractLine:
    """Add a service (included or optional) to the contract's services."""
    clean = _clean_line(data)
    revision, _mapping = _revision_for_change(actor, contract, _note(_("Added"), clean))
    lines = _load_lines(revision)
    if len(lines) >= MAX_LINES:
        raise InvalidInput({"service_id": _("A contract lists at most %(n)d services.", n=MAX_LINES)})
    line = ContractLine(
        revision_id=revision.id,
        kind=clean.kind,
        service_id=clean.service.id,
        description=clean.description,
        quantity=clean.quantity,
        unit_price=clean.unit_price,
        position=0,
    )
    db.session.add(line)
    db.session.flush()
    _renumber([*lines, line], line, clean.position)
    _refresh_total(revision)
    return line


def _current_line(contract: Contract, line_id: int) -> ContractLine:
    line = db.session.get(ContractLine, line_id)
    if line is None or line.revision_id != contract.current_revision_id:
        raise NotAllowed(_("This service is not on the contract's current revision: reload the contract."))
    return line


def update_line(actor: StaffUser, contract: Contract, line_id: int, data: LineInput) -> ContractLine:
    """Change one service of the revision in force (an active contract: in a new revision)."""
    _current_line(contract, line_id)
    clean = _clean_line(data)
    revision, mapping = _revision_for_change(actor, contract, _note(_("Changed"), clean))
    line = db.session.get(ContractLine, mapping[line_id])
    line.kind = clean.kind
    line.service_id = clean.service.id
    line.description = clean.description
    line.quantity = clean.quantity
    line.unit_price = clean.unit_price
    db.session.flush()
    _renumber(_load_lines(revision), line, clean.position)
    _refresh_total(revision)
    return line


def remove_line(actor: StaffUser, contract: Contract, line_id: int) -> None:
    """Take one service off the revision in force (an active contract: in a new revision)."""
    old = _current_line(contract, line_id)
    service = db.session.get(CatalogItem, old.service_id)
    revision, mapping = _revision_for_change(actor, contract, f"{_('Removed')} {service.name}")
    db.session.delete(db.session.get(ContractLine, mapping[line_id]))
    db.session.flush()
    _renumber(_load_lines(revision))
    _refresh_total(revision)


# --- status ------------------------------------------------------------------------


def activate_contract(actor: StaffUser, contract: Contract, today: date | None = None) -> bool:
    """Draft -> active. False when it already is (a second tap changes nothing)."""
    today = today or date.today()
    if contract.status == ContractStatus.ACTIVE:
        return False
    if contract.status != ContractStatus.DRAFT:
        raise NotAllowed(_("Only a draft contract can be activated."))
    current = db.session.get(ContractRevision, contract.current_revision_id)
    if not any(line.kind == LineKind.INCLUDED for line in _load_lines(current)):
        raise NotAllowed(_("Add at least one included service before activating the contract."))
    if contract.ends_on < today:
        raise NotAllowed(
            _("This contract ended on %(day)s: change its end date first.", day=contract.ends_on.isoformat())
        )
    return _move(actor, contract, ContractStatus.DRAFT, ContractStatus.ACTIVE, "activated", activated_at=utcnow())


def cancel_contract(actor: StaffUser, contract: Contract, reason: str = "") -> bool:
    """Draft or active -> cancelled. False when it already is."""
    if contract.status == ContractStatus.CANCELLED:
        return False
    if contract.status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
        raise NotAllowed(_("An expired contract cannot be cancelled."))
    return _move(
        actor, contract, contract.status, ContractStatus.CANCELLED, "cancelled", detail=reason, cancelled_at=utcnow()
    )


def _move(actor, contract: Contract, source: str, target: str, event: str, detail: str = "", **values) -> bool:
    result = db.session.execute(
        update(Contract)
        .where(Contract.id == contract.id, Contract.status == source)
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(contract)
    if result.rowcount != 1:
        if contract.status == target:
            return False
        raise NotAllowed(_("This contract changed meanwhile: reload it and try again."))
    _event(contract, event, staff=actor, detail=detail)
    db.session.flush()
    return True


def expire_contracts(today: date | None = None) -> int:
    """Every active contract whose end date has passed becomes expired; the number
    expired. Idempotent: a second run (or a concurrent worker) finds none to move,
    since each row moves by a conditional update on its status."""
    today = today or date.today()
    ids = list(
        db.session.scalars(
            select(Contract.id).where(Contract.status == ContractStatus.ACTIVE, Contract.ends_on < today)
        )
    )
    expired = 0
    now = utcnow()
    for contract_id in ids:
        result = db.session.execute(
            update(Contract)
            .where(Contract.id == contract_id, Contract.status == ContractStatus.ACTIVE)
            .values(status=ContractStatus.EXPIRED, expired_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            record_event(Subject.CONTRACT, contract_id, "expired", detail=today.isoformat())
            expired += 1
    db.session.flush()
    return expired


# --- from a won opportunity ---------------------------------------------------------


def contract_of_opportunity(opportunity_id: int) -> Contract | None:
    return db.session.scalar(select(Contract).where(Contract.opportunity_id == opportunity_id).limit(1))


def signed_proposal_of(opportunity: Opportunity) -> Proposal | None:
    """The opportunity's signed proposal: the won one if any, else the latest signed."""
    return db.session.scalar(
        select(Proposal)
        .where(Proposal.opportunity_id == opportunity.id, Proposal.signed_at.is_not(None))
        .options(selectinload(Proposal.lines), selectinload(Proposal.signature))
        .order_by((Proposal.status == "won").desc(), Proposal.signed_at.desc(), Proposal.id.desc())
        .limit(1)
    )


def contract_sites(organization_id: int) -> list[Site]:
    """The properties a contract of the organization may be for: its active ones, by name."""
    return list(
        db.session.scalars(
            select(Site)
            .where(Site.organization_id == organization_id, Site.is_active.is_(True))
            .order_by(Site.name, Site.id)
        )
    )


def proposed_site_id(opportunity: Opportunity, sites: list[Site]) -> int | None:
    """The property "Make contract" offers first: the one of the contract the
    opportunity came from (a campaign's), else the first by name."""
    if opportunity.contract_id is not None:
        site_id = db.session.scalar(select(Contract.site_id).where(Contract.id == opportunity.contract_id))
        if any(site.id == site_id for site in sites):
            return site_id
    return sites[0].id if sites else None


def contract_from_opportunity(
    actor: StaffUser, opportunity: Opportunity, site_id: int | None = None, today: date | None = None
) -> Contract:
    """A draft contract from a won opportunity's signed proposal: its included lines and
    the options the customer ticked become included services, the options left unticked
    optional services at the price offered. One contract per opportunity: a second
    attempt is refused with the first one's number (a unique index holds it too)."""
    today = today or date.today()
    if opportunity.outcome != Outcome.WON:
        raise NotAllowed(_("Only a won opportunity makes a contract."))
    existing = contract_of_opportunity(opportunity.id)
    if existing is not None:
        raise NotAllowed(_("This opportunity already made contract %(number)s.", number=existing.number))
    if opportunity.organization_id is None:
        raise NotAllowed(_("Convert the lead into a customer first: a contract belongs to an organization."))
    proposal = signed_proposal_of(opportunity)
    if proposal is None or proposal.signature is None:
        raise NotAllowed(_("This opportunity has no signed proposal to make a contract from."))
    sites = contract_sites(opportunity.organization_id)
    if not sites:
        raise NotAllowed(_("Add a property to this organization first: a contract is for one property."))
    site_id = site_id if site_id is not None else proposed_site_id(opportunity, sites)
    site = next((site for site in sites if site.id == site_id), None)
    if site is None:
        raise NotAllowed(_("Choose one of this organization's active properties."))
    ticked = set(json.loads(proposal.signature.selected_line_ids))
    try:
        with db.session.begin_nested():
            contract = create_contract(
                actor,
                ContractInput(
                    organization_id=opportunity.organization_id,
                    site_id=site.id,
                    starts_on=today,
                    ends_on=today + timedelta(days=DEFAULT_TERM_DAYS - 1),
                    title=opportunity.title[:MAX_TITLE],
                    currency=proposal.currency if proposal.currency in CURRENCIES else "USD",
                    type_id=opportunity.type_id,
                ),
                today=today,
            )
            contract.opportunity_id = opportunity.id
            db.session.flush()
    except IntegrityError:
        raise NotAllowed(_("This opportunity already made a contract.")) from None
    revision = db.session.get(ContractRevision, contract.current_revision_id)
    skipped = 0
    positions = {LineKind.INCLUDED: 0, LineKind.OPTIONAL: 0}
    for line in proposal.lines:
        if line.catalog_item_id is None:
            skipped += 1  # free text: a contract lists catalog services only
            continue
        kind = LineKind.OPTIONAL if line.is_optional and line.id not in ticked else LineKind.INCLUDED
        positions[kind] += 1
        db.session.add(
            ContractLine(
                revision_id=revision.id,
                kind=kind,
                service_id=line.catalog_item_id,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                position=positions[kind],
            )
        )
    db.session.flush()
    revision.note = _("Made from %(proposal)s, as signed.", proposal=proposal.label)
    if skipped:
        revision.note += " " + _("%(n)d free-text lines left out (not catalog services).", n=skipped)
    _refresh_total(revision)
    _event(contract, "made_from_opportunity", staff=actor, detail=proposal.label)
    record_event(Subject.OPPORTUNITY, opportunity.id, "contract_made", staff=actor, detail=contract.number)
    return contract


# --- a won campaign opportunity back onto its contract -----------------------------


def revision_of_opportunity(opportunity_id: int) -> ContractRevision | None:
    """The revision a won opportunity's signed services added to its contract, if any."""
    return db.session.scalar(select(ContractRevision).where(ContractRevision.opportunity_id == opportunity_id))


def add_signed_services(actor: StaffUser, opportunity: Opportunity) -> ContractRevision:
    """A won opportunity made from a contract (a campaign's): the services its customer
    signed for (the proposal's included lines and the options ticked) become included
    services of that contract, at the signed quantity and price, in a new revision
    (a draft's v.0 itself); an optional service of the contract that was signed for
    moves from optional to included. Once per opportunity: a second attempt is refused
    with the revision it made (a unique key on the revision holds it too)."""
    if opportunity.outcome != Outcome.WON:
        raise NotAllowed(_("Only a won opportunity changes a contract."))
    if opportunity.contract_id is None:
        raise NotAllowed(_("This opportunity was not made from a contract."))
    contract = db.session.get(Contract, opportunity.contract_id)
    applied = revision_of_opportunity(opportunity.id)
    if applied is not None:
        raise NotAllowed(
            _("Already added to %(number)s in %(revision)s.", number=contract.number, revision=applied.label)
        )
    if contract.status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
        raise NotAllowed(
            _(
                "Contract %(number)s is %(status)s: make a new contract instead.",
                number=contract.number,
                status=status_label(contract.status),
            )
        )
    proposal = signed_proposal_of(opportunity)
    if proposal is None or proposal.signature is None:
        raise NotAllowed(_("This opportunity has no signed proposal to take the services from."))
    ticked = set(json.loads(proposal.signature.selected_line_ids))
    signed = [
        line
        for line in proposal.lines
        if line.catalog_item_id is not None and (not line.is_optional or line.id in ticked)
    ]
    if not signed:
        raise NotAllowed(_("The customer signed for no catalog service: there is nothing to add."))
    note = _("Added from %(proposal)s, as signed.", proposal=proposal.label)
    try:
        with db.session.begin_nested():
            revision, _mapping = _revision_for_change(actor, contract, note)
            revision.opportunity_id = opportunity.id
            db.session.flush()
    except IntegrityError:
        raise NotAllowed(_("This opportunity's services were added meanwhile: reload the page.")) from None
    lines = _load_lines(revision)
    offered = {line.service_id: line for line in lines if line.kind == LineKind.OPTIONAL}
    if len(lines) + len(signed) > MAX_LINES:
        raise InvalidInput({"service_id": _("A contract lists at most %(n)d services.", n=MAX_LINES)})
    for order, source in enumerate(signed, start=1):
        line = offered.pop(source.catalog_item_id, None)
        if line is None:
            line = ContractLine(revision_id=revision.id, service_id=source.catalog_item_id, position=0)
            db.session.add(line)
            lines.append(line)
        line.kind = LineKind.INCLUDED
        line.description = source.description
        line.quantity = source.quantity
        line.unit_price = source.unit_price
        line.position = MAX_LINES + order  # after the included services there, in the signed order
    db.session.flush()
    _renumber(lines)
    _refresh_total(revision)
    record_event(
        Subject.OPPORTUNITY,
        opportunity.id,
        "contract_changed",
        staff=actor,
        detail=f"{contract.number} {revision.label}",
    )
    return revision
