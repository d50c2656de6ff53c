"""Business hours: when an SLA falls due, counting only a calendar's working time.

A calendar (``Schedule``) is a week of local wall-clock intervals in an IANA time
zone, plus local holiday dates. The app stores instants as naive UTC, so both
functions take and return naive UTC datetimes: the time zone only decides *when* the
business intervals are, never how a stored value is read.

The approach: walk local dates one at a time and turn each of that day's local
intervals into a UTC interval with ``zoneinfo`` (fold=0 for wall times that a DST
change skips or repeats, which is what zoneinfo does by default). Everything after
that is arithmetic on UTC instants, so minutes are real elapsed minutes: a 9-17 day
stays 8 hours whatever the clocks do at 02:00, while a 24x7 day lasts 23 hours on the
spring-forward day and 25 on the fall-back day. Working per day, not per minute,
keeps spans of months cheap, and holidays are days without their own intervals (the
tail of the previous night's shift still runs).

Pure functions: no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
# add_business_minutes gives up after this many local days in a row without hours
# (e.g. every date a holiday) instead of looping for ever.
_MAX_EMPTY_DAYS = 3 * 366

Interval = tuple[int, int]


def _check_interval(start: int, end: int, where: str) -> None:
    if not 0 <= start < end <= MINUTES_PER_DAY:
        raise ValueError(f"{where}: need 0 <= start < end <= {MINUTES_PER_DAY} minutes, got ({start}, {end})")


@dataclass(frozen=True)
class Schedule:
    """A business calendar: weekly local hours (Monday=0) in a time zone, plus holidays.

    ``week`` holds 7 tuples of ``(start_minute, end_minute)`` counted from local
    midnight, sorted and not overlapping; ``holidays`` are local dates without hours.
    """

    timezone: str
    week: tuple[tuple[Interval, ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        # Lists or a set passed in would make this frozen dataclass unhashable.
        try:
            week = tuple(tuple((start, end) for start, end in day) for day in self.week)
        except (TypeError, ValueError):
            raise ValueError("week must hold tuples of (start, end) minute pairs") from None
        object.__setattr__(self, "week", week)
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        if len(self.week) != 7:
            raise ValueError(f"week needs 7 days, Monday first; got {len(self.week)}")
        for weekday, intervals in enumerate(self.week):
            previous_end = 0
            for start, end in intervals:
                _check_interval(start, end, f"weekday {weekday}")
                if start < previous_end:
                    raise ValueError(f"weekday {weekday}: intervals must be sorted and not overlap")
                previous_end = end

    @classmethod
    def always(cls) -> Schedule:
        """24x7 in UTC: the calendar of an SLA that has none."""
        return cls("UTC", (((0, MINUTES_PER_DAY),),) * 7)

    @classmethod
    def from_rows(cls, timezone: str, hours: Iterable[tuple[int, int, int]], holidays: Iterable[date] = ()) -> Schedule:
        """Build from ``(weekday, start_minute, end_minute)`` rows in any order.

        Overlapping or touching rows of a weekday merge into one interval. Raises
        ``ValueError`` for a weekday outside 0..6, a bad interval or an unknown zone.
        """
        days: list[list[Interval]] = [[] for _ in range(7)]
        for weekday, start, end in hours:
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
            _check_interval(start, end, f"hours row ({weekday}, {start}, {end})")
            days[weekday].append((start, end))
        week = []
        for intervals in days:
            merged: list[Interval] = []
            for start, end in sorted(intervals):
                if merged and start <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            week.append(tuple(merged))
        return cls(timezone, tuple(week), frozenset(holidays))


def _require_naive(value: datetime) -> None:
    # An aware datetime here is a caller bug; converting it silently would hide it.
    if value.tzinfo is not None:
        raise ValueError(f"expected a naive UTC datetime, got {value!r}")


def _local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.replace(tzinfo=UTC).astimezone(zone).date()


def _to_utc(day: date, minute: int, zone: ZoneInfo) -> datetime:
    # Wall-clock arithmetic first (minute 1440 is the next local midnight), then the
    # zone with fold=0, which also settles times skipped or repeated by DST.
    local = datetime.combine(day, time()) + timedelta(minutes=minute)
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def _day_hours(schedule: Schedule, day: date) -> tuple[Interval, ...]:
    """The local intervals that run on ``day``. A holiday removes the day's own hours,
    not the tail of the previous night's shift: a 22:00-06:00 shift is stored as
    22:00-24:00 plus 00:00-06:00 the next day, and on the day before a holiday it still
    runs to 06:00. The tail is the interval from midnight (ending before the next
    midnight, so a 24x7 holiday stays a holiday) after a working day whose hours run to
    midnight."""
    hours = schedule.week[day.weekday()]
    if day not in schedule.holidays:
        return hours
    previous = day - timedelta(days=1)
    previous_hours = schedule.week[previous.weekday()]
    if (
        hours
        and hours[0][0] == 0
        and hours[0][1] < MINUTES_PER_DAY
        and previous not in schedule.holidays
        and previous_hours
        and previous_hours[-1][1] == MINUTES_PER_DAY
    ):
        return hours[:1]
    return ()


def _days(schedule: Schedule, first: date) -> Iterator[tuple[date, list[tuple[datetime, datetime]]]]:
    """Yield every local date from ``first`` on, with its business intervals in naive UTC."""
    zone = ZoneInfo(schedule.timezone)
    covered_until = datetime.min
    day = first
    while True:
        intervals = []
        for start_minute, end_minute in _day_hours(schedule, day):
            # Inside a spring-forward gap fold=0 can put a later wall time at an
            # earlier instant; clipping keeps the intervals ordered and disjoint,
            # so no instant is counted twice.
            start = max(_to_utc(day, start_minute, zone), covered_until)
            end = _to_utc(day, end_minute, zone)
            if end > start:
                intervals.append((start, end))
                covered_until = end
        yield day, intervals
        day += timedelta(days=1)


def add_business_minutes(start: datetime, minutes: int, schedule: Schedule) -> datetime:
    """The naive UTC instant when ``minutes`` business minutes have passed since ``start``.

    ``start`` is naive UTC and may carry seconds, which the result keeps. With
    ``minutes == 0`` this is the first business instant at or after ``start``. A due
    time that lands exactly on the end of an interval stays there (16:00 + 60 is
    17:00, not the next morning). Raises ``ValueError`` for negative minutes, a
    schedule without any hours, or ~3 years of days without hours in a row.
    """
    _require_naive(start)
    if minutes < 0:
        raise ValueError(f"minutes must not be negative, got {minutes}")
    if not any(schedule.week):
        raise ValueError("the schedule has no business hours")
    zone = ZoneInfo(schedule.timezone)
    remaining = timedelta(minutes=minutes)
    empty_days = 0
    # One day early: cheap insurance against DST changes at local midnight.
    for _day, intervals in _days(schedule, _local_date(start, zone) - timedelta(days=1)):
        empty_days = 0 if intervals else empty_days + 1
        if empty_days > _MAX_EMPTY_DAYS:
            raise ValueError(f"no business hours in {_MAX_EMPTY_DAYS} days after {start}")
        for begin, end in intervals:
            if end <= start:
                continue
            begin = max(begin, start)
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
    raise AssertionError("unreachable: _days never ends")


def business_minutes_between(start: datetime, end: datetime, schedule: Schedule) -> int:
    """Whole business minutes in ``[start, end)``, both naive UTC; negative if ``end < start``.

    Seconds count towards the total before it is rounded down, so the inverse of
    ``add_business_minutes`` holds: ``between(s, add(s, m)) == m``.
    """
    _require_naive(start)
    _require_naive(end)
    if end < start:
        return -business_minutes_between(end, start, schedule)
    zone = ZoneInfo(schedule.timezone)
    last = _local_date(end, zone) + timedelta(days=1)
    total = timedelta()
    for day, intervals in _days(schedule, _local_date(start, zone) - timedelta(days=1)):
        if day > last:
            break
        for begin, finish in intervals:
            overlap = min(finish, end) - max(begin, start)
            if overlap > timedelta():
                total += overlap
    return total // timedelta(minutes=1)
