"""Read models of the pipeline pages: the board (columns, bounded cards, counts and
sums per currency) and the list (search, filters, sorts, keyset pages, all rows for
the CSV). Each takes the access filter's base query, so nothing here decides who
sees what; each declares its loader options (a fixed number of queries).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_, select, union, union_all
from sqlalchemy.orm import load_only, selectinload

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.parsing import parse_decimal, parse_id
from portal.core.queries.keyset import after_key, decode_cursor, encode_cursor
from portal.core.queries.search import search_key, word_start_match
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Lead, Opportunity, Stage

CARDS_PER_COLUMN = 50
PAGE_SIZE = 50

CARD_OPTIONS = (
    selectinload(Opportunity.organization).load_only(Organization.name),
    selectinload(Opportunity.lead).load_only(Lead.name, Lead.company),
    selectinload(Opportunity.rep).load_only(StaffUser.name),
    selectinload(Opportunity.stage),
)

# A board card reads these columns only (hundreds of cards: about a tenth of the board's
# time went to filling every column); any other is an error, never a lazy load.
BOARD_CARD_OPTIONS = (
    load_only(
        Opportunity.title,
        Opportunity.organization_id,
        Opportunity.lead_id,
        Opportunity.rep_id,
        Opportunity.stage_id,
        Opportunity.outcome,
        Opportunity.amount,
        Opportunity.currency,
        Opportunity.next_contact_on,
        Opportunity.created_at,
        raiseload=True,
    ),
    *CARD_OPTIONS[:3],  # its customer (organization or lead) and rep; the column is its stage
)


@dataclass
class Column:
    stage: Stage
    cards: list[Opportunity] = field(default_factory=list)
    count: int = 0
    sums: list[tuple[str, Decimal]] = field(default_factory=list)  # (currency, amount), never summed across

    @property
    def more(self) -> bool:
        return self.count > len(self.cards)


def board(parts: list, stages: list[Stage]) -> list[Column]:
    """The columns of ``stages``: each with its newest cards (bounded), its count and
    its amounts per currency. ``parts`` is the access filter as a list of WHERE clauses
    (an opportunity is seen when any holds: ``opportunity_filter_parts``)."""
    if not stages:
        return []
    if not parts:
        return [Column(stage) for stage in stages]
    visibility = parts[0] if len(parts) == 1 else or_(*parts)
    # One statement: each column's newest ids per part of the access rule, each an index
    # range of at most 50 ((stage, id); (rep, stage, id); (organization, stage, id)),
    # rather than an OR the engines read by walking the stage's rows newest first.
    # UNION drops an opportunity two parts both give; the newest 50 are kept below.
    branches = [
        select(Opportunity.id, Opportunity.stage_id)
        .where(part, Opportunity.stage_id == stage.id)
        .order_by(Opportunity.id.desc())
        .limit(CARDS_PER_COLUMN)
        for stage in stages
        for part in parts
    ]
    merge = union_all if len(parts) == 1 else union
    newest: dict[int, list[int]] = {}
    for opportunity_id, stage_id in db.session.execute(merge(*(b.subquery().select() for b in branches))):
        newest.setdefault(stage_id, []).append(opportunity_id)
    ids = [i for column_ids in newest.values() for i in sorted(column_ids, reverse=True)[:CARDS_PER_COLUMN]]
    cards = (
        list(db.session.scalars(select(Opportunity).where(Opportunity.id.in_(ids)).options(*BOARD_CARD_OPTIONS)))
        if ids
        else []
    )
    totals = db.session.execute(
        select(Opportunity.stage_id, Opportunity.currency, func.count(), func.sum(Opportunity.amount))
        .where(visibility, Opportunity.stage_id.in_([s.id for s in stages]))
        .group_by(Opportunity.stage_id, Opportunity.currency)
    ).all()
    columns = {stage.id: Column(stage) for stage in stages}
    for card in sorted(cards, key=lambda o: -o.id):
        columns[card.stage_id].cards.append(card)
    for stage_id, currency, count, amount in totals:
        column = columns[stage_id]
        column.count += count
        column.sums.append((currency, Decimal(amount or 0).quantize(Decimal("0.01"))))
    for column in columns.values():
        column.sums.sort()
    return [columns[stage.id] for stage in stages]


def card(opportunity_id: int) -> Opportunity | None:
    return db.session.scalar(select(Opportunity).where(Opportunity.id == opportunity_id).options(*CARD_OPTIONS))


# --- the list ---------------------------------------------------------------------------

SORTS = {
    # name: (column, descending, cursor type)
    "newest": (Opportunity.id, True, "id"),
    "updated": (Opportunity.updated_at, True, "datetime"),
    "close": (Opportunity.expected_close_on, False, "date"),
    "next_contact": (Opportunity.next_contact_on, False, "date"),
    "amount": (Opportunity.amount, True, "decimal"),
}
OUTCOMES = ("open", "won", "lost", "all")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass
class Filters:
    """The list's filters, as read from the query string (anything malformed is the
    default: a filter never errors)."""

    q: str = ""
    rep: str = ""  # "", "me", "none" or a staff id
    stage: int | None = None
    type: int | None = None
    source: int | None = None
    close_month: str = ""  # YYYY-MM
    due: bool = False  # next contact today or earlier
    outcome: str = "open"
    sort: str = "newest"

    @classmethod
    def from_args(cls, args) -> Filters:
        def text(name: str) -> str:
            value = args.get(name)
            return value.replace("\x00", " ").strip()[:100] if isinstance(value, str) else ""

        rep = text("rep")
        if rep not in ("", "me", "none") and parse_id(rep) is None:
            rep = ""
        month = text("close_month")
        match = _MONTH.fullmatch(month)
        if not match or not (1900 < int(match.group(1)) < 9999 and 1 <= int(match.group(2)) <= 12):
            month = ""
        outcome = text("outcome") or "open"
        sort = text("sort") or "newest"
        return cls(
            q=text("q"),
            rep=rep,
            stage=parse_id(text("stage")),
            type=parse_id(text("type")),
            source=parse_id(text("source")),
            close_month=month,
            due=text("due") in ("1", "on", "true", "yes"),
            outcome=outcome if outcome in OUTCOMES else "open",
            sort=sort if sort in SORTS else "newest",
        )

    def args(self) -> dict:
        """The query string that reproduces these filters (for links, pages, the CSV)."""
        values = {
            "q": self.q,
            "rep": self.rep,
            "stage": self.stage,
            "type": self.type,
            "source": self.source,
            "close_month": self.close_month,
            "due": "1" if self.due else "",
            "outcome": self.outcome if self.outcome != "open" else "",
            "sort": self.sort if self.sort != "newest" else "",
        }
        return {k: v for k, v in values.items() if v not in ("", None)}


def filtered(base, filters: Filters, user_id: int):
    """``base`` narrowed by the filters (no order)."""
    query = base
    if filters.q:
        key = search_key(filters.q)
        if key:
            query = query.where(word_start_match(Opportunity.label_key, key))
    if filters.rep == "me":
        query = query.where(Opportunity.rep_id == user_id)
    elif filters.rep == "none":
        query = query.where(Opportunity.rep_id.is_(None))
    elif filters.rep:
        query = query.where(Opportunity.rep_id == int(filters.rep))
    if filters.stage:
        query = query.where(Opportunity.stage_id == filters.stage)
    if filters.type:
        query = query.where(Opportunity.type_id == filters.type)
    if filters.source:
        query = query.where(Opportunity.source_id == filters.source)
    if filters.close_month:
        year, month = (int(part) for part in filters.close_month.split("-"))
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
        query = query.where(Opportunity.expected_close_on.between(first, last))
    if filters.due:
        query = query.where(Opportunity.next_contact_on <= utcnow().date())
    if filters.outcome != "all":
        query = query.where(Opportunity.outcome == filters.outcome)
    column, _descending, _kind = SORTS[filters.sort]
    if filters.sort in ("close", "next_contact"):
        # Sorted by a date: those that have one (a keyset over NULLs has no next key).
        query = query.where(column.is_not(None))
    return query


def _ordered(query, sort: str, reverse: bool = False):
    """The list's order (the sort column, then the id), or its reverse (a previous page
    is read backwards from its cursor, then flipped)."""
    column, descending, _kind = SORTS[sort]
    columns = (Opportunity.id,) if column is Opportunity.id else (column, Opportunity.id)
    descending = descending != reverse
    return query.order_by(*(c.desc() if descending else c.asc() for c in columns))


def _cursor_key(opportunity: Opportunity, sort: str) -> list:
    column, _descending, kind = SORTS[sort]
    if kind == "id":
        return [opportunity.id]
    value = getattr(opportunity, column.key)
    if kind == "decimal":
        value = str(value)
    elif kind in ("date", "datetime"):
        value = value.isoformat()
    return [value, opportunity.id]


def _decoded(cursor: str | None, sort: str):
    """The sort key a cursor carries, typed for its sort, or None (the first page)."""
    from datetime import datetime

    values = decode_cursor(cursor)
    if values is None:
        return None
    _column, _descending, kind = SORTS[sort]
    try:
        if kind == "id":
            number = parse_id(values[0]) if len(values) == 1 else None
            return None if number is None else (number,)
        if len(values) != 2 or parse_id(values[1]) is None or not isinstance(values[0], str):
            return None
        raw, last_id = values[0], int(values[1])
        if kind == "decimal":
            value = parse_decimal(raw, digits=12, places=2)
            return None if value is None else (value, last_id)
        if kind == "date":
            return (date.fromisoformat(raw), last_id)
        return (datetime.fromisoformat(raw), last_id)
    except (ValueError, TypeError, OverflowError):
        return None


@dataclass
class Page:
    rows: list[Opportunity]
    next_cursor: str | None
    previous_cursor: str | None = None


def list_page(base, filters: Filters, user_id: int, after: str | None = None, before: str | None = None) -> Page:
    """One page of the list (the first, the one after ``after``, or the one before
    ``before``: keyset cursors from another page) and the cursors of its neighbours."""
    query = filtered(base, filters, user_id)
    column, descending, kind = SORTS[filters.sort]
    key = _decoded(after, filters.sort)
    backwards = False
    if key is None:
        key = _decoded(before, filters.sort)
        backwards = key is not None
    if key is not None:
        columns = (Opportunity.id,) if kind == "id" else (column, Opportunity.id)
        query = query.where(after_key(columns, key, descending != backwards))
    ordered = _ordered(query, filters.sort, reverse=backwards)
    rows = list(db.session.scalars(ordered.options(*CARD_OPTIONS).limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if backwards:
        rows.reverse()
    has_next = True if backwards else more
    has_previous = more if backwards else key is not None
    return Page(
        rows,
        encode_cursor(_cursor_key(rows[-1], filters.sort)) if rows and has_next else None,
        encode_cursor(_cursor_key(rows[0], filters.sort)) if rows and has_previous else None,
    )


def all_rows(base, filters: Filters, user_id: int, batch: int = 500) -> Iterator[Opportunity]:
    """Every filtered row, in the list's order, a batch at a time (keyset, so memory
    and each query stay bounded whatever the count): the CSV export."""
    after = None
    while True:
        page_query = filtered(base, filters, user_id)
        column, descending, kind = SORTS[filters.sort]
        if after is not None:
            columns = (Opportunity.id,) if kind == "id" else (column, Opportunity.id)
            page_query = page_query.where(after_key(columns, after, descending))
        rows = list(db.session.scalars(_ordered(page_query, filters.sort).options(*CARD_OPTIONS).limit(batch)))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (last.id,) if kind == "id" else (getattr(last, column.key), last.id)


def age_days(opportunity: Opportunity) -> int:
    return max(0, (utcnow() - opportunity.created_at).days)
