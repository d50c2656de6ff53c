"""Service setup: the SLAs, service-hours calendars, ticket statuses and issue types
that admins and managers configure, and the rules that keep them usable.

Rules that hold whoever makes the change (admin pages, CLI, demo data):

- an SLA has a unique name and, for every priority, a first-response and a
  resolution target in whole business minutes, both positive, resolution never
  before first response; exactly one SLA is the default (choosing another moves it,
  and the default may not be unticked, only moved) and the default is shared;
- a calendar has a unique name, a zoneinfo time zone and a week with some working
  hours (``Schedule.from_rows`` has the last word); holidays are unique per date;
- every ticket state (open, waiting on customer, closed) keeps at least one active
  status, because the ticket services pick one by state (``tickets.status_for``); a
  status that tickets use keeps its state (their clocks were run by it) and is never
  deleted, only deactivated;
- issue types are two levels deep: types and their sub-types.

Every function flushes and never commits; the view commits once. Changing an SLA
or a calendar applies to tickets opened (or re-prioritised) afterwards: due times
already computed stay as they were promised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.contacts import is_valid_timezone
from portal.domains.customers.models import Organization
from portal.domains.service_desk.business_hours import Schedule, add_business_minutes
from portal.domains.service_desk.models import (
    PRIORITIES,
    IssueType,
    ServiceCalendar,
    ServiceHoliday,
    ServiceHours,
    Sla,
    SlaTarget,
    Ticket,
    TicketState,
    TicketStatus,
)

# A target beyond this many hours is a typo (and would make due-time walks long).
MAX_TARGET_HOURS = 9999
WEEKDAYS = range(7)
MAX_INTERVALS_PER_DAY = 4


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _name_taken(model, name: str, exclude_id: int | None, *where) -> bool:
    stmt = select(model.id).where(func.lower(model.name) == name.lower(), *where)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _check_name(errors: dict[str, str], name: str, limit: int, model, current, taken: str, *where) -> None:
    """A name is given, fits its column, and is not another row's (any case)."""
    if not name:
        errors["name"] = _("Enter a name.")
    elif len(name) > limit:
        errors["name"] = _("Use at most %(n)s characters.", n=limit)
    elif _name_taken(model, name, current.id if current else None, *where):
        errors["name"] = taken


# --- durations: what staff type for a target ------------------------------------------

_HOURS_MINUTES = re.compile(r"(\d+):([0-5]\d)")
_DECIMAL_HOURS = re.compile(r"\d+(?:[.,]\d+)?")
_UNITS = re.compile(r"(?:(\d+(?:[.,]\d+)?)\s*h(?:ours?|rs?)?)?\s*(?:(\d+)\s*m(?:in(?:utes?)?)?)?", re.IGNORECASE)


def parse_duration(text: str) -> int:
    """Minutes from "4", "1.5" or "1,5" (hours), "1:30", "1h 30m", "90m"; ``ValueError``
    for anything else. Fractions of a minute round to the nearest minute."""
    text = _clean(text)
    if not text:
        raise ValueError("empty")
    if match := _HOURS_MINUTES.fullmatch(text):
        return int(match[1]) * 60 + int(match[2])
    hours, minutes = None, "0"
    if _DECIMAL_HOURS.fullmatch(text):
        hours = text
    elif (match := _UNITS.fullmatch(text)) and (match[1] or match[2]):
        hours, minutes = match[1] or "0", match[2] or "0"
    else:
        raise ValueError(f"not a duration: {text!r}")
    try:
        total = Decimal(hours.replace(",", ".")) * 60 + int(minutes)
    except InvalidOperation:
        raise ValueError(f"not a duration: {text!r}") from None
    return int(total.to_integral_value())


def format_duration(minutes: int | None) -> str:
    """How a stored target is shown in its field: "4" (hours) or "1:30"."""
    if minutes is None:
        return ""
    hours, rest = divmod(minutes, 60)
    return str(hours) if not rest else f"{hours}:{rest:02d}"


# --- SLAs ---------------------------------------------------------------------------


@dataclass
class SlaInput:
    """An SLA as typed: ``targets`` maps priority -> (first response, resolution) text."""

    name: str
    calendar_id: int | None = None
    is_shared: bool = True
    is_default: bool = False
    targets: dict[str, tuple[str, str]] = field(default_factory=dict)


def _target_minutes(errors: dict[str, str], key: str, text: str) -> int | None:
    try:
        minutes = parse_duration(text)
    except ValueError:
        errors[key] = _("Enter a time in hours, such as 4, 1.5 or 1:30.") if _clean(text) else _("Enter a time.")
        return None
    if minutes <= 0:
        errors[key] = _("A target must be longer than zero.")
        return None
    if minutes > MAX_TARGET_HOURS * 60:
        errors[key] = _("Keep targets under %(n)s hours.", n=MAX_TARGET_HOURS)
        return None
    return minutes


def sla_errors(data: SlaInput, sla: Sla | None = None) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """Every rule ``data`` breaks (field -> message), and the targets in minutes."""
    errors: dict[str, str] = {}
    name = _clean(data.name)
    _check_name(errors, name, 120, Sla, sla, _("Another SLA has this name."))
    if data.calendar_id and db.session.get(ServiceCalendar, data.calendar_id) is None:
        errors["calendar_id"] = _("Choose a calendar from the list.")
    if sla is not None and sla.is_default and not data.is_default:
        errors["is_default"] = _("This is the default SLA: make another SLA the default instead.")
    if data.is_default and not data.is_shared:
        errors["is_shared"] = _("The default SLA serves every customer without one: it must be shared.")
    targets: dict[str, tuple[int, int]] = {}
    for priority in PRIORITIES:
        first_text, resolution_text = data.targets.get(priority, ("", ""))
        first = _target_minutes(errors, f"first_{priority}", first_text)
        resolution = _target_minutes(errors, f"resolution_{priority}", resolution_text)
        if first is not None and resolution is not None:
            if resolution < first:
                errors[f"resolution_{priority}"] = _("Resolution cannot be due before the first response.")
            else:
                targets[priority] = (first, resolution)
    return errors, targets


def save_sla(sla: Sla | None, data: SlaInput) -> Sla:
    """Create (``sla`` None) or change an SLA and its four targets, all or nothing.
    Making it the default takes the flag from the SLA that had it."""
    errors, targets = sla_errors(data, sla)
    if errors:
        raise InvalidInput(errors)
    if sla is None:
        sla = Sla()
        db.session.add(sla)
    sla.name = _clean(data.name)
    sla.calendar = db.session.get(ServiceCalendar, data.calendar_id) if data.calendar_id else None
    sla.is_shared = bool(data.is_shared)
    if data.is_default and not sla.is_default:
        # Take the flag from the SLA that has it first: at most one default (a unique
        # partial index) holds at every flush.
        others = update(Sla).where(Sla.is_default.is_(True))
        if sla.id is not None:
            others = others.where(Sla.id != sla.id)
        db.session.execute(others.values(is_default=False).execution_options(synchronize_session="fetch"))
    sla.is_default = bool(data.is_default)
    for priority, (first, resolution) in targets.items():
        target = sla.target_for(priority)
        if target is None:
            target = SlaTarget(priority=priority)
            sla.targets.append(target)
        target.first_response_minutes = first
        target.resolution_minutes = resolution
    db.session.flush()
    return sla


def list_slas() -> list[Sla]:
    """Every SLA, the default first, then shared ones, then custom, by name (targets loaded)."""
    return list(db.session.scalars(select(Sla).order_by(Sla.is_default.desc(), Sla.is_shared.desc(), Sla.name)))


@dataclass
class SlaUsage:
    organizations: int = 0
    issue_types: int = 0


def sla_usage() -> dict[int, SlaUsage]:
    """How many organizations and issue types name each SLA (two grouped counts)."""
    usage: dict[int, SlaUsage] = {}
    for model, attribute in ((Organization, "organizations"), (IssueType, "issue_types")):
        rows = db.session.execute(
            select(model.sla_id, func.count()).where(model.sla_id.is_not(None)).group_by(model.sla_id)
        )
        for sla_id, count in rows:
            setattr(usage.setdefault(sla_id, SlaUsage()), attribute, count)
    return usage


def sla_users(sla_id: int, limit: int = 20) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(id, name) of the first organizations and issue types that name this SLA."""
    organizations = db.session.execute(
        select(Organization.id, Organization.name)
        .where(Organization.sla_id == sla_id)
        .order_by(Organization.name_key, Organization.id)
        .limit(limit)
    ).all()
    kinds = db.session.execute(
        select(IssueType.id, IssueType.name)
        .where(IssueType.sla_id == sla_id)
        .order_by(IssueType.name, IssueType.id)
        .limit(limit)
    ).all()
    return [tuple(row) for row in organizations], [tuple(row) for row in kinds]


def default_sla() -> Sla | None:
    return db.session.scalar(select(Sla).where(Sla.is_default.is_(True)).order_by(Sla.id).limit(1))


# --- calendars ------------------------------------------------------------------------


@dataclass
class CalendarInput:
    """A calendar as typed: ``week`` holds seven texts, Monday first, each empty or
    "closed" for a day off, or intervals such as "09:00-12:00, 13:00-17:00"."""

    name: str
    timezone: str = "UTC"
    week: list[str] = field(default_factory=lambda: [""] * 7)


_CLOCK = r"(\d{1,2})(?:[:.h](\d{2}))?"
_INTERVAL = re.compile(rf"{_CLOCK}\s*(?:-|–|to)\s*{_CLOCK}", re.IGNORECASE)
_CLOSED = {"", "closed", "-", "–", "off"}


def _minute(hours: str, minutes: str | None) -> int | None:
    h, m = int(hours), int(minutes or 0)
    if m > 59 or h > 24 or (h == 24 and m):
        return None
    return h * 60 + m


def parse_day(text: str) -> list[tuple[int, int]]:
    """The intervals (start, end minutes from local midnight) of one day's text;
    ``ValueError`` with a message for staff when it does not read as hours. An
    interval that ends before it starts runs overnight: its end is past 24:00."""
    text = _clean(text)
    if text.lower() in _CLOSED:
        return []
    intervals: list[tuple[int, int]] = []
    for part in re.split(r"[,;]", text):
        match = _INTERVAL.fullmatch(part.strip())
        start = _minute(match[1], match[2]) if match else None
        end = _minute(match[3], match[4]) if match else None
        if start is None or end is None:
            raise ValueError(
                _("Write hours as 09:00-17:00, or two intervals as 09:00-12:00, 13:00-17:00 (empty: closed).")
            )
        if end == start:
            raise ValueError(_("Each interval must end after it starts (%(part)s).", part=part.strip()))
        if end < start:  # a night shift, "22:00-06:00": it runs into the next day
            end += 24 * 60
        intervals.append((start, end))
    if len(intervals) > MAX_INTERVALS_PER_DAY:
        raise ValueError(_("Use at most %(n)s intervals a day.", n=MAX_INTERVALS_PER_DAY))
    intervals.sort()
    for (_s, previous_end), (start, _e) in pairwise(intervals):
        if start < previous_end:
            raise ValueError(_("The intervals overlap."))
    return intervals


def format_day(intervals) -> str:
    """One day's intervals as staff type them: "09:00-12:00, 13:00-17:00"."""

    def clock(minute: int) -> str:
        if minute > 24 * 60:  # the end of a night shift, on the next day
            minute -= 24 * 60
        return f"{minute // 60:02d}:{minute % 60:02d}"

    return ", ".join(f"{clock(start)}-{clock(end)}" for start, end in intervals)


def calendar_week(calendar: ServiceCalendar) -> list[list[tuple[int, int]]]:
    """The calendar's intervals per weekday, Monday first."""
    week: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
    for row in calendar.hours:
        week[row.weekday].append((row.start_minute, row.end_minute))
    return week


def calendar_errors(
    data: CalendarInput, calendar: ServiceCalendar | None = None
) -> tuple[dict[str, str], Schedule | None]:
    """Every rule ``data`` breaks, and the schedule it describes when it is valid."""
    errors: dict[str, str] = {}
    name = _clean(data.name)
    _check_name(errors, name, 120, ServiceCalendar, calendar, _("Another calendar has this name."))
    zone = _clean(data.timezone)
    if not is_valid_timezone(zone):
        errors["timezone"] = _("Choose a time zone from the list, such as Europe/Rome.")
    rows: list[tuple[int, int, int]] = []
    for weekday in WEEKDAYS:
        text = data.week[weekday] if weekday < len(data.week) else ""
        try:
            for start, end in parse_day(text):
                rows.append((weekday, start, min(end, 24 * 60)))
                if end > 24 * 60:  # the night shift's hours after midnight belong to the next day
                    rows.append(((weekday + 1) % 7, 0, end - 24 * 60))
        except ValueError as error:
            errors[f"day_{weekday}"] = str(error)
    if not rows and not any(key.startswith("day_") for key in errors):
        errors["day_0"] = _("Set working hours on at least one day: a week without any cannot time an SLA.")
    if errors:
        return errors, None
    try:
        schedule = Schedule.from_rows(zone, rows, [h.day for h in calendar.holidays] if calendar else ())
    except ValueError:  # the checks above should have caught it; never a 500
        return {"day_0": _("These hours do not make a valid week.")}, None
    return errors, schedule


def save_calendar(calendar: ServiceCalendar | None, data: CalendarInput) -> ServiceCalendar:
    """Create (``calendar`` None) or change a calendar's name, zone and week pattern."""
    errors, schedule = calendar_errors(data, calendar)
    if errors:
        raise InvalidInput(errors)
    if calendar is None:
        calendar = ServiceCalendar()
        db.session.add(calendar)
    calendar.name = _clean(data.name)
    calendar.timezone = schedule.timezone
    wanted = [(weekday, start, end) for weekday, intervals in enumerate(schedule.week) for start, end in intervals]
    current = [(row.weekday, row.start_minute, row.end_minute) for row in calendar.hours]
    if sorted(current) != wanted:
        calendar.hours = [ServiceHours(weekday=w, start_minute=s, end_minute=e) for w, s, e in wanted]
    db.session.flush()
    return calendar


def add_holiday(calendar: ServiceCalendar, day: date | None, name: str) -> ServiceHoliday:
    """A day without service hours; one per date."""
    name = _clean(name)
    errors: dict[str, str] = {}
    if day is None:
        errors["day"] = _("Enter a date.")
    elif any(h.day == day for h in calendar.holidays):
        errors["day"] = _("This date is already a holiday.")
    if len(name) > 120:
        errors["holiday_name"] = _("Use at most %(n)s characters.", n=120)
    if errors:
        raise InvalidInput(errors)
    holiday = ServiceHoliday(day=day, name=name)
    calendar.holidays.append(holiday)
    db.session.flush()
    return holiday


def remove_holiday(calendar: ServiceCalendar, holiday_id: int) -> bool:
    """Remove one of the calendar's holidays; False when it had no such holiday."""
    holiday = next((h for h in calendar.holidays if h.id == holiday_id), None)
    if holiday is None:
        return False
    calendar.holidays.remove(holiday)
    db.session.flush()
    return True


def calendar_schedule(calendar: ServiceCalendar) -> Schedule | None:
    """The calendar as a ``Schedule``, or None for one without hours."""
    rows = [(h.weekday, h.start_minute, h.end_minute) for h in calendar.hours]
    if not rows:
        return None
    return Schedule.from_rows(calendar.timezone, rows, [h.day for h in calendar.holidays])


def preview_due(calendar: ServiceCalendar, minutes: int = 60, now: datetime | None = None) -> datetime | None:
    """When a target of ``minutes`` business minutes, started ``now``, falls due (naive UTC)."""
    schedule = calendar_schedule(calendar)
    if schedule is None:
        return None
    try:
        return add_business_minutes(now or utcnow(), minutes, schedule)
    except ValueError:  # e.g. years of holidays in a row
        return None


def calendar_usage() -> dict[int, int]:
    """How many SLAs count in each calendar."""
    return dict(
        db.session.execute(
            select(Sla.calendar_id, func.count()).where(Sla.calendar_id.is_not(None)).group_by(Sla.calendar_id)
        ).all()
    )


def list_calendars() -> list[ServiceCalendar]:
    return list(db.session.scalars(select(ServiceCalendar).order_by(ServiceCalendar.name)))


# --- ticket statuses -----------------------------------------------------------------


def list_statuses() -> list[TicketStatus]:
    """Every status, active or not, in the configured order."""
    return list(db.session.scalars(select(TicketStatus).order_by(TicketStatus.position, TicketStatus.id)))


def status_usage() -> dict[int, int]:
    """How many tickets have each status (one grouped count on an indexed column)."""
    return dict(db.session.execute(select(Ticket.status_id, func.count()).group_by(Ticket.status_id)).all())


def _tickets_with_status(status_id: int) -> bool:
    return db.session.scalar(select(Ticket.id).where(Ticket.status_id == status_id).limit(1)) is not None


def _last_active_of_state(status: TicketStatus) -> bool:
    others = db.session.scalar(
        select(func.count())
        .select_from(TicketStatus)
        .where(TicketStatus.state == status.state, TicketStatus.is_active.is_(True), TicketStatus.id != status.id)
    )
    return status.is_active and not others


def _status_name_errors(errors: dict[str, str], name: str, status: TicketStatus | None) -> None:
    _check_name(errors, name, 60, TicketStatus, status, _("Another status has this name."))


def add_status(name: str, state: str) -> TicketStatus:
    """A new active status at the end of the list."""
    name = _clean(name)
    errors: dict[str, str] = {}
    _status_name_errors(errors, name, None)
    if state not in TicketState.ALL:
        errors["state"] = _("Choose what the status means.")
    if errors:
        raise InvalidInput(errors)
    last = db.session.scalar(select(func.max(TicketStatus.position))) or 0
    status = TicketStatus(name=name, state=state, position=last + 1, is_active=True)
    db.session.add(status)
    db.session.flush()
    return status


def update_status(status: TicketStatus, name: str, state: str, position: int | None) -> TicketStatus:
    """Rename, re-map or move a status. Its state cannot change while tickets have it
    (their clocks ran by it), nor leave a state without an active status."""
    name = _clean(name)
    errors: dict[str, str] = {}
    _status_name_errors(errors, name, status)
    if state not in TicketState.ALL:
        errors["state"] = _("Choose what the status means.")
    elif state != status.state:
        if _tickets_with_status(status.id):
            errors["state"] = _(
                "Tickets have this status, so what it means cannot change: add a new status "
                "and deactivate this one instead."
            )
        elif _last_active_of_state(status):
            errors["state"] = _("This is the only active status of its kind: add another one first.")
    if position is None or not 0 <= position <= 10_000:
        errors["position"] = _("Enter a whole number from 0 to 10000.")
    if errors:
        raise InvalidInput(errors)
    status.name, status.state, status.position = name, state, position
    db.session.flush()
    return status


def deactivate_status(status: TicketStatus) -> None:
    """Staff can no longer choose it; tickets that have it keep it."""
    if _last_active_of_state(status):
        raise NotAllowed(
            _("%(name)s is the only active status of its kind: add or activate another one first.", name=status.name)
        )
    status.is_active = False
    db.session.flush()


def reactivate_status(status: TicketStatus) -> None:
    status.is_active = True
    db.session.flush()


def delete_status(status: TicketStatus) -> None:
    """Delete a status no ticket has ever had (the others can only be deactivated)."""
    if _tickets_with_status(status.id):
        raise NotAllowed(_("Tickets have %(name)s: deactivate it instead.", name=status.name))
    if _last_active_of_state(status):
        raise NotAllowed(
            _("%(name)s is the only active status of its kind: add or activate another one first.", name=status.name)
        )
    db.session.delete(status)
    db.session.flush()


# --- issue types ----------------------------------------------------------------------


def issue_type_tree() -> list[tuple[IssueType, list[IssueType]]]:
    """Every top-level issue type with its sub-types, active or not, in order (one query)."""
    kinds = list(db.session.scalars(select(IssueType).order_by(IssueType.position, IssueType.name, IssueType.id)))
    children: dict[int, list[IssueType]] = {}
    for kind in kinds:
        if kind.parent_id is not None:
            children.setdefault(kind.parent_id, []).append(kind)
    return [(kind, children.get(kind.id, [])) for kind in kinds if kind.parent_id is None]


def _issue_type_errors(name: str, parent_id: int | None, sla_id: int | None, kind: IssueType | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    _check_name(
        errors,
        name,
        120,
        IssueType,
        kind,
        _("This name is already used at this level."),
        IssueType.parent_id == parent_id if parent_id else IssueType.parent_id.is_(None),
    )
    if sla_id and db.session.get(Sla, sla_id) is None:
        errors["sla_id"] = _("Choose an SLA from the list.")
    return errors


def add_issue_type(name: str, parent_id: int | None = None, sla_id: int | None = None) -> IssueType:
    """A new active issue type (``parent_id``: a sub-type of that top-level type), last."""
    name = _clean(name)
    parent = db.session.get(IssueType, parent_id) if parent_id else None
    errors = _issue_type_errors(name, parent_id, sla_id, None)
    if parent_id and (parent is None or parent.parent_id is not None):
        errors["parent_id"] = _("Choose a top-level issue type: sub-types have no sub-types.")
    if errors:
        raise InvalidInput(errors)
    siblings = IssueType.parent_id == parent_id if parent_id else IssueType.parent_id.is_(None)
    last = db.session.scalar(select(func.max(IssueType.position)).where(siblings))
    kind = IssueType(
        name=name,
        parent_id=parent_id or None,
        sla_id=sla_id or None,
        position=(last + 1) if last is not None else 0,
        is_active=True,
    )
    db.session.add(kind)
    db.session.flush()
    return kind


def update_issue_type(kind: IssueType, name: str, sla_id: int | None) -> IssueType:
    """Rename an issue type and set (or clear) the SLA that overrides the organization's."""
    name = _clean(name)
    errors = _issue_type_errors(name, kind.parent_id, sla_id, kind)
    if errors:
        raise InvalidInput(errors)
    kind.name, kind.sla_id = name, sla_id or None
    db.session.flush()
    return kind


def move_issue_type(kind: IssueType, direction: str) -> None:
    """Swap with the sibling above ("up") or below ("down"); positions are renumbered
    0, 1, 2... so that equal positions from older data still move."""
    siblings_of = IssueType.parent_id == kind.parent_id if kind.parent_id else IssueType.parent_id.is_(None)
    siblings = list(
        db.session.scalars(
            select(IssueType).where(siblings_of).order_by(IssueType.position, IssueType.name, IssueType.id)
        )
    )
    index = next(i for i, sibling in enumerate(siblings) if sibling.id == kind.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings):
        sibling.position = position
    db.session.flush()


def set_issue_type_active(kind: IssueType, active: bool) -> None:
    """Deactivated types (and, with a top-level one, its sub-types) leave the new-ticket
    form; tickets that name them keep them."""
    kind.is_active = active
    db.session.flush()


# What a new calendar's working days start with.
DEFAULT_DAY = "09:00-17:00"
