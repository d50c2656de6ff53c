"""The service-setup rules without HTTP: durations and week patterns as staff type
them, the default SLA, and the status and issue-type guards."""

from __future__ import annotations

from datetime import datetime

import pytest

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.service_desk import setup as service
from portal.domains.service_desk.models import IssueType, ServiceCalendar, Sla, TicketState, TicketStatus


@pytest.mark.parametrize(
    "text, minutes",
    [
        ("4", 240),
        ("1.5", 90),
        ("1,5", 90),
        ("0.25", 15),
        ("1:30", 90),
        ("0:05", 5),
        ("1h 30m", 90),
        ("2h", 120),
        ("45m", 45),
        ("90 min", 90),
        (" 3 ", 180),
        ("1.01", 61),
    ],
)
def test_durations_read_as_hours_minutes_or_decimal_hours(text, minutes):
    assert service.parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "soon", "1:75", "-1", "1.2.3", "h", "1:3"])
def test_unreadable_durations_raise(text):
    with pytest.raises(ValueError):
        service.parse_duration(text)


def test_durations_show_back_as_hours():
    assert [service.format_duration(m) for m in (240, 90, 5, 1440)] == ["4", "1:30", "0:05", "24"]
    assert all(service.parse_duration(service.format_duration(m)) == m for m in range(1, 3000, 7))


@pytest.mark.parametrize(
    "text, intervals",
    [
        ("", []),
        ("closed", []),
        ("Closed", []),
        ("09:00-17:00", [(540, 1020)]),
        ("9-17", [(540, 1020)]),
        ("13:00-17:00, 09:00-12:00", [(540, 720), (780, 1020)]),
        ("00:00-24:00", [(0, 1440)]),
        ("8.30-12.30; 13h00-17h00", [(510, 750), (780, 1020)]),
        ("9:00 to 12:00", [(540, 720)]),
        ("22:00-06:00", [(1320, 1800)]),
        ("17:00-09:00", [(1020, 1980)]),
        ("20:00-00:00", [(1200, 1440)]),
    ],
)
def test_a_day_reads_as_sorted_intervals(text, intervals):
    assert service.parse_day(text) == intervals
    assert service.parse_day(service.format_day(intervals)) == intervals


@pytest.mark.parametrize(
    "text",
    [
        "9",
        "09:00-",
        "09:00-09:00",
        "20:00-09:00, 22:00-23:00",
        "24:30-25:00",
        "09:60-10:00",
        "09:00-12:00, 11:00-13:00",
        "1-2,3-4,5-6,7-8,9-10",
    ],
)
def test_a_day_that_is_not_hours_raises(app, text):
    with app.test_request_context(), pytest.raises(ValueError):
        service.parse_day(text)


def test_a_night_shift_spills_into_the_next_day_and_sunday_night_into_monday(ctx):
    calendar = service.save_calendar(
        None, service.CalendarInput("Nights", "UTC", ["22:00-06:00", "", "", "", "", "", "20:00-02:00"])
    )
    assert [(h.weekday, h.start_minute, h.end_minute) for h in calendar.hours] == [
        (0, 0, 120),
        (0, 1320, 1440),
        (1, 0, 360),
        (6, 1200, 1440),
    ]
    from portal.domains.service_desk.business_hours import Schedule, add_business_minutes

    schedule = Schedule.from_rows("UTC", [(h.weekday, h.start_minute, h.end_minute) for h in calendar.hours])
    # Opened Monday 2026-03-09 23:30 with a 2-hour target: 30 min on Monday, 90 on Tuesday.
    assert add_business_minutes(datetime(2026, 3, 9, 23, 30), 120, schedule) == datetime(2026, 3, 10, 1, 30)


def test_a_calendar_keeps_its_rows_merged_and_ordered(ctx):
    calendar = service.save_calendar(
        None,
        service.CalendarInput(
            "Split", "America/New_York", ["13:00-17:00, 08:00-12:00", "", "", "", "", "10:00-14:00", ""]
        ),
    )
    assert [(h.weekday, h.start_minute, h.end_minute) for h in calendar.hours] == [
        (0, 480, 720),
        (0, 780, 1020),
        (5, 600, 840),
    ]
    # Saving the same pattern again leaves the rows alone.
    ids = [h.id for h in calendar.hours]
    service.save_calendar(
        calendar,
        service.CalendarInput(
            "Split", "America/New_York", ["08:00-12:00, 13:00-17:00", "", "", "", "", "10:00-14:00", ""]
        ),
    )
    assert [h.id for h in calendar.hours] == ids


def test_the_preview_uses_holidays_and_the_time_zone(ctx):
    calendar = db.session.get(ServiceCalendar, 1)  # Mon-Fri 9-17 UTC
    friday_evening = datetime(2026, 12, 25, 18, 0)  # a Friday
    assert service.preview_due(calendar, 60, friday_evening) == datetime(2026, 12, 28, 10, 0)
    service.add_holiday(calendar, datetime(2026, 12, 28).date(), "Boxing day observed")
    assert service.preview_due(calendar, 60, friday_evening) == datetime(2026, 12, 29, 10, 0)
    with pytest.raises(InvalidInput):
        service.add_holiday(calendar, datetime(2026, 12, 28).date(), "again")


def test_only_one_sla_is_the_default(ctx):
    targets = {p: ("1", "2") for p in ("low", "normal", "high", "urgent")}
    premium = service.save_sla(None, service.SlaInput("Premium", None, True, True, targets))
    db.session.expire_all()
    assert [s.name for s in db.session.query(Sla).filter_by(is_default=True)] == ["Premium"]
    assert premium.calendar is None and premium.target_for("urgent").resolution_minutes == 120
    with pytest.raises(InvalidInput) as error:
        service.save_sla(premium, service.SlaInput("Premium", None, True, False, targets))
    assert set(error.value.errors) == {"is_default"}


def test_the_database_refuses_a_second_default_sla(ctx):
    from sqlalchemy.exc import IntegrityError

    targets = {p: ("1", "2") for p in ("low", "normal", "high", "urgent")}
    first = service.save_sla(None, service.SlaInput("Gold", None, True, True, targets))
    service.save_sla(None, service.SlaInput("Platinum", None, True, True, targets))  # takes the flag
    service.save_sla(first, service.SlaInput("Gold", None, True, True, targets))  # and back
    db.session.commit()
    assert [s.name for s in db.session.query(Sla).filter_by(is_default=True)] == ["Gold"]
    db.session.add(Sla(name="Rogue", is_shared=True, is_default=True))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_an_sla_with_a_missing_priority_is_refused(ctx):
    with pytest.raises(InvalidInput) as error:
        service.save_sla(None, service.SlaInput("Partial", 1, targets={"urgent": ("1", "2")}))
    assert {"first_low", "resolution_low", "first_normal", "first_high"} <= set(error.value.errors)


def test_the_last_active_status_of_a_state_stays(ctx):
    closed = db.session.query(TicketStatus).filter_by(state=TicketState.CLOSED).one()
    with pytest.raises(NotAllowed):
        service.deactivate_status(closed)
    with pytest.raises(NotAllowed):
        service.delete_status(closed)
    archived = service.add_status("Archived", TicketState.CLOSED)
    service.deactivate_status(closed)
    assert not closed.is_active and archived.is_active


def test_moving_an_issue_type_renumbers_its_siblings_only(ctx):
    a, b, c = (service.add_issue_type(name) for name in ("A", "B", "C"))
    child = service.add_issue_type("A1", a.id)
    for kind in (a, b, c):
        kind.position = 5  # equal positions, as old data might have
    db.session.flush()
    service.move_issue_type(c, "up")
    order = [k.name for k, _children in service.issue_type_tree()]
    assert order == ["A", "C", "B"]
    service.move_issue_type(a, "up")  # already first: nothing moves
    assert [k.name for k, _children in service.issue_type_tree()] == ["A", "C", "B"]
    assert db.session.get(IssueType, child.id).position == 0
