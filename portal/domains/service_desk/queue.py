"""The staff ticket queue: search, filters, sorts and keyset pages.

(The SLA clocks it shows are ``clocks.py``'s.)

Built to stay fast at 100,000 tickets on SQLite and PostgreSQL:

- nothing counts the whole table: a page fetches one row more than it shows to know
  whether another page follows;
- a page is read in two statements: the ids (and sort keys) of the page, from the
  indexes of ``tickets`` (see ``Ticket.__table_args__``), then those rows with what
  they show (organization, contact, status, assignee) joined;
- every sort is a list of *segments*, each one index order over part of the tickets
  (the priority sort is four: urgent, high, normal, low, each newest first; a due
  sort is the tickets with that due time, soonest first, then those without one).
  A cursor names the segment and the last row's sort key in it; the next page goes
  on from there, into the following segments when that one runs out. A page is at
  most one statement per segment, however many tickets there are;
- the search: a contains-match on the ticket title, a word-start match on the
  organization name (both ``pg_trgm``-indexed on PostgreSQL), the number, or a prefix
  of the contact's email or name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import joinedload

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.parsing import parse_id
from portal.core.queries import keyset
from portal.core.queries.search import contains_match, prefix_match, search_key, word_start_match
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk.models import PRIORITIES, Ticket, TicketState

PAGE_SIZE = 25
DUE_SOON = timedelta(hours=4)
SORTS = ("newest", "oldest", "updated", "priority", "response_due", "resolution_due")
SLA_FILTERS = ("breached", "due_soon")
NOT_CLOSED = ""  # the default status filter
ALL = "all"
_NUMBER = re.compile(r"(?:t-?)?0*(\d{1,9})")  # "T-000123", "t123", "123"


# --- filters --------------------------------------------------------------------------


@dataclass
class QueueFilters:
    """What the queue is narrowed to, as read from the query string (already checked)."""

    q: str = ""
    status: str = NOT_CLOSED  # "", "all", a TicketState, or a status id (digits)
    priority: str = ""
    organization_id: int | None = None
    assignee: str = ""  # "", "me", "unassigned", or a staff id (digits)
    issue_type_id: int | None = None
    sla: str = ""  # "", "breached", "due_soon"
    sort: str = "newest"

    def args(self) -> dict[str, Any]:
        """The query-string form (empty values left out), for links and hidden fields."""
        values = {
            "q": self.q,
            "status": self.status,
            "priority": self.priority,
            "organization": self.organization_id,
            "assignee": self.assignee,
            "issue_type": self.issue_type_id,
            "sla": self.sla,
            "sort": self.sort if self.sort != "newest" else "",
        }
        return {key: value for key, value in values.items() if value not in (None, "")}


def read_filters(args, status_ids: set[int]) -> QueueFilters:
    """Filters from request args: anything unknown falls back to the default."""

    def number(name: str) -> int | None:
        return parse_id(args.get(name))  # ASCII digits only: "²".isdigit() holds, int("²") fails

    status = (args.get("status") or "").strip()
    if not (status in (NOT_CLOSED, ALL, *TicketState.ALL) or parse_id(status) in status_ids):
        status = NOT_CLOSED
    assignee = (args.get("assignee") or "").strip()
    if assignee not in ("", "me", "unassigned"):
        assignee = str(parse_id(assignee) or "")
    priority = args.get("priority") or ""
    sla = args.get("sla") or ""
    sort = args.get("sort") or "newest"
    return QueueFilters(
        q=" ".join((args.get("q") or "").split())[:100],
        status=status,
        priority=priority if priority in PRIORITIES else "",
        organization_id=number("organization"),
        assignee=assignee,
        issue_type_id=number("issue_type"),
        sla=sla if sla in SLA_FILTERS else "",
        sort=sort if sort in SORTS else "newest",
    )


def search_condition(query: str):
    """Tickets whose title contains ``query``, whose number it is ("T-000123", "123"),
    whose organization has a word of its name starting with it, or whose contact
    (name, email) starts with it; None for no query. The title and organization
    matches are ``LIKE '%...%'`` on case-folded keys, which the ``pg_trgm`` indexes
    answer on PostgreSQL (``core.queries.search``)."""
    term = search_key(query)
    if not term:
        return None
    number = _NUMBER.fullmatch(term)
    if number and not term.isdigit():
        return Ticket.id == int(number.group(1))  # "T-000123" is a number and nothing else
    parts = [contains_match(Ticket.title_key, term)]
    if number:
        parts.append(Ticket.id == int(number.group(1)))
    parts.append(
        Ticket.organization_id.in_(select(Organization.id).where(word_start_match(Organization.name_key, term)))
    )
    full_name = Contact.first_name + " " + Contact.last_name
    contacts = select(Contact.id).where(
        or_(
            prefix_match(Contact.email, term),  # stored lower-case, indexed
            Contact.first_name.istartswith(term, autoescape=True),
            Contact.last_name.istartswith(term, autoescape=True),
            full_name.istartswith(term, autoescape=True),
        )
    )
    parts.append(Ticket.contact_id.in_(contacts))
    return or_(*parts)


def breached_condition(now: datetime):
    """A due time passed before the response or the close (or the breach job flagged
    it). Each term is true or false, never NULL, so ``not_()`` of it is safe."""
    return or_(
        Ticket.first_response_breached_at.is_not(None),
        Ticket.resolution_breached_at.is_not(None),
        and_(
            Ticket.first_response_at.is_(None),
            Ticket.first_response_due_at.is_not(None),
            Ticket.first_response_due_at < now,
        ),
        and_(
            Ticket.first_response_at.is_not(None),
            Ticket.first_response_due_at.is_not(None),
            Ticket.first_response_at > Ticket.first_response_due_at,
        ),
        and_(Ticket.closed_at.is_(None), Ticket.resolution_due_at.is_not(None), Ticket.resolution_due_at < now),
        and_(
            Ticket.closed_at.is_not(None),
            Ticket.resolution_due_at.is_not(None),
            Ticket.closed_at > Ticket.resolution_due_at,
        ),
    )


def due_soon_condition(now: datetime):
    """Not breached, and a running clock runs out within ``DUE_SOON``."""
    soon = now + DUE_SOON
    return and_(
        not_(breached_condition(now)),
        or_(
            and_(
                Ticket.first_response_at.is_(None),
                Ticket.first_response_due_at >= now,
                Ticket.first_response_due_at < soon,
            ),
            and_(Ticket.closed_at.is_(None), Ticket.resolution_due_at >= now, Ticket.resolution_due_at < soon),
        ),
    )


def filter_conditions(filters: QueueFilters, user: StaffUser, now: datetime) -> list:
    conditions = []
    search = search_condition(filters.q)
    if search is not None:
        conditions.append(search)
    if filters.status == NOT_CLOSED:
        conditions.append(Ticket.state.in_((TicketState.OPEN, TicketState.WAITING)))
    elif filters.status in TicketState.ALL:
        conditions.append(Ticket.state == filters.status)
    elif filters.status.isdigit():
        conditions.append(Ticket.status_id == int(filters.status))
    if filters.priority:
        conditions.append(Ticket.priority == filters.priority)
    if filters.organization_id is not None:
        conditions.append(Ticket.organization_id == filters.organization_id)
    if filters.assignee == "me":
        conditions.append(Ticket.assignee_id == user.id)
    elif filters.assignee == "unassigned":
        conditions.append(Ticket.assignee_id.is_(None))
    elif filters.assignee.isdigit():
        conditions.append(Ticket.assignee_id == int(filters.assignee))
    if filters.issue_type_id is not None:
        conditions.append(Ticket.issue_type_id == filters.issue_type_id)
    if filters.sla == "breached":
        conditions.append(breached_condition(now))
    elif filters.sla == "due_soon":
        conditions.append(due_soon_condition(now))
    return conditions


# --- sorts: segments and cursors ----------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    where: Any  # what part of the tickets this segment is (None: all)
    columns: tuple  # the order, ``Ticket.id`` last
    descending: bool


def _segments(sort: str) -> list[_Segment]:
    if sort == "oldest":
        return [_Segment(None, (Ticket.id,), False)]
    if sort == "updated":
        return [_Segment(None, (Ticket.updated_at, Ticket.id), True)]
    if sort == "priority":
        return [_Segment(Ticket.priority == p, (Ticket.id,), True) for p in reversed(PRIORITIES)]
    if sort == "response_due":
        running = and_(Ticket.first_response_at.is_(None), Ticket.first_response_due_at.is_not(None))
        return [
            _Segment(running, (Ticket.first_response_due_at, Ticket.id), False),
            _Segment(not_(running), (Ticket.id,), True),
        ]
    if sort == "resolution_due":
        return [
            _Segment(Ticket.resolution_due_at.is_not(None), (Ticket.resolution_due_at, Ticket.id), False),
            _Segment(Ticket.resolution_due_at.is_(None), (Ticket.id,), True),
        ]
    return [_Segment(None, (Ticket.id,), True)]


def encode_cursor(segment: int, values) -> str:
    return keyset.encode_cursor([segment, *values])


def decode_cursor(cursor: str | None, segments: list[_Segment]) -> tuple[int, tuple] | None:
    """(segment, sort key) from a cursor, or None for a missing or malformed one (first page)."""
    values = keyset.decode_cursor(cursor)
    if values is None or type(values[0]) is not int:
        return None
    index, rest = values[0], values[1:]
    if not 0 <= index < len(segments) or len(rest) != len(segments[index].columns):
        return None
    key = []
    for column, value in zip(segments[index].columns, rest, strict=True):
        if column.key == "id":
            if type(value) is not int or parse_id(value) is None:  # past an id column: the driver raises
                return None
            key.append(value)
        else:
            try:
                key.append(datetime.fromisoformat(value))
            except (TypeError, ValueError):
                return None
    return index, tuple(key)


# --- the page --------------------------------------------------------------------------------


@dataclass
class QueuePage:
    """One page of the queue; ``next_cursor`` None when nothing follows."""

    tickets: list[Ticket]
    next_cursor: str | None
    is_first: bool
    per_page: int = PAGE_SIZE
    now: datetime = field(default_factory=utcnow)


ROW_OPTIONS = (
    joinedload(Ticket.organization),
    joinedload(Ticket.contact),
    joinedload(Ticket.status),
    joinedload(Ticket.assignee),
)


def list_tickets(
    base, filters: QueueFilters, user: StaffUser, now: datetime, after: str | None = None, per_page: int = PAGE_SIZE
) -> QueuePage:
    """One page of ``base`` (the access-checked query from ``portal.access.staff``)."""
    segments = _segments(filters.sort)
    conditions = filter_conditions(filters, user, now)
    start = decode_cursor(after, segments)
    first_segment, key = start if start else (0, None)
    found: list[tuple[int, int, tuple]] = []  # (ticket id, segment, sort key)
    for index in range(first_segment, len(segments)):
        segment = segments[index]
        wanted = per_page + 1 - len(found)
        if wanted <= 0:
            break
        stmt = base.with_only_columns(*segment.columns).where(*conditions)
        if segment.where is not None:
            stmt = stmt.where(segment.where)
        if index == first_segment and key is not None:
            stmt = stmt.where(keyset.after_key(segment.columns, key, segment.descending))
        order = [column.desc() if segment.descending else column.asc() for column in segment.columns]
        for row in db.session.execute(stmt.order_by(*order).limit(wanted)):
            found.append((row[-1], index, tuple(row)))
    more = len(found) > per_page
    found = found[:per_page]
    tickets: list[Ticket] = []
    if found:
        loaded = {
            t.id: t
            for t in db.session.scalars(
                select(Ticket).options(*ROW_OPTIONS).where(Ticket.id.in_([ticket_id for ticket_id, _s, _k in found]))
            )
        }
        tickets = [loaded[ticket_id] for ticket_id, _s, _k in found if ticket_id in loaded]
    next_cursor = encode_cursor(found[-1][1], found[-1][2]) if more and found else None
    return QueuePage(tickets, next_cursor, is_first=start is None, per_page=per_page, now=now)


def visible_tickets_by_id(base, ticket_ids) -> list[Ticket]:
    """The tickets of ``ticket_ids`` that ``base`` (the access-checked query) holds,
    in id order; the others are left out without saying whether they exist."""
    ids = sorted({int(i) for i in ticket_ids})[:500]
    if not ids:
        return []
    return list(db.session.scalars(base.where(Ticket.id.in_(ids)).order_by(Ticket.id)))
