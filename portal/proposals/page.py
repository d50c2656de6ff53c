"""The portal proposal page's view model: what the template reads, and nothing else.

The render cache stores the page under a ``ProposalPageKey``. Every field of
``ProposalPage`` is either copied from that key or loaded by the proposal's id from
content that cannot change without a new ``stamp`` in the key (lines, title and
terms bump ``content_version``; a signature sets ``signed_at``; a number and
revision never change). So two requests with equal keys see the same page, and any
change the page would show is a new key. The template gets only these frozen
dataclasses, never an ORM object, so it cannot lazy-load something the key misses
(a guard test renders with every relationship raising).

The names come from the key because they live in other rows: a staff member
renaming a sub-organization changes no proposal column, and the page of a
tree-level contact shows that sub-organization's name (the old key held only the
contact's own organization's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import get_locale, get_timezone
from sqlalchemy import and_, bindparam, select

from portal.access import PortalAccess
from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.proposals import operations as service
from portal.domains.proposals.models import Proposal, ProposalLine, ProposalStatus, Signature
from portal.domains.proposals.operations import ProposalStamp
from portal.domains.proposals.selection import ProposalSelection, decode_line_ids
from portal.domains.proposals.totals import Totals, compute_totals


@dataclass(frozen=True)
class ProposalPageKey:
    """Everything the page depends on that is not versioned by the proposal's stamp."""

    stamp: ProposalStamp  # id, status, content version, updated/signed time, currency, rep's name
    organization_name: str  # the proposal's organization (a sub-organization, for a tree-level contact)
    contact_id: int
    contact_name: str
    contact_organization_name: str
    selected: tuple[int, ...]  # this contact's kept selection
    signed_in: bool
    locale: str
    timezone: str
    just_signed: bool  # ?signed=1 after the redirect: the thank-you line
    refreshed: bool  # ?refreshed=1 after an expired token on a toggle: say so


@dataclass(frozen=True)
class LineView:
    id: int
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    is_optional: bool

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class SignatureView:
    contact_id: int
    signer_name: str
    signed_at: datetime
    selected_ids: tuple[int, ...]


@dataclass(frozen=True)
class ProposalPage:
    """The proposal as one contact reads it now."""

    id: int
    number: int
    revision: int
    label: str
    title: str
    terms: str
    currency: str
    status: str
    organization_name: str
    sales_rep_name: str
    contact_name: str
    contact_organization_name: str
    lines: tuple[LineView, ...]
    signature: SignatureView | None
    totals: Totals
    seen_hash: str
    consent_text: str
    consent_version: str
    can_sign: bool
    superseded: bool
    signed_in: bool
    just_signed: bool
    refreshed: bool

    @property
    def included_lines(self) -> tuple[LineView, ...]:
        return tuple(line for line in self.lines if not line.is_optional)

    @property
    def optional_lines(self) -> tuple[LineView, ...]:
        return tuple(line for line in self.lines if line.is_optional)

    def line_descriptions(self, ids) -> list[str]:
        chosen = set(ids)
        return [line.description for line in self.lines if line.id in chosen]


# The facts of the key that the access check does not read: one round trip.
_KEY_FACTS = (
    select(Organization.name, ProposalSelection.line_ids)
    .select_from(Organization)
    .outerjoin(
        ProposalSelection,
        and_(
            ProposalSelection.proposal_id == bindparam("proposal_id"),
            ProposalSelection.contact_id == bindparam("contact_id"),
        ),
    )
    .where(Organization.id == bindparam("organization_id"))
)
_HEADER = select(Proposal.number, Proposal.revision, Proposal.title, Proposal.terms).where(
    Proposal.id == bindparam("proposal_id")
)
_LINES = (
    select(
        ProposalLine.id,
        ProposalLine.position,
        ProposalLine.description,
        ProposalLine.quantity,
        ProposalLine.unit_price,
        ProposalLine.is_optional,
    )
    .where(ProposalLine.proposal_id == bindparam("proposal_id"))
    .order_by(ProposalLine.position, ProposalLine.id)
)
_SIGNATURE = select(
    Signature.contact_id, Signature.signer_name, Signature.signed_at, Signature.selected_line_ids
).where(Signature.proposal_id == bindparam("proposal_id"))


def page_key(
    stamp: ProposalStamp,
    access: PortalAccess,
    signed_in: bool,
    just_signed: bool = False,
    refreshed: bool = False,
    selected: tuple[int, ...] | None = None,
) -> ProposalPageKey:
    """The key of this contact's page: the stamp, the names and the kept selection
    (or ``selected``, what a form just sent)."""
    row = access.page_facts  # read with the access check (one query per cached page)
    if row is None:
        params = {"proposal_id": stamp.id, "contact_id": access.contact_id, "organization_id": stamp.organization_id}
        row = db.session.connection().execute(_KEY_FACTS, params).first()
    organization_name, kept = row if row is not None else ("", None)
    return ProposalPageKey(
        stamp=stamp,
        organization_name=organization_name,
        contact_id=access.contact_id,
        contact_name=access.contact_name,
        contact_organization_name=access.organization_name,
        selected=tuple(selected) if selected is not None else decode_line_ids(kept),
        signed_in=signed_in,
        locale=str(get_locale()),
        timezone=str(get_timezone()),
        just_signed=just_signed,
        refreshed=refreshed,
    )


def _label(number: int, revision: int) -> str:
    # As Proposal.label.
    return f"P-{number}" if revision == 1 else f"P-{number} rev {revision}"


def build_page(key: ProposalPageKey) -> ProposalPage:
    """The view model for ``key``, from explicit columns (no ORM object escapes)."""
    stamp = key.stamp
    connection = db.session.connection()
    params = {"proposal_id": stamp.id}
    number, revision, title, terms = connection.execute(_HEADER, params).one()
    lines = tuple(LineView(*row) for row in connection.execute(_LINES, params))
    signature = None
    if stamp.signed_at is not None:
        row = connection.execute(_SIGNATURE, params).first()
        if row is not None:
            signature = SignatureView(row[0], row[1], row[2], decode_line_ids(row[3]))
    selected = signature.selected_ids if signature else key.selected
    content = _Content(stamp.id, number, revision, title, stamp.currency, terms, lines)
    return ProposalPage(
        id=stamp.id,
        number=number,
        revision=revision,
        label=_label(number, revision),
        title=title,
        terms=terms,
        currency=stamp.currency,
        status=stamp.status,
        organization_name=key.organization_name,
        sales_rep_name=stamp.sales_rep_name,
        contact_name=key.contact_name,
        contact_organization_name=key.contact_organization_name,
        lines=lines,
        signature=signature,
        totals=compute_totals(lines, stamp.currency, selected),
        seen_hash=service.content_hash(content),
        consent_text=service.consent_text(),
        consent_version=service.consent_version(),
        can_sign=stamp.status == ProposalStatus.DELIVERED and stamp.signed_at is None,
        superseded=stamp.status == ProposalStatus.SUPERSEDED,
        signed_in=key.signed_in,
        just_signed=key.just_signed and signature is not None,
        refreshed=key.refreshed,
    )


@dataclass(frozen=True)
class _Content:
    """The fields ``content_hash`` reads, from the same columns the page shows, so the
    hash the form carries is the hash the sign check computes from the ORM rows."""

    id: int
    number: int
    revision: int
    title: str
    currency: str
    terms: str
    lines: tuple[LineView, ...]
