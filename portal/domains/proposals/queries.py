"""The portal home's lists: what a contact may see, as customer-facing columns only.

The rows are built from an allow-list of columns, not from ORM objects, so the
template cannot reach a staff-only field (internal notes, costs) even by mistake, and
cannot lazy-load anything: the page costs the same few queries for 3 or 3,000
proposals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, case, func
from sqlalchemy.orm import joinedload

from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.proposals.models import Proposal, ProposalStatus, Signature
from portal.domains.proposals.totals import included_totals_subquery

CENT = Decimal("0.01")
HOME_LIMIT = 50


@dataclass(frozen=True)
class HomeProposal:
    """One proposal as the portal home shows it (the page's allow-list)."""

    id: int
    label: str
    title: str
    organization_name: str
    status: str
    currency: str
    signed_at: datetime | None
    total: Decimal  # the estimate (included lines) before signing; the signed total after


@dataclass(frozen=True)
class HomeProposals:
    awaiting: list[HomeProposal]
    signed: list[HomeProposal]
    more_awaiting: bool
    more_signed: bool
    limit: int


def _label(number: int, revision: int) -> str:
    # Same words as Proposal.label, from plain columns.
    return f"P-{number}" if revision == 1 else f"P-{number} rev {revision}"


def _rows(stmt: Select, limit: int) -> tuple[list[HomeProposal], bool]:
    rows = [
        HomeProposal(
            id=pid,
            label=_label(number, revision),
            title=title,
            organization_name=org_name,
            status=status,
            currency=currency,
            signed_at=signed_at,
            total=Decimal(str(signed_total if signed_total is not None else included or 0)).quantize(CENT),
        )
        for pid, number, revision, title, org_name, status, currency, signed_at, included, signed_total in db.session.execute(
            stmt.limit(limit + 1)
        )
    ]
    return rows[:limit], len(rows) > limit


def list_home_proposals(base: Select, limit: int = HOME_LIMIT) -> HomeProposals:
    """Proposals awaiting the contact's signature and signed ones, newest first.

    ``base`` is the access-checked query from ``portal.access.contacts``
    (``contact_proposals_query``): drafts and what the contact may not see are already
    out. Two queries, whatever the number of proposals.
    """
    included = included_totals_subquery()
    stmt = (
        base.with_only_columns(
            Proposal.id,
            Proposal.number,
            Proposal.revision,
            Proposal.title,
            Organization.name,
            Proposal.status,
            Proposal.currency,
            Proposal.signed_at,
            included.c.included,
            Signature.signed_total,
        )
        .join_from(Proposal, Organization, Organization.id == Proposal.organization_id)
        .outerjoin_from(Proposal, included, included.c.proposal_id == Proposal.id)
        .outerjoin_from(Proposal, Signature, Signature.proposal_id == Proposal.id)
    )
    awaiting, more_awaiting = _rows(
        stmt.where(Proposal.status == ProposalStatus.DELIVERED, Proposal.signed_at.is_(None)).order_by(
            Proposal.delivered_at.desc(), Proposal.id.desc()
        ),
        limit,
    )
    signed, more_signed = _rows(
        stmt.where(Proposal.signed_at.is_not(None)).order_by(Proposal.signed_at.desc(), Proposal.id.desc()), limit
    )
    return HomeProposals(awaiting, signed, more_awaiting, more_signed, limit)


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
