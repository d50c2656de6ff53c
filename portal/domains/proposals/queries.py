"""The portal home's lists: what a contact may see, as customer-facing columns only.

The rows are built from an allow-list of columns, not from ORM objects, so the
template cannot reach a staff-only field (internal notes, costs) even by mistake, and
cannot lazy-load anything: the page costs the same few queries for 3 or 3,000
proposals.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, case, func, or_
from sqlalchemy.orm import joinedload

from portal.core.extensions import db
from portal.core.money import round_money
from portal.domains.customers.models import Organization
from portal.domains.proposals.models import Proposal, ProposalStatus, Signature

HOME_LIMIT = 50
ADMIN_PER_PAGE = 25
SIGNED_FILTER = "signed"  # not a status: any proposal with a signature
STATUS_FILTERS = (*ProposalStatus.ALL, SIGNED_FILTER)


# --- keyset cursors ------------------------------------------------------------
# A page starts after a (sort time, id) pair, never at an OFFSET: the database
# walks the index from there, however deep the page.


def encode_cursor(when: datetime, row_id: int) -> str:
    raw = json.dumps([when.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (time, id) a cursor carries; None for a missing or malformed one (first page)."""
    if not cursor:
        return None
    try:
        when, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(when), int(row_id)
    except (ValueError, TypeError):
        return None


def _after(column, cursor: tuple[datetime, int] | None) -> ColumnElement[bool] | None:
    """Rows after ``cursor`` in (column desc, id desc) order."""
    if cursor is None:
        return None
    when, row_id = cursor
    return or_(column < when, and_(column == when, Proposal.id < row_id))


def _page(stmt: Select, column, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One keyset page of ``stmt`` ordered by (column, id) newest first, and the next cursor."""
    condition = _after(column, decode_cursor(cursor))
    if condition is not None:
        stmt = stmt.where(condition)
    rows = list(db.session.execute(stmt.order_by(column.desc(), Proposal.id.desc()).limit(limit + 1)).unique())
    more = len(rows) > limit
    return rows[:limit], more


# --- the portal home -------------------------------------------------------------


@dataclass(frozen=True)
class HomeProposal:
    """One proposal as the portal home shows it (the page's allow-list)."""

    id: int
    label: str
    title: str
    organization_name: str
    status: str
    currency: str
    delivered_at: datetime | None
    signed_at: datetime | None
    total: Decimal  # the estimate (included lines) before signing; the signed total after


@dataclass(frozen=True)
class HomeProposals:
    awaiting: list[HomeProposal]
    signed: list[HomeProposal]
    awaiting_next: str | None  # cursor of the next page of each section
    signed_next: str | None
    limit: int

    @property
    def more_awaiting(self) -> bool:
        return self.awaiting_next is not None

    @property
    def more_signed(self) -> bool:
        return self.signed_next is not None


def _label(number: int, revision: int) -> str:
    # Same words as Proposal.label, from plain columns.
    return f"P-{number}" if revision == 1 else f"P-{number} rev {revision}"


def _home_rows(stmt: Select, column, cursor: str | None, limit: int) -> tuple[list[HomeProposal], str | None]:
    found, more = _page(stmt, column, cursor, limit)
    rows = [
        HomeProposal(
            id=pid,
            label=_label(number, revision),
            title=title,
            organization_name=org_name,
            status=status,
            currency=currency,
            delivered_at=delivered_at,
            signed_at=signed_at,
            total=round_money(Decimal(signed_total if signed_total is not None else included or 0)),
        )
        for pid, number, revision, title, org_name, status, currency, delivered_at, signed_at, included, signed_total in found
    ]
    last = rows[-1] if rows else None
    sort_value = None if last is None else (last.signed_at if column is Proposal.signed_at else last.delivered_at)
    return rows, encode_cursor(sort_value, last.id) if more and sort_value is not None else None


def list_home_proposals(
    base: Select, limit: int | None = None, awaiting_after: str | None = None, signed_after: str | None = None
) -> HomeProposals:
    """Proposals awaiting the contact's signature and signed ones, newest first, each
    section a keyset page (``*_after`` are cursors from the previous page).

    ``base`` is the access-checked query from ``portal.access.contacts``
    (``contact_proposals_query``): drafts and what the contact may not see are already
    out. Two queries, whatever the number of proposals; the totals are the stored
    columns (or the signature's), so ``proposal_lines`` is never read.
    """
    limit = limit or HOME_LIMIT
    stmt = (
        base.with_only_columns(
            Proposal.id,
            Proposal.number,
            Proposal.revision,
            Proposal.title,
            Organization.name,
            Proposal.status,
            Proposal.currency,
            Proposal.delivered_at,
            Proposal.signed_at,
            Proposal.included_total,
            Signature.signed_total,
        )
        .join_from(Proposal, Organization, Organization.id == Proposal.organization_id)
        .outerjoin_from(Proposal, Signature, Signature.proposal_id == Proposal.id)
    )
    awaiting, awaiting_next = _home_rows(
        stmt.where(Proposal.status == ProposalStatus.DELIVERED, Proposal.signed_at.is_(None)),
        Proposal.delivered_at,
        awaiting_after,
        limit,
    )
    signed, signed_next = _home_rows(
        stmt.where(Proposal.signed_at.is_not(None)), Proposal.signed_at, signed_after, limit
    )
    return HomeProposals(awaiting, signed, awaiting_next, signed_next, limit)


# --- the staff list ----------------------------------------------------------------


@dataclass(frozen=True)
class ProposalRow:
    proposal: Proposal
    signer_name: str | None
    signed_total: Decimal | None

    @property
    def total(self) -> Decimal:
        """What the list shows: the signed total once signed, else the estimate."""
        return self.signed_total if self.signed_total is not None else self.proposal.included_total


@dataclass(frozen=True)
class ProposalPage:
    rows: list[ProposalRow]
    next_cursor: str | None


def list_proposals(
    base: Select, status: str | None = None, after: str | None = None, per_page: int = ADMIN_PER_PAGE
) -> ProposalPage:
    """One keyset page of proposals (newest change first) with totals and signer, in one
    statement. ``base`` is the access-checked query from ``portal.access``; ``status``
    a proposal status or ``"signed"``; ``after`` the cursor of the previous page."""
    stmt = (
        base.add_columns(Signature.signer_name, Signature.signed_total)
        .outerjoin(Signature, Signature.proposal_id == Proposal.id)
        .options(joinedload(Proposal.organization), joinedload(Proposal.contact), joinedload(Proposal.sales_rep))
    )
    if status == SIGNED_FILTER:
        stmt = stmt.where(Proposal.signed_at.is_not(None))
    elif status:
        stmt = stmt.where(Proposal.status == status)
    found, more = _page(stmt, Proposal.updated_at, after, per_page)
    rows = [ProposalRow(p, signer, signed_total) for p, signer, signed_total in found]
    next_cursor = encode_cursor(rows[-1].proposal.updated_at, rows[-1].proposal.id) if more and rows else None
    return ProposalPage(rows, next_cursor)


@dataclass
class ProposalCounts:
    """Current proposals of an organization alone and with its (visible) sub-organizations."""

    here: int
    with_subs: int


def _current_proposals(proposals):
    return proposals.where(Proposal.status != ProposalStatus.SUPERSEDED)


def organization_proposal_counts(organization_id: int, scope, proposals) -> ProposalCounts:
    """Both switch positions in one grouped statement. ``scope`` is the visible subtree;
    ``proposals`` the access-checked proposal query."""
    here = case((Proposal.organization_id == organization_id, 1), else_=0)
    total, total_here = db.session.execute(
        _current_proposals(proposals)
        .with_only_columns(func.count(Proposal.id), func.coalesce(func.sum(here), 0))
        .where(Proposal.organization_id.in_(scope))
    ).one()
    return ProposalCounts(here=int(total_here), with_subs=int(total))


def organization_proposals(scope, proposals, limit: int = 50) -> list[Proposal]:
    """The current proposals (not superseded revisions) of the organizations in
    ``scope``, newest first, with organization and contact (one statement)."""
    return list(
        db.session.scalars(
            _current_proposals(proposals)
            .options(joinedload(Proposal.organization), joinedload(Proposal.contact))
            .where(Proposal.organization_id.in_(scope))
            .order_by(Proposal.updated_at.desc(), Proposal.id.desc())
            .limit(limit)
        )
    )
