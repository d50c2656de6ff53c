"""The preview of a campaign: which properties qualify for one service and the filters.

A property qualifies when its contract is ACTIVE and the contract's CURRENT revision
lists the service as OPTIONAL (``contracts.current_revision_id`` makes that one
indexed join, see ``portal.domains.contracts.models``). Expired, cancelled and draft
contracts are out, and so are the optional lines of superseded revisions.

The same query (``qualifying``) feeds the preview's figures, its paged list and the
run's enumeration of items, so what the screen promised is what the run makes.

The total is summed in Python with the one rounding rule (``portal.core.money``):
SQL sums of NUMERIC drift on SQLite, and the figure must be the sum of the amounts the
opportunities will carry. It reads three columns of each qualifying row: at 10,000
contracts that is a few tens of milliseconds (``scripts/bench_campaigns.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, exists, func, select

from portal.core.extensions import db
from portal.core.money import line_amount, sum_money
from portal.core.queries.tree import walk_down
from portal.domains.contracts.models import Contract, ContractLine, ContractStatus, LineKind
from portal.domains.customers.models import Organization, Site
from portal.domains.sales.models import Opportunity, Outcome

PAGE_SIZE = 25


@dataclass(frozen=True)
class Filters:
    """One service and the optional narrowing of the screen (empty: any)."""

    service_id: int
    zone: str = ""
    organization_id: int | None = None
    include_sub_organizations: bool = False
    rep_id: int | None = None
    ends_from: date | None = None
    ends_to: date | None = None


def optional_lines(service_id: int):
    """Per revision, the first line listing ``service_id`` as optional (a revision that
    lists it twice still makes one opportunity)."""
    return (
        select(ContractLine.revision_id, func.min(ContractLine.id).label("line_id"))
        .where(ContractLine.service_id == service_id, ContractLine.kind == LineKind.OPTIONAL)
        .group_by(ContractLine.revision_id)
        .subquery("offered")
    )


def zone_of_property():
    """A property's zone, else its organization's (the rules page's zone is the organization's)."""
    return func.lower(func.coalesce(func.nullif(Site.zone, ""), Organization.zone))


def open_opportunity_exists(service_id: int):
    """Whether an open opportunity for (the row's contract, ``service_id``) exists: the
    same condition as the unique index ``uq_opportunities_open_contract_service``."""
    return exists().where(
        Opportunity.contract_id == Contract.id,
        Opportunity.offered_service_id == service_id,
        Opportunity.outcome == Outcome.OPEN,
    )


def qualifying(filters: Filters, *columns):
    """SELECT ``columns`` of every qualifying (contract, its optional line, property,
    organization) row; ``columns`` may use Contract, ContractLine, Site, Organization."""
    offered = optional_lines(filters.service_id)
    query = (
        select(*columns)
        .select_from(Contract)
        .join(offered, offered.c.revision_id == Contract.current_revision_id)
        .join(ContractLine, ContractLine.id == offered.c.line_id)
        .join(Site, Site.id == Contract.site_id)
        .join(Organization, Organization.id == Contract.organization_id)
        .where(Contract.status == ContractStatus.ACTIVE)
    )
    if filters.zone.strip():
        query = query.where(zone_of_property() == filters.zone.strip().lower())
    if filters.organization_id is not None:
        if filters.include_sub_organizations:
            tree = walk_down(Organization.id, Organization.parent_id, filters.organization_id)
            query = query.where(Contract.organization_id.in_(select(tree.c.id)))
        else:
            query = query.where(Contract.organization_id == filters.organization_id)
    if filters.rep_id is not None:
        query = query.where(Organization.account_manager_id == filters.rep_id)
    if filters.ends_from is not None:
        query = query.where(Contract.ends_on >= filters.ends_from)
    if filters.ends_to is not None:
        query = query.where(Contract.ends_on <= filters.ends_to)
    return query


@dataclass(frozen=True)
class PreviewRow:
    contract_id: int
    contract_number: str
    ends_on: date
    organization_id: int
    organization_name: str
    site_name: str
    amount: Decimal
    currency: str
    already_open: bool


@dataclass
class Preview:
    """What the screen shows before Run: counts, totals per currency, one page."""

    filters: Filters
    count: int = 0
    skipped: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)  # currency -> value (never summed across)
    rows: list[PreviewRow] = field(default_factory=list)
    next_after: int | None = None

    @property
    def to_make(self) -> int:
        return self.count - self.skipped

    @property
    def can_run(self) -> bool:
        return self.to_make > 0


def preview(filters: Filters, after: int | None = None, page_size: int = PAGE_SIZE) -> Preview:
    """The figures and one page (contracts after id ``after``): two queries."""
    result = Preview(filters=filters)
    already = open_opportunity_exists(filters.service_id)
    amounts: dict[str, list[Decimal]] = {}
    for quantity, unit_price, currency, is_open in db.session.execute(
        qualifying(filters, ContractLine.quantity, ContractLine.unit_price, Contract.currency, already)
    ):
        result.count += 1
        if is_open:
            result.skipped += 1
            continue
        amounts.setdefault(currency, []).append(line_amount(quantity, unit_price))
    result.totals = {currency: sum_money(values) for currency, values in sorted(amounts.items())}
    if not result.count or page_size <= 0:
        return result
    page = qualifying(
        filters,
        Contract.id,
        Contract.number,
        Contract.ends_on,
        Organization.id,
        Organization.name,
        Site.name,
        ContractLine.quantity,
        ContractLine.unit_price,
        Contract.currency,
        already,
    ).order_by(Contract.id)
    if after is not None:
        page = page.where(Contract.id > after)
    found = db.session.execute(page.limit(page_size + 1)).all()
    for row in found[:page_size]:
        contract_id, number, ends_on, org_id, org_name, site_name, quantity, unit_price, currency, is_open = row
        result.rows.append(
            PreviewRow(
                contract_id=contract_id,
                contract_number=number,
                ends_on=ends_on,
                organization_id=org_id,
                organization_name=org_name,
                site_name=site_name,
                amount=line_amount(quantity, unit_price),
                currency=currency,
                already_open=bool(is_open),
            )
        )
    if len(found) > page_size:
        result.next_after = result.rows[-1].contract_id
    return result


def offered_services() -> list[tuple[int, str, int]]:
    """The services some active contract's current revision offers as optional, with
    how many contracts: (id, name, count), by name. The screen's service list shows
    these first; any other catalog service can still be picked (the preview says 0)."""
    from portal.domains.proposals.models import CatalogItem

    rows = db.session.execute(
        select(CatalogItem.id, CatalogItem.name, func.count(func.distinct(Contract.id)))
        .select_from(ContractLine)
        .join(Contract, and_(Contract.current_revision_id == ContractLine.revision_id))
        .join(CatalogItem, CatalogItem.id == ContractLine.service_id)
        .where(ContractLine.kind == LineKind.OPTIONAL, Contract.status == ContractStatus.ACTIVE)
        .group_by(CatalogItem.id, CatalogItem.name)
        .order_by(CatalogItem.name, CatalogItem.id)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]
