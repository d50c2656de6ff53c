"""Read models of the contract pages: the staff list (search, status filter, keyset
pages) and the contracts of one organization or property. Rows are plain columns
(number, status, dates, current revision, included total), so a list costs the same
few queries whatever the number of contracts and revisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, or_, select

from portal.core.extensions import db
from portal.core.queries.keyset import after_key, decode_cursor, encode_cursor
from portal.core.queries.search import prefix_match, search_key, word_start_match
from portal.domains.contracts.models import Contract, ContractRevision, ContractStatus
from portal.domains.customers.models import Organization, Site

PER_PAGE = 25
SECTION_LIMIT = 50
MAX_QUERY = 100


@dataclass(frozen=True)
class ContractRow:
    id: int
    number: str
    title: str
    status: str
    starts_on: date
    ends_on: date
    currency: str
    organization_id: int
    organization_name: str
    site_id: int
    site_name: str
    revision_number: int | None
    included_total: Decimal
    updated_at: datetime

    @property
    def revision_label(self) -> str:
        return "" if self.revision_number is None else f"v.{self.revision_number}"


@dataclass(frozen=True)
class ContractPage:
    rows: list[ContractRow]
    next_cursor: str | None


def _rows(stmt: Select) -> Select:
    return (
        stmt.join(Organization, Organization.id == Contract.organization_id)
        .join(Site, Site.id == Contract.site_id)
        .outerjoin(ContractRevision, ContractRevision.id == Contract.current_revision_id)
        .with_only_columns(
            Contract.id,
            Contract.number,
            Contract.title,
            Contract.status,
            Contract.starts_on,
            Contract.ends_on,
            Contract.currency,
            Contract.organization_id,
            Organization.name,
            Contract.site_id,
            Site.name,
            ContractRevision.number,
            ContractRevision.included_total,
            Contract.updated_at,
        )
    )


def _row(values) -> ContractRow:
    *head, total, updated_at = values
    return ContractRow(*head, included_total=total if total is not None else Decimal("0.00"), updated_at=updated_at)


def search_condition(term: str):
    """A contract number's start ("C-10", "c-1001") or a word start of the
    organization's name."""
    key = search_key(term)
    number = term.strip().upper()
    return or_(
        prefix_match(Contract.number, number),
        Contract.organization_id.in_(select(Organization.id).where(word_start_match(Organization.name_key, key))),
    )


def list_page(base: Select, q: str = "", status: str | None = None, after: str | None = None) -> ContractPage:
    """One page of ``base`` (the contracts a staff member may see), most recently
    changed first, after the cursor ``after``."""
    stmt = base
    q = (q or "")[:MAX_QUERY].strip()
    if q:
        stmt = stmt.where(search_condition(q))
    if status in ContractStatus.ALL:
        stmt = stmt.where(Contract.status == status)
    cursor = decode_cursor(after)
    if cursor is not None and len(cursor) == 2 and isinstance(cursor[1], int) and isinstance(cursor[0], str):
        try:
            when = datetime.fromisoformat(cursor[0])
        except ValueError:
            when = None
        if when is not None:
            stmt = stmt.where(after_key((Contract.updated_at, Contract.id), (when, cursor[1]), descending=True))
    found = [
        _row(values)
        for values in db.session.execute(
            _rows(stmt).order_by(Contract.updated_at.desc(), Contract.id.desc()).limit(PER_PAGE + 1)
        )
    ]
    more = len(found) > PER_PAGE
    rows = found[:PER_PAGE]
    return ContractPage(rows, encode_cursor((rows[-1].updated_at, rows[-1].id)) if more and rows else None)


def contracts_of(organization_id: int | None = None, site_id: int | None = None) -> list[ContractRow]:
    """The contracts of an organization or a property (newest first, at most
    ``SECTION_LIMIT``), for a section of its page."""
    stmt = select(Contract)
    if organization_id is not None:
        stmt = stmt.where(Contract.organization_id == organization_id)
    if site_id is not None:
        stmt = stmt.where(Contract.site_id == site_id)
    return [
        _row(values) for values in db.session.execute(_rows(stmt).order_by(Contract.id.desc()).limit(SECTION_LIMIT))
    ]
