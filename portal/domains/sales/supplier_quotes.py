"""Supplier quotations: ask suppliers for prices on an opportunity's items, take their
answers once, compare them, and copy the chosen prices into a proposal as line costs.

Links follow the portal link rules (``identity.links``): 32 random bytes, only the
SHA-256 stored, an expiry (``SUPPLIER_QUOTE_DAYS``, 14 by default), one request per
link. Opening one (GET) writes nothing. Submitting is a conditional update of
``submitted_at`` on a request still open and unexpired, so a second submit, a second
tab or two at once end with exactly one answer; the loser is told, nothing changes.
An expired, unanswered request can be renewed: a new link, mailed to the address on
file (never a typed one), and the old link stops working.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload, selectinload

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.money import MAX_MONEY, round_money
from portal.core.parsing import parse_decimal
from portal.core.urls import external_url
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.links import hash_token
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.sales import costs
from portal.domains.sales.models import Opportunity, OpportunityLine
from portal.domains.sales.models_more import SupplierQuoteLine, SupplierQuoteRequest
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event
from portal.mail.outbox import queue_mail

DEFAULT_DAYS = 14
MAX_LEAD_TIME_DAYS = 3650
MAX_NOTE = 2000
MAX_CONTACTS = 20


class AlreadySubmitted(NotAllowed):
    """The request was answered already (a second submit, another tab)."""


class QuoteExpired(NotAllowed):
    """The link's time ran out before the answer came."""


@dataclass(frozen=True)
class IssuedQuote:
    request: SupplierQuoteRequest
    token: str  # shown once, in the email; never stored


def _lifetime() -> timedelta:
    return timedelta(days=int(current_app.config.get("SUPPLIER_QUOTE_DAYS") or DEFAULT_DAYS))


def supplier_contacts(limit: int = 200) -> list[Contact]:
    """Active contacts (with an address) of active organizations flagged as suppliers."""
    return list(
        db.session.scalars(
            select(Contact)
            .join(Organization, Organization.id == Contact.organization_id)
            .options(joinedload(Contact.organization))
            .where(Organization.is_supplier.is_(True), Organization.is_active.is_(True), Contact.is_active.is_(True))
            .where(Contact.email != "")
            .order_by(Organization.name, Contact.last_name, Contact.first_name, Contact.id)
            .limit(limit)
        )
    )


def _opportunity_lines(opportunity: Opportunity) -> list[OpportunityLine]:
    return list(
        db.session.scalars(
            select(OpportunityLine)
            .where(OpportunityLine.opportunity_id == opportunity.id)
            .order_by(OpportunityLine.position, OpportunityLine.id)
        )
    )


def _mail_request(request: SupplierQuoteRequest, contact: Contact, opportunity: Opportunity, token: str, staff) -> None:
    queue_mail(
        contact.email,
        _("Request for prices: %(title)s", title=opportunity.title),
        "supplier_quote_request",
        kind="supplier_quote_request",
        contact=contact,
        request=request,
        opportunity=opportunity,
        staff=staff,
        url=external_url("supplier_quotes.show", token=token),
        expires_at=request.expires_at,
    )


def request_supplier_quotes(
    opportunity: Opportunity, contact_ids, staff: StaffUser, message: str = ""
) -> list[IssuedQuote]:
    """Ask each chosen supplier contact for prices on the opportunity's items: one
    request, one link and one email per contact (queued in this transaction)."""
    if opportunity.is_closed:
        raise NotAllowed(_("This opportunity is closed: reopen it before asking suppliers for prices."))
    wanted = sorted({int(i) for i in contact_ids})
    errors: dict[str, str] = {}
    if not wanted:
        errors["contact_ids"] = _("Choose at least one supplier contact.")
    elif len(wanted) > MAX_CONTACTS:
        errors["contact_ids"] = _("Ask at most %(n)s contacts at once.", n=MAX_CONTACTS)
    lines = _opportunity_lines(opportunity)
    if not lines:
        errors["contact_ids"] = _("Add items to the opportunity first: suppliers quote on its items.")
    message = (message or "").strip()
    if len(message) > MAX_NOTE:
        errors["message"] = _("The message can have at most %(n)s characters.", n=MAX_NOTE)
    contacts = []
    if wanted and not errors:
        allowed = {c.id: c for c in supplier_contacts(limit=10_000) if c.id in set(wanted)}
        if set(wanted) - set(allowed):
            errors["contact_ids"] = _("Choose contacts of active suppliers from the list.")
        contacts = [allowed[i] for i in wanted if i in allowed]
    if errors:
        raise InvalidInput(errors)
    issued = []
    for contact in contacts:
        token = secrets.token_urlsafe(32)
        request = SupplierQuoteRequest(
            opportunity_id=opportunity.id,
            organization_id=contact.organization_id,
            contact_id=contact.id,
            token_hash=hash_token(token),
            currency=opportunity.currency,
            message=message,
            expires_at=utcnow() + _lifetime(),
            created_by_id=staff.id,
        )
        request.lines = [
            SupplierQuoteLine(
                opportunity_line_id=line.id,
                position=number,
                description=line.description,
                quantity=line.quantity,
            )
            for number, line in enumerate(lines, start=1)
        ]
        db.session.add(request)
        db.session.flush()
        _mail_request(request, contact, opportunity, token, staff)
        record_event(
            Subject.OPPORTUNITY,
            opportunity.id,
            "supplier_quote_requested",
            staff=staff,
            detail=f"{contact.organization.name}: {contact.full_name} <{contact.email}>",
        )
        issued.append(IssuedQuote(request, token))
    db.session.flush()
    return issued


def load_request(request_id: int) -> SupplierQuoteRequest | None:
    return db.session.scalar(
        select(SupplierQuoteRequest)
        .options(
            selectinload(SupplierQuoteRequest.lines),
            joinedload(SupplierQuoteRequest.contact),
            joinedload(SupplierQuoteRequest.organization),
            joinedload(SupplierQuoteRequest.opportunity),
        )
        .where(SupplierQuoteRequest.id == request_id)
    )


def find_request(token: str) -> SupplierQuoteRequest | None:
    """The request behind a link's token (open, answered or expired: the caller says which)."""
    if not token or len(token) > 200:
        return None
    request_id = db.session.scalar(
        select(SupplierQuoteRequest.id).where(SupplierQuoteRequest.token_hash == hash_token(token))
    )
    return load_request(request_id) if request_id else None


@dataclass
class AnswerInput:
    """What a supplier typed: per request line id, a unit price and a lead time (texts)."""

    prices: dict[int, str] = field(default_factory=dict)
    lead_times: dict[int, str] = field(default_factory=dict)
    note: str = ""


def _clean_answer(request: SupplierQuoteRequest, data: AnswerInput) -> dict[int, tuple[Decimal | None, int | None]]:
    errors: dict[str, str] = {}
    clean: dict[int, tuple[Decimal | None, int | None]] = {}
    for line in request.lines:
        price_text = (data.prices.get(line.id) or "").strip()
        lead_text = (data.lead_times.get(line.id) or "").strip()
        price = lead = None
        if price_text:
            price = parse_decimal(price_text, digits=12, places=2)
            if price is None or price < 0:
                errors[f"price_{line.id}"] = _("Enter the unit price as a number, zero or more (e.g. 12.50).")
                price = None
            elif round_money(price) > MAX_MONEY:
                errors[f"price_{line.id}"] = _("The unit price can be at most %(max)s.", max=f"{MAX_MONEY:,}")
                price = None
            else:
                price = round_money(price)
        if lead_text:
            if not (lead_text.isascii() and lead_text.isdigit()) or int(lead_text) > MAX_LEAD_TIME_DAYS:
                errors[f"lead_{line.id}"] = _(
                    "Enter the lead time in whole days, from 0 to %(max)s.", max=MAX_LEAD_TIME_DAYS
                )
            else:
                lead = int(lead_text)
        if lead is not None and price is None and f"price_{line.id}" not in errors:
            errors[f"price_{line.id}"] = _("Give a unit price for an item you give a lead time for.")
        clean[line.id] = (price, lead)
    if not errors and all(price is None for price, _lead in clean.values()):
        errors[""] = _("Give a unit price for at least one item.")
    if len(data.note or "") > MAX_NOTE:
        errors["note"] = _("The note can have at most %(n)s characters.", n=MAX_NOTE)
    if errors:
        raise InvalidInput(errors)
    return clean


def submit_supplier_quote(request: SupplierQuoteRequest, data: AnswerInput) -> None:
    """Store the supplier's answer, once. Raises ``InvalidInput`` (nothing stored),
    ``AlreadySubmitted`` or ``QuoteExpired``."""
    clean = _clean_answer(request, data)
    now = utcnow()
    claimed = db.session.execute(
        update(SupplierQuoteRequest)
        .where(
            SupplierQuoteRequest.id == request.id,
            SupplierQuoteRequest.submitted_at.is_(None),
            SupplierQuoteRequest.expires_at > now,
        )
        .values(submitted_at=now, note=(data.note or "").strip())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.refresh(request, ["submitted_at", "expires_at"])
        if request.submitted_at is not None:
            raise AlreadySubmitted(_("These prices were already sent; nothing was changed."))
        raise QuoteExpired(_("This request expired before the prices were sent."))
    for line in request.lines:
        line.unit_price, line.lead_time_days = clean[line.id]
    db.session.flush()
    db.session.refresh(request, ["submitted_at", "note"])
    record_event(
        Subject.OPPORTUNITY,
        request.opportunity_id,
        "supplier_quote_answered",
        detail=f"{request.organization.name}: {request.contact.full_name}",
    )


def renew_supplier_link(request: SupplierQuoteRequest) -> IssuedQuote:
    """A new link for an expired, unanswered request, mailed to the contact on file;
    the old link stops working (its hash is replaced)."""
    if request.submitted_at is not None:
        raise AlreadySubmitted(_("These prices were already sent; there is nothing more to do."))
    contact = request.contact
    if not contact.is_active:
        raise NotAllowed(_("This request can no longer be answered."))
    token = secrets.token_urlsafe(32)
    request.token_hash = hash_token(token)
    request.expires_at = utcnow() + _lifetime()
    db.session.flush()
    _mail_request(request, contact, request.opportunity, token, None)
    record_event(Subject.OPPORTUNITY, request.opportunity_id, "supplier_quote_renewed", detail=contact.email)
    return IssuedQuote(request, token)


# --- comparing and copying -------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    request_id: int
    unit_price: Decimal | None
    lead_time_days: int | None
    cheapest: bool


@dataclass(frozen=True)
class ComparedItem:
    opportunity_line_id: int | None
    position: int
    description: str
    quantity: Decimal
    offers: tuple[Offer | None, ...]  # one per answered request (None: not asked on this item)

    @property
    def cheapest_request_id(self) -> int | None:
        return next((o.request_id for o in self.offers if o is not None and o.cheapest), None)


@dataclass(frozen=True)
class Comparison:
    answered: list[SupplierQuoteRequest]
    waiting: list[SupplierQuoteRequest]
    items: list[ComparedItem]

    @property
    def requests(self) -> list[SupplierQuoteRequest]:
        return self.answered + self.waiting


def requests_for(opportunity_id: int) -> list[SupplierQuoteRequest]:
    """Every request of an opportunity with its lines, supplier and contact (3 statements)."""
    return list(
        db.session.scalars(
            select(SupplierQuoteRequest)
            .options(
                selectinload(SupplierQuoteRequest.lines),
                joinedload(SupplierQuoteRequest.contact),
                joinedload(SupplierQuoteRequest.organization),
            )
            .where(SupplierQuoteRequest.opportunity_id == opportunity_id)
            .order_by(SupplierQuoteRequest.id)
        )
    )


def compare(opportunity: Opportunity) -> Comparison:
    """The answers side by side, one row per item asked about (the opportunity's current
    items first, in their order; items since removed after), the cheapest unit price
    per item marked (ties: each cheapest one)."""
    requests = requests_for(opportunity.id)
    answered = [r for r in requests if r.submitted_at is not None]
    waiting = [r for r in requests if r.submitted_at is None]
    current = {line.id: line for line in _opportunity_lines(opportunity)}
    keys: dict[object, tuple[int, str, Decimal, int | None]] = {}
    for line in current.values():
        keys[line.id] = (line.position, line.description, line.quantity, line.id)
    for request in answered:
        for line in request.lines:
            key = line.opportunity_line_id if line.opportunity_line_id in current else ("gone", line.description)
            keys.setdefault(key, (10**6 + line.position, line.description, line.quantity, None))
    items = []
    for key, (position, description, quantity, line_id) in sorted(keys.items(), key=lambda kv: (kv[1][0], str(kv[0]))):
        found: list[SupplierQuoteLine | None] = []
        for request in answered:
            match = next(
                (
                    line
                    for line in request.lines
                    if (line.opportunity_line_id == key)
                    or (
                        not isinstance(key, int)
                        and line.description == key[1]
                        and line.opportunity_line_id not in current
                    )
                ),
                None,
            )
            found.append(match)
        prices = [line.unit_price for line in found if line is not None and line.unit_price is not None]
        low = min(prices) if prices else None
        offers = tuple(
            None
            if line is None
            else Offer(request.id, line.unit_price, line.lead_time_days, low is not None and line.unit_price == low)
            for request, line in zip(answered, found, strict=True)
        )
        items.append(ComparedItem(line_id, position, description, quantity, offers))
    return Comparison(answered, waiting, items)


@dataclass(frozen=True)
class CopyResult:
    copied: int
    unmatched: list[str]


def copy_costs_to_proposal(
    opportunity: Opportunity, proposal: Proposal, choices: dict[int, int], staff: StaffUser
) -> CopyResult:
    """Copy the chosen supplier prices (per opportunity line id, the request id chosen)
    into ``proposal``'s lines as unit costs. A proposal line matches an item by its
    description (Make proposal copies them), else by the same position; an item with
    no matching line is reported, not guessed."""
    if proposal.opportunity_id != opportunity.id:
        raise NotAllowed(_("This proposal is not one of this opportunity's."))
    answered = {r.id: r for r in requests_for(opportunity.id) if r.submitted_at is not None}
    items = {line.id: line for line in _opportunity_lines(opportunity)}
    errors: dict[str, str] = {}
    prices: dict[int, tuple[Decimal, str]] = {}
    for line_id, request_id in choices.items():
        if line_id not in items:
            continue
        request = answered.get(request_id)
        offer = next((x for x in request.lines if x.opportunity_line_id == line_id), None) if request else None
        if offer is None or offer.unit_price is None:
            errors[f"choice_{line_id}"] = _("Choose a supplier who quoted this item.")
            continue
        if request.currency != proposal.currency:
            errors[f"choice_{line_id}"] = _(
                "This price is in %(a)s and the proposal in %(b)s: type the cost yourself.",
                a=request.currency,
                b=proposal.currency,
            )
            continue
        prices[line_id] = (offer.unit_price, request.organization.name)
    if errors:
        raise InvalidInput(errors)
    if not prices:
        raise InvalidInput({"": _("Choose a supplier's price for at least one item.")})
    lines = list(proposal.lines)
    used: set[int] = set()
    copied, unmatched = 0, []
    ordered = sorted(items.values(), key=lambda line: (line.position, line.id))
    for index, item in enumerate(ordered):
        if item.id not in prices:
            continue
        target = next((p for p in lines if p.id not in used and p.description == item.description), None)
        if target is None and index < len(lines) and lines[index].id not in used:
            target = lines[index]
        if target is None:
            unmatched.append(item.description)
            continue
        used.add(target.id)
        price, supplier = prices[item.id]
        costs.set_line_cost(target, price, staff, source=supplier)
        copied += 1
    db.session.flush()
    return CopyResult(copied, unmatched)
