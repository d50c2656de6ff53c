"""Proposal operations: build, deliver, sign, decide, revise.

Every content change goes through ``_claim_edit``, a conditional update that bumps
``content_version`` only while the proposal is unsigned and undecided. Signing is a
conditional update on the version the contact saw. Whichever of the two reaches the
row first wins, on PostgreSQL and on SQLite alike (no reliance on ``FOR UPDATE``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from portal.core.counters import next_counter_value
from portal.core.db import utcnow
from portal.core.errors import AlreadySigned, ContentChanged, InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.i18n import languages
from portal.core.money import MAX_MONEY, fits_money, line_amount, round_money, sum_money
from portal.core.parsing import parse_decimal
from portal.core.urls import external_url
from portal.domains.customers.languages import mail_for_contact
from portal.domains.customers.models import Contact
from portal.domains.identity import links
from portal.domains.identity.models import PortalLink, StaffUser
from portal.domains.identity.staff import mail_for_staff
from portal.domains.proposals import evidence, signals
from portal.domains.proposals import signing as signatures
from portal.domains.proposals.models import (
    LOST_REASONS,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    CatalogItem,
    Proposal,
    ProposalLine,
    ProposalStatus,
    Signature,
)
from portal.domains.proposals.totals import Totals, compute_totals, parse_option_ids
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event
from portal.mail.outbox import queue_mail

# The wording the contact agrees to; bump the version whenever the text changes.
# Each language's translation is a wording of its own, with a version of its own:
# "esign-2026-11" is the English text, "esign-2026-11-es" the Spanish one (what a
# catalog says for this message). A signature stores the version of the language the
# contact read, and its hash covers that version.
CONSENT_VERSION = "esign-2026-11"


def consent_text() -> str:
    """The consent wording in the current locale (the page's, or ``force_locale``'s)."""
    return _(
        "I agree to sign this proposal electronically, and that my electronic "
        "signature is as binding as a handwritten one."
    )


def consent_version(locale: str | None = None) -> str:
    """The version of the consent wording in ``locale`` (default: the current one)."""
    language = str(locale or get_locale() or "en").split("_")[0]
    return CONSENT_VERSION if language == "en" else f"{CONSENT_VERSION}-{language}"


def consent_text_sha256(locale: str | None = None) -> str:
    """The SHA-256 of the exact consent wording shown in ``locale``: evidence of what
    was agreed to."""
    if locale is None:
        return hashlib.sha256(consent_text().encode()).hexdigest()
    with force_locale(locale):
        return hashlib.sha256(consent_text().encode()).hexdigest()


# --- loading ---------------------------------------------------------------


def load_proposal(proposal_id: int) -> Proposal | None:
    """A proposal with what its pages show, in a fixed number of queries."""
    return db.session.scalar(
        select(Proposal)
        .options(
            selectinload(Proposal.lines),
            joinedload(Proposal.contact),
            joinedload(Proposal.organization),
            joinedload(Proposal.sales_rep),
            selectinload(Proposal.signature).joinedload(Signature.contact),
        )
        .where(Proposal.id == proposal_id)
    )


def totals_of(proposal: Proposal, selected_ids=()) -> Totals:
    return compute_totals(proposal.lines, proposal.currency, selected_ids)


def signed_selection(signature: Signature) -> list[int]:
    return json.loads(signature.selected_line_ids)


@dataclass(frozen=True)
class ProposalStamp:
    """What identifies one version of a proposal as a contact sees it (a cache key)."""

    id: int
    organization_id: int
    currency: str
    status: str
    content_version: int
    updated_at: datetime
    signed_at: datetime | None
    sales_rep_name: str
    # The opportunity it quotes for, if any: a view of it is that opportunity's customer
    # activity (announced without another query).
    opportunity_id: int | None


# The columns of a ProposalStamp, in order (the portal's access query selects them too).
STAMP_COLUMNS = (
    Proposal.id,
    Proposal.organization_id,
    Proposal.currency,
    Proposal.status,
    Proposal.content_version,
    Proposal.updated_at,
    Proposal.signed_at,
    StaffUser.name,
    Proposal.opportunity_id,
)


@dataclass(frozen=True)
class PriceLine:
    id: int
    is_optional: bool
    amount: Decimal


_pricing_cache: dict[ProposalStamp, tuple[PriceLine, ...]] = {}


def pricing_lines(stamp: ProposalStamp) -> tuple[PriceLine, ...]:
    """The amounts behind a proposal's totals, cached per version (they cannot change
    without a new stamp), so an option toggle does not reload every line."""
    lines = _pricing_cache.get(stamp)
    if lines is None:
        rows = db.session.execute(
            select(ProposalLine.id, ProposalLine.is_optional, ProposalLine.quantity, ProposalLine.unit_price)
            .where(ProposalLine.proposal_id == stamp.id)
            .order_by(ProposalLine.position, ProposalLine.id)
        )
        lines = tuple(PriceLine(i, bool(o), line_amount(q, p)) for i, o, q, p in rows)
        if len(_pricing_cache) > 1024:
            _pricing_cache.clear()
        _pricing_cache[stamp] = lines
    return lines


# --- content hashing ---------------------------------------------------------


def content_document(proposal: Proposal) -> dict:
    """The canonical form of what a contact reads: every field that matters to a signer."""
    return {
        "proposal": proposal.id,
        "number": proposal.number,
        "revision": proposal.revision,
        "title": proposal.title,
        "currency": proposal.currency,
        "terms": proposal.terms,
        "lines": [
            [
                line.id,
                line.position,
                line.description,
                f"{line.quantity:.3f}",
                f"{line.unit_price:.2f}",
                bool(line.is_optional),
            ]
            for line in proposal.lines
        ],
    }


def _digest(document: dict) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def content_hash(proposal: Proposal) -> str:
    """What the sign form carries: the hash of the version the contact saw."""
    return _digest(content_document(proposal))


def signature_hash(proposal: Proposal, selected_ids, total: Decimal, consent_version: str) -> str:
    """The hash stored with a signature: content, selection, total and consent wording."""
    return _digest(
        {
            "content": content_document(proposal),
            "selected": sorted(selected_ids),
            "total": f"{total:.2f}",
            "consent": consent_version,
        }
    )


def signature_intact(signature: Signature, proposal: Proposal) -> bool:
    """Integrity check: does the stored hash still match the proposal as stored now?"""
    expected = signature_hash(proposal, signed_selection(signature), signature.signed_total, signature.consent_version)
    return expected == signature.content_hash


# --- building ----------------------------------------------------------------


PROPOSAL_NUMBER_COUNTER = "proposal_number"


def next_number() -> int:
    """The next proposal number, from a counter row incremented inside the transaction.

    ``max(number) + 1`` handed two simultaneous creations the same number (a 500 on
    the unique constraint); the counter row's update serializes them instead. The
    counter starts past the highest number already used.
    """
    return next_counter_value(
        PROPOSAL_NUMBER_COUNTER, start=lambda: db.session.scalar(select(func.max(Proposal.number))) or 1000
    )


def reserve_numbers(count: int) -> range:
    """``count`` consecutive proposal numbers reserved in one counter step (a batch of
    drafts: the campaign run)."""
    last = next_counter_value(
        PROPOSAL_NUMBER_COUNTER,
        start=lambda: db.session.scalar(select(func.max(Proposal.number))) or 1000,
        step=count,
    )
    return range(last - count + 1, last + 1)


def create_proposal(
    staff: StaffUser, contact: Contact, title: str, currency: str, terms: str = "", opportunity_id: int | None = None
) -> Proposal:
    """A new draft addressed to ``contact``, owned by ``staff`` as sales rep (linked to
    the sales opportunity it quotes, when made from one)."""
    title = (title or "").strip()
    if not title:
        raise InvalidInput({"title": _("Give the proposal a title.")})
    proposal = Proposal(
        number=next_number(),
        organization_id=contact.organization_id,
        contact_id=contact.id,
        sales_rep_id=staff.id,
        title=title[:200],
        currency=currency,
        terms=terms or "",
        opportunity_id=opportunity_id,
    )
    db.session.add(proposal)
    db.session.flush()
    _event(proposal, "created", staff=staff)
    return proposal


@dataclass
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    is_optional: bool = False
    position: int | None = None
    catalog_item_id: int | None = None


def _as_decimal(value) -> Decimal | None:
    """Forms hand over Decimals, but defaults and callers may pass ints or strings."""
    if value is None:
        return None
    # Generous digits: only what is not a plain number is refused here; the bounds
    # below say "at most ..." for a number too large for the columns.
    parsed = parse_decimal(value if isinstance(value, Decimal | int) else str(value), digits=40, places=0)
    return Decimal("NaN") if parsed is None else parsed  # NaN: "must be a number" below


def _clean_line(data: LineInput) -> LineInput:
    data = LineInput(
        data.description,
        _as_decimal(data.quantity),
        _as_decimal(data.unit_price),
        data.is_optional,
        data.position,
        data.catalog_item_id,
    )
    if data.quantity is not None and data.quantity.is_finite() and abs(data.quantity) <= MAX_QUANTITY:
        # Stored with three decimals (QUANTITY): round as the one rule does, then check,
        # so 0.0004 is refused as zero rather than stored as it.
        data.quantity = data.quantity.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    errors: dict[str, str] = {}
    item = None
    if data.catalog_item_id:
        item = db.session.get(CatalogItem, data.catalog_item_id)
        if item is None or not item.is_active:
            errors["catalog_item_id"] = _("Choose a service from the catalog, or none.")
    description = (data.description or "").strip() or (item.name if item else "")
    if not description:
        errors["description"] = _("Describe the line, or choose a service from the catalog.")
    if data.quantity is None or not data.quantity.is_finite() or data.quantity <= 0:
        errors["quantity"] = _("Quantity must be a number greater than zero.")
    elif data.quantity > MAX_QUANTITY:
        errors["quantity"] = _("Quantity can be at most %(max)s.", max=f"{MAX_QUANTITY:,}")
    price = data.unit_price
    if price is None and item is not None:
        price = item.unit_price
    if price is None or not price.is_finite() or price < 0:
        errors["unit_price"] = _("Unit price must be a number, zero or more.")
    elif price > MAX_UNIT_PRICE:
        errors["unit_price"] = _("Unit price can be at most %(max)s.", max=f"{MAX_UNIT_PRICE:,}")
    elif "quantity" not in errors and not fits_money(line_amount(data.quantity, price)):
        # Each factor may be in range while their product overflows the MONEY columns.
        errors["unit_price"] = _("Quantity times unit price can be at most %(max)s.", max=f"{MAX_MONEY:,}")
    if data.position is not None and data.position < 0:
        errors["position"] = _("Position must be zero or more.")
    if errors:
        raise InvalidInput(errors)
    return LineInput(
        description[:500],
        data.quantity,
        round_money(price),
        bool(data.is_optional),
        data.position,
        item.id if item else None,
    )


def _claim_edit(proposal: Proposal) -> None:
    """Bump the content version, or refuse if the proposal is signed or decided."""
    result = db.session.execute(
        update(Proposal)
        .where(
            Proposal.id == proposal.id,
            Proposal.signed_at.is_(None),
            Proposal.status.in_((ProposalStatus.DRAFT, ProposalStatus.DELIVERED)),
        )
        .values(content_version=Proposal.content_version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _reload_state(proposal)
        raise NotAllowed(_("This proposal is signed or decided and can no longer change. Make a new revision instead."))
    _reload_state(proposal)


def _check_total(proposal: Proposal, clean: LineInput, replacing: ProposalLine | None = None) -> None:
    """Refuse a line that would take the proposal's largest total (every line, all
    options ticked, as a signature may store it) past what a MONEY column holds."""
    amounts = [line.amount for line in proposal.lines if line is not replacing]
    amounts.append(line_amount(clean.quantity, clean.unit_price))
    if not fits_money(sum_money(amounts)):
        raise InvalidInput(
            {"unit_price": _("With this line the proposal's total would exceed %(max)s.", max=f"{MAX_MONEY:,}")}
        )


def _place(proposal: Proposal, line: ProposalLine, position: int | None) -> None:
    """Put ``line`` at ``position`` (None: keep it, or last for a new line) and number
    every line 1, 2, 3... so no two lines share a position."""
    ordered = sorted(proposal.lines, key=lambda other: (other.position, other.id or 0))
    if position is None:
        index = ordered.index(line) if line in ordered else len(ordered)
    else:
        index = position - 1
    others = [other for other in ordered if other is not line]
    others.insert(max(0, min(index, len(others))), line)
    for number, each in enumerate(others, start=1):
        if each.position != number:
            each.position = number


def refresh_totals(proposal: Proposal) -> None:
    """Store the proposal's included and optional totals (what the lists show).

    Every line edit passes here (add, update, remove, revision copy), so lists read
    two columns instead of summing ``proposal_lines`` on every request.
    """
    totals = compute_totals(proposal.lines, proposal.currency)
    proposal.included_total = totals.included
    proposal.optional_total = totals.options_available


def add_line(proposal: Proposal, data: LineInput) -> ProposalLine:
    clean = _clean_line(data)
    _check_total(proposal, clean)
    _claim_edit(proposal)
    line = ProposalLine(
        description=clean.description,
        quantity=clean.quantity,
        unit_price=clean.unit_price,
        is_optional=clean.is_optional,
        position=0,
        catalog_item_id=clean.catalog_item_id,
    )
    _place(proposal, line, clean.position)
    proposal.lines.append(line)
    refresh_totals(proposal)
    db.session.flush()
    return line


def update_line(proposal: Proposal, line: ProposalLine, data: LineInput) -> ProposalLine:
    clean = _clean_line(data)
    _check_total(proposal, clean, replacing=line)
    _claim_edit(proposal)
    line.description = clean.description
    line.quantity = clean.quantity
    line.unit_price = clean.unit_price
    line.is_optional = clean.is_optional
    line.catalog_item_id = clean.catalog_item_id
    _place(proposal, line, clean.position)
    refresh_totals(proposal)
    db.session.flush()
    return line


def remove_line(proposal: Proposal, line: ProposalLine) -> None:
    _claim_edit(proposal)
    proposal.lines.remove(line)
    for number, each in enumerate(proposal.lines, start=1):
        if each.position != number:
            each.position = number
    refresh_totals(proposal)
    db.session.flush()


def update_header(proposal: Proposal, title: str, terms: str, internal_notes: str) -> None:
    """Title and terms are content (the contact reads them); internal notes are not."""
    title = (title or "").strip()
    if not title:
        raise InvalidInput({"title": _("Give the proposal a title.")})
    if title != proposal.title or (terms or "") != proposal.terms:
        _claim_edit(proposal)
        proposal.title = title[:200]
        proposal.terms = terms or ""
    proposal.internal_notes = internal_notes or ""
    db.session.flush()


# --- delivering --------------------------------------------------------------


def deliver_proposal(proposal: Proposal, staff: StaffUser, contact: Contact | None = None) -> links.IssuedLink:
    """Mark delivered and mail ``contact`` (default: the addressee) a portal link.

    Delivering again, or to a second contact, issues a new link and leaves every
    earlier link working.
    """
    contact = contact or proposal.contact
    if proposal.status not in (ProposalStatus.DRAFT, ProposalStatus.DELIVERED) or proposal.signed_at:
        raise NotAllowed(_("Only a draft or an unsigned delivered proposal can be delivered."))
    if not proposal.lines:
        raise NotAllowed(_("Add at least one line before delivering."))
    if contact.organization_id != proposal.organization_id:
        raise InvalidInput({"contact_id": _("Choose a contact of %(org)s.", org=proposal.organization.name)})
    if not contact.has_portal_access:
        raise InvalidInput({"contact_id": _("This contact has no portal access.")})
    first = proposal.status == ProposalStatus.DRAFT
    if first:
        proposal.status = ProposalStatus.DELIVERED
        proposal.delivered_at = utcnow()
    issued = links.issue_link(contact, "proposal", proposal.id, created_by=staff)
    message = queue_mail(
        contact.email,
        _l("Proposal %(label)s from %(rep)s: %(title)s", label=proposal.label, rep=staff.name, title=proposal.title),
        "proposal_delivered",
        kind="proposal_delivered",
        **mail_for_contact(contact),
        contact=contact,
        proposal=proposal,
        staff=staff,
        url=external_url("links.open", token=issued.token),
        expires_at=issued.link.expires_at,
    )
    _event(proposal, "delivered", staff=staff, contact=contact, detail=contact.email)
    evidence.record_delivered(proposal, staff, contact, issued.link, message)
    db.session.flush()
    signals.proposal_delivered.send(proposal, staff=staff, contact=contact, first=first)
    return issued


def issue_proposal_link_to_copy(proposal: Proposal, staff: StaffUser) -> links.IssuedLink:
    """ "Copy a link for this contact": a link for the proposal's addressee that the staff
    member pastes into a mail of their own; on the timeline as issued by them."""
    if proposal.status == ProposalStatus.DRAFT:
        raise NotAllowed(_("Deliver the proposal first: the portal never shows drafts."))
    contact = proposal.contact
    issued = links.issue_link_to_copy(contact, "proposal", proposal.id, staff)
    _event(proposal, "link_copied", staff=staff, contact=contact, detail=contact.email)
    db.session.flush()
    return issued


# --- signing -----------------------------------------------------------------


@dataclass
class SignInput:
    option_ids: list[str]
    signer_name: str
    consent: bool
    signature_png: str
    strokes: str
    seen_hash: str
    ip: str | None = None
    user_agent: str | None = None
    # The version of the consent wording the page showed (its language); one that is
    # not a version of an offered language is ignored for the current locale's.
    consent_version: str | None = None


def sign_proposal(proposal: Proposal, contact: Contact, link: PortalLink | None, data: SignInput) -> Signature:
    """Record the contact's signature of exactly the content and selection they saw.

    Raises ``AlreadySigned`` on a second submit, ``ContentChanged`` when staff edited
    the proposal after the page was loaded, ``InvalidInput`` for anything the contact
    must fix, ``NotAllowed`` when the proposal is not open for signature.
    """
    if proposal.signed_at is not None:
        raise AlreadySigned()
    if proposal.status != ProposalStatus.DELIVERED:
        raise NotAllowed(_("This proposal is not open for signature."))
    if data.seen_hash != content_hash(proposal):
        raise ContentChanged()

    errors: dict[str, str] = {}
    option_ids, unknown = parse_option_ids(data.option_ids, proposal.lines)
    if unknown:
        errors["options"] = _("Some of the chosen options are not part of this proposal. Please review your choice.")
    name = " ".join((data.signer_name or "").split())
    if len(name) < 2:
        errors["signer_name"] = _("Type your full name.")
    elif len(name) > 200:
        errors["signer_name"] = _("That name is too long.")
    if not data.consent:
        errors["consent"] = _("Tick the box to agree to sign electronically.")
    png, error = signatures.decode_signature_png(data.signature_png)
    if error:
        errors["signature"] = error
    strokes, error = signatures.validate_strokes(data.strokes)
    if error and "signature" not in errors:
        errors["signature"] = error
    if errors:
        raise InvalidInput(errors)

    totals = totals_of(proposal, option_ids)
    versions = {consent_version(code): code for code in languages()}
    agreed = data.consent_version if data.consent_version in versions else consent_version()
    now = utcnow()
    won_row = (
        db.session.execute(
            update(Proposal)
            .where(
                Proposal.id == proposal.id,
                Proposal.signed_at.is_(None),
                Proposal.status == ProposalStatus.DELIVERED,
                Proposal.content_version == proposal.content_version,
            )
            .values(signed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not won_row:
        _reload_state(proposal)
        if proposal.signed_at is not None:
            raise AlreadySigned()
        raise ContentChanged()
    signature = Signature(
        proposal_id=proposal.id,
        contact_id=contact.id,
        portal_link_id=link.id if link else None,
        signer_name=name,
        image_png=png,
        strokes_json=strokes,
        selected_line_ids=json.dumps(list(totals.selected_ids)),
        signed_total=totals.total,
        currency=proposal.currency,
        content_hash=signature_hash(proposal, totals.selected_ids, totals.total, agreed),
        consent_version=agreed,
        signed_at=now,
        ip=(data.ip or "")[:64] or None,
        user_agent=(data.user_agent or "")[:400] or None,
    )
    db.session.add(signature)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the unique proposal_id: someone else got there first
        raise AlreadySigned() from exc
    _reload_state(proposal)
    _event(proposal, "signed", contact=contact, detail=name)
    # The evidence holds the wording of the version agreed to, in the language shown.
    shown = versions.get(agreed) or str(get_locale())
    with force_locale(shown):
        wording = consent_text()
    evidence.record_signing(proposal, signature, contact, link, wording, shown)
    rep = proposal.sales_rep
    queue_mail(
        rep.email,
        _l("Proposal %(label)s signed by %(name)s", label=proposal.label, name=name),
        "proposal_signed",
        kind="proposal_signed",
        **mail_for_staff(rep),
        proposal=proposal,
        signature=signature,
        totals=totals,
        rep=rep,
        url=external_url("admin.proposals.show", proposal_id=proposal.id),
    )
    db.session.flush()
    signals.proposal_signed.send(proposal, contact=contact, signature=signature)
    return signature


# --- deciding and revising ---------------------------------------------------


def _decide(proposal: Proposal, staff: StaffUser, status: str, **values) -> None:
    now = utcnow()
    result = db.session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.status == ProposalStatus.DELIVERED)
        .values(status=status, decided_at=now, decided_by_id=staff.id, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    _reload_state(proposal)
    if result.rowcount != 1:
        raise NotAllowed(_("Only a delivered proposal can be marked won or lost."))


def mark_won(proposal: Proposal, staff: StaffUser) -> None:
    """A staff decision, recorded as such; it is never the customer's signature."""
    _decide(proposal, staff, ProposalStatus.WON)
    _event(proposal, "won", staff=staff)
    db.session.flush()
    signals.proposal_won.send(proposal, staff=staff)


def mark_lost(proposal: Proposal, staff: StaffUser, reason: str, competitor: str = "", detail: str = "") -> None:
    if reason not in LOST_REASONS:
        raise InvalidInput({"reason": _("Choose a reason from the list.")})
    _decide(
        proposal,
        staff,
        ProposalStatus.LOST,
        lost_reason=reason,
        lost_competitor=(competitor or "").strip()[:200] or None,
        lost_detail=(detail or "").strip() or None,
    )
    _event(proposal, "lost", staff=staff, detail=reason)
    db.session.flush()
    signals.proposal_lost.send(
        proposal,
        staff=staff,
        reason=reason,
        competitor=proposal.lost_competitor or "",
        detail=proposal.lost_detail or "",
    )


def create_revision(proposal: Proposal, staff: StaffUser) -> Proposal:
    """A new draft revision with the same lines; the old one keeps its signature."""
    if proposal.status not in (ProposalStatus.DELIVERED, ProposalStatus.LOST):
        raise NotAllowed(_("Only a delivered or lost proposal can be revised; edit a draft directly."))
    result = db.session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.status == proposal.status)
        .values(status=ProposalStatus.SUPERSEDED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise NotAllowed(_("This proposal changed meanwhile; reload the page."))
    _reload_state(proposal)
    latest = db.session.scalar(select(func.max(Proposal.revision)).where(Proposal.number == proposal.number))
    revision = Proposal(
        number=proposal.number,
        revision=(latest or proposal.revision) + 1,
        previous_id=proposal.id,
        organization_id=proposal.organization_id,
        contact_id=proposal.contact_id,
        sales_rep_id=proposal.sales_rep_id,
        opportunity_id=proposal.opportunity_id,
        title=proposal.title,
        currency=proposal.currency,
        terms=proposal.terms,
        internal_notes=proposal.internal_notes,
        included_total=proposal.included_total,
        optional_total=proposal.optional_total,
    )
    for line in proposal.lines:
        revision.lines.append(
            ProposalLine(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                is_optional=line.is_optional,
                position=line.position,
                catalog_item_id=line.catalog_item_id,
            )
        )
    refresh_totals(revision)
    db.session.add(revision)
    db.session.flush()
    _event(proposal, "superseded", staff=staff, detail=revision.label)
    _event(revision, "created", staff=staff, detail=_("revision of %(label)s", label=proposal.label))
    return revision


def latest_revision_id(proposal: Proposal) -> int | None:
    """The id of the newest revision of the same number, if it is not this one."""
    newest = db.session.scalar(
        select(Proposal.id).where(Proposal.number == proposal.number).order_by(Proposal.revision.desc()).limit(1)
    )
    return newest if newest != proposal.id else None


STATE_COLUMNS = [
    "status",
    "signed_at",
    "content_version",
    "decided_at",
    "decided_by_id",
    "updated_at",
    "lost_reason",
    "lost_competitor",
    "lost_detail",
    "delivered_at",
]


def _reload_state(proposal: Proposal) -> None:
    """Re-read the state columns after a conditional update (relationships stay loaded)."""
    db.session.refresh(proposal, STATE_COLUMNS)


def _event(
    proposal: Proposal, kind: str, staff: StaffUser | None = None, contact: Contact | None = None, detail: str = ""
) -> None:
    record_event(Subject.PROPOSAL, proposal.id, kind, staff=staff, contact=contact, detail=detail)
    evidence.follow_timeline(proposal, kind, staff=staff, contact=contact, detail=detail)
