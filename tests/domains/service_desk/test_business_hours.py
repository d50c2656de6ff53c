"""Business-hours engine: SLA due times over weekends, holidays, time zones and DST.

Every expected due time is worked out by hand (naive UTC, as the app stores it) and
the comment gives the local reading. Calendar of the weeks used: 2026-03-02,
2026-03-09 and 2026-12-28 are Mondays; DST starts 2026-03-08 in New York and
2026-03-29 in Rome, and ends 2026-11-01 in New York and 2026-10-25 in Rome.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from portal.domains.service_desk.business_hours import Schedule, add_business_minutes, business_minutes_between

NINE, NOON, ONE, FIVE = 9 * 60, 12 * 60, 13 * 60, 17 * 60
WEEKDAYS = range(5)


def office(timezone: str = "UTC", holidays=()) -> Schedule:
    """Monday to Friday, 9 to 17."""
    return Schedule.from_rows(timezone, [(d, NINE, FIVE) for d in WEEKDAYS], holidays)


UTC_OFFICE = office()
NY_OFFICE = office("America/New_York")
ROME_OFFICE = office("Europe/Rome")
SPLIT = Schedule.from_rows("UTC", [(d, NINE, NOON) for d in WEEKDAYS] + [(d, ONE, FIVE) for d in WEEKDAYS])
SATURDAY_MORNINGS = Schedule.from_rows("UTC", [(d, NINE, FIVE) for d in WEEKDAYS] + [(5, NINE, NOON)])
CHRISTMAS = office(holidays=[date(2026, 12, 25)])
# Night shifts 22:00-06:00 starting Monday to Thursday evenings, Christmas (Friday) off.
NIGHTS_CHRISTMAS = Schedule.from_rows(
    "UTC", [(d, 22 * 60, 1440) for d in range(4)] + [(d + 1, 0, 6 * 60) for d in range(4)], [date(2026, 12, 25)]
)
NY_24X7 = Schedule.from_rows("America/New_York", [(d, 0, 1440) for d in range(7)])
ROME_24X7 = Schedule.from_rows("Europe/Rome", [(d, 0, 1440) for d in range(7)])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


DUE_CASES = [
    # --- Monday to Friday 9-17 in UTC
    ("saturday_night_waits_for_monday", UTC_OFFICE, "2026-03-07 23:00", 60, "2026-03-09 10:00"),
    ("friday_late_rolls_over_weekend", UTC_OFFICE, "2026-03-06 16:30", 60, "2026-03-09 09:30"),
    ("opened_at_night_starts_at_nine", UTC_OFFICE, "2026-03-03 03:00", 60, "2026-03-03 10:00"),
    ("opened_inside_hours_adds_plainly", UTC_OFFICE, "2026-03-04 11:15", 60, "2026-03-04 12:15"),
    ("eight_hours_spill_into_next_day", UTC_OFFICE, "2026-03-04 13:00", 480, "2026-03-05 13:00"),
    ("opened_exactly_at_close", UTC_OFFICE, "2026-03-04 17:00", 60, "2026-03-05 10:00"),
    ("opened_exactly_at_open", UTC_OFFICE, "2026-03-04 09:00", 60, "2026-03-04 10:00"),
    ("due_exactly_at_close_stays", UTC_OFFICE, "2026-03-04 16:00", 60, "2026-03-04 17:00"),
    ("friday_close_waits_for_monday", UTC_OFFICE, "2026-03-06 17:00", 60, "2026-03-09 10:00"),
    ("a_full_week_of_hours", UTC_OFFICE, "2026-03-04 13:00", 5 * 480, "2026-03-11 13:00"),
    ("seconds_are_kept", UTC_OFFICE, "2026-03-04 09:00:30", 60, "2026-03-04 10:00:30"),
    ("seconds_kept_across_night", UTC_OFFICE, "2026-03-04 16:59:30", 1, "2026-03-05 09:00:30"),
    # --- minutes == 0: the first business instant at or after the start
    ("zero_inside_hours_is_start", UTC_OFFICE, "2026-03-04 11:15:42", 0, "2026-03-04 11:15:42"),
    ("zero_at_night_is_next_open", UTC_OFFICE, "2026-03-04 03:00", 0, "2026-03-04 09:00"),
    ("zero_at_close_is_next_open", UTC_OFFICE, "2026-03-04 17:00", 0, "2026-03-05 09:00"),
    ("zero_on_weekend_is_monday", UTC_OFFICE, "2026-03-07 12:00", 0, "2026-03-09 09:00"),
    ("zero_in_lunch_break", SPLIT, "2026-03-04 12:15", 0, "2026-03-04 13:00"),
    # --- split day 9-12 and 13-17
    ("split_skips_lunch", SPLIT, "2026-03-04 11:30", 60, "2026-03-04 13:30"),
    ("split_due_at_lunch_stays", SPLIT, "2026-03-04 11:00", 60, "2026-03-04 12:00"),
    ("split_opened_at_lunch", SPLIT, "2026-03-04 12:30", 60, "2026-03-04 14:00"),
    ("split_full_day_is_seven_hours", SPLIT, "2026-03-04 09:00", 420, "2026-03-04 17:00"),
    ("split_spills_past_next_lunch", SPLIT, "2026-03-04 16:30", 240, "2026-03-05 13:30"),
    # --- Saturday mornings 9-12
    ("friday_late_lands_saturday", SATURDAY_MORNINGS, "2026-03-06 16:30", 60, "2026-03-07 09:30"),
    ("saturday_late_lands_monday", SATURDAY_MORNINGS, "2026-03-07 11:30", 60, "2026-03-09 09:30"),
    ("saturday_afternoon_is_closed", SATURDAY_MORNINGS, "2026-03-07 14:00", 60, "2026-03-09 10:00"),
    # --- holidays (2026-12-25 is a Friday)
    ("holiday_and_weekend_skipped", CHRISTMAS, "2026-12-24 16:30", 60, "2026-12-28 09:30"),
    ("opened_on_holiday", CHRISTMAS, "2026-12-25 10:00", 60, "2026-12-28 10:00"),
    ("day_after_holiday_is_normal", CHRISTMAS, "2026-12-28 09:00", 60, "2026-12-28 10:00"),
    ("monday_holiday_after_weekend", office(holidays=[date(2026, 3, 9)]), "2026-03-06 16:30", 60, "2026-03-10 09:30"),
    (
        "holiday_is_a_local_date",  # 2026-12-24 16:30 EST; due Mon 2026-12-28 09:30 EST
        office("America/New_York", [date(2026, 12, 25)]),
        "2026-12-24 21:30",
        60,
        "2026-12-28 14:30",
    ),
    # 24x7 New York with Christmas off: Christmas is 05:00 UTC 12-25 to 05:00 UTC 12-26.
    (
        "holiday_local_day_24x7_before",  # 22:00 EST on the 24th: an hour before midnight
        Schedule.from_rows("America/New_York", [(d, 0, 1440) for d in range(7)], [date(2026, 12, 25)]),
        "2026-12-25 03:00",
        60,
        "2026-12-25 04:00",
    ),
    (
        "holiday_local_day_24x7_across",  # 23:30 EST: 30 min, the holiday, then 30 min
        Schedule.from_rows("America/New_York", [(d, 0, 1440) for d in range(7)], [date(2026, 12, 25)]),
        "2026-12-25 04:30",
        60,
        "2026-12-26 05:30",
    ),
    # --- night shifts: a holiday removes its own shifts, not the previous night's tail
    ("night_shift_before_holiday_runs_to_six", NIGHTS_CHRISTMAS, "2026-12-24 23:00", 420, "2026-12-25 06:00"),
    ("night_shift_before_holiday_ends_at_six", NIGHTS_CHRISTMAS, "2026-12-24 23:00", 480, "2026-12-28 23:00"),
    # --- time zones
    (
        "new_york_early_morning",  # 08:30 EST -> 10:00 EST
        NY_OFFICE,
        "2026-03-02 13:30",
        60,
        "2026-03-02 15:00",
    ),
    (
        "new_york_evening_is_next_utc_day",  # Mon 17:00 EST = Mon 22:00 UTC -> Tue 10:00 EST
        NY_OFFICE,
        "2026-03-02 22:00",
        60,
        "2026-03-03 15:00",
    ),
    (
        "new_york_friday_evening_is_utc_saturday",  # Fri 19:30 EST -> Mon 10:00 EST
        NY_OFFICE,
        "2026-02-28 00:30",
        60,
        "2026-03-02 15:00",
    ),
    (
        "rome_early_morning",  # 08:30 CET -> 10:00 CET
        ROME_OFFICE,
        "2026-03-02 07:30",
        60,
        "2026-03-02 09:00",
    ),
    (
        "rome_friday_late",  # Fri 16:30 CET -> Mon 09:30 CET
        ROME_OFFICE,
        "2026-03-06 15:30",
        60,
        "2026-03-09 08:30",
    ),
    (
        "tokyo_monday_starts_on_utc_sunday",  # Sun 23:30 UTC = Mon 08:30 JST -> 10:00 JST
        office("Asia/Tokyo"),
        "2026-03-08 23:30",
        60,
        "2026-03-09 01:00",
    ),
    (
        "los_angeles_friday_is_utc_saturday",  # Fri 16:30 PST -> Mon 09:30 PDT (DST began)
        office("America/Los_Angeles"),
        "2026-03-07 00:30",
        60,
        "2026-03-09 16:30",
    ),
    # --- DST
    (
        "new_york_weekend_spring_forward",  # Fri 16:30 EST -> Mon 09:30 EDT
        NY_OFFICE,
        "2026-03-06 21:30",
        60,
        "2026-03-09 13:30",
    ),
    (
        "new_york_monday_after_fall_back",  # Fri 16:30 EDT -> Mon 09:30 EST
        NY_OFFICE,
        "2026-10-30 20:30",
        60,
        "2026-11-02 14:30",
    ),
    (
        "rome_weekend_spring_forward",  # Fri 16:30 CET -> Mon 09:30 CEST
        ROME_OFFICE,
        "2026-03-27 15:30",
        60,
        "2026-03-30 07:30",
    ),
    (
        "new_york_24x7_spring_forward_day",  # 03-08 00:00 EST + 24 h -> 03-09 01:00 EDT
        NY_24X7,
        "2026-03-08 05:00",
        1440,
        "2026-03-09 05:00",
    ),
    (
        "new_york_24x7_fall_back_day",  # 11-01 00:00 EDT + 24 h -> 11-01 23:00 EST
        NY_24X7,
        "2026-11-01 04:00",
        1440,
        "2026-11-02 04:00",
    ),
    (
        "rome_24x7_spring_forward_day",  # 03-29 00:00 CET + 24 h -> 03-30 01:00 CEST
        ROME_24X7,
        "2026-03-28 23:00",
        1440,
        "2026-03-29 23:00",
    ),
    (
        "night_shift_across_spring_forward",  # 00-06 local is 5 real hours that night
        Schedule.from_rows("America/New_York", [(6, 0, 360)]),
        "2026-03-08 05:00",
        300,
        "2026-03-08 10:00",
    ),
    (
        "night_shift_across_fall_back",  # 00-06 local is 7 real hours that night
        Schedule.from_rows("America/New_York", [(6, 0, 360)]),
        "2026-11-01 04:00",
        420,
        "2026-11-01 11:00",
    ),
]


@pytest.mark.parametrize(
    ("schedule", "opened", "minutes", "due"),
    [pytest.param(*case[1:], id=case[0]) for case in DUE_CASES],
)
def test_due_time(schedule, opened, minutes, due):
    assert add_business_minutes(at(opened), minutes, schedule) == at(due)


BETWEEN_CASES = [
    ("across_a_weekend", UTC_OFFICE, "2026-03-06 16:00", "2026-03-09 10:00", 120),
    ("same_instant", UTC_OFFICE, "2026-03-04 10:00", "2026-03-04 10:00", 0),
    ("whole_week", UTC_OFFICE, "2026-03-09 00:00", "2026-03-16 00:00", 5 * 480),
    ("night_only", UTC_OFFICE, "2026-03-04 17:00", "2026-03-05 09:00", 0),
    ("partial_minute_rounds_down", UTC_OFFICE, "2026-03-04 09:00", "2026-03-04 09:00:59", 0),
    ("seconds_on_both_sides", UTC_OFFICE, "2026-03-04 16:59:30", "2026-03-05 09:00:30", 1),
    ("seconds_one_short", UTC_OFFICE, "2026-03-04 16:59:30", "2026-03-05 09:00:29", 0),
    ("split_day", SPLIT, "2026-03-04 00:00", "2026-03-05 00:00", 420),
    (
        "night_tail_on_a_holiday_counts",
        NIGHTS_CHRISTMAS,
        "2026-12-24 00:00",
        "2026-12-26 00:00",
        6 * 60 + 2 * 60 + 6 * 60,
    ),
    ("holiday_counts_nothing", CHRISTMAS, "2026-12-24 00:00", "2026-12-29 00:00", 2 * 480),
    ("new_york_hours_seen_from_utc", NY_OFFICE, "2026-03-02 00:00", "2026-03-03 00:00", 480),
    ("new_york_24x7_spring_day_is_23h", NY_24X7, "2026-03-08 05:00", "2026-03-09 04:00", 23 * 60),
    ("new_york_24x7_fall_day_is_25h", NY_24X7, "2026-11-01 04:00", "2026-11-02 05:00", 25 * 60),
    ("rome_24x7_spring_day_is_23h", ROME_24X7, "2026-03-28 23:00", "2026-03-29 22:00", 23 * 60),
    ("rome_24x7_fall_day_is_25h", ROME_24X7, "2026-10-24 22:00", "2026-10-25 23:00", 25 * 60),
    # 01:30-03:00 on the fall-back Sunday: 01:30 is the first (EDT) one, fold=0, so the
    # repeated hour counts: 05:30 UTC to 08:00 UTC.
    (
        "ambiguous_start_uses_fold_0",
        Schedule.from_rows("America/New_York", [(6, 90, 180)]),
        "2026-11-01 00:00",
        "2026-11-02 00:00",
        150,
    ),
    # 02:30-03:30 on the spring-forward Sunday: 02:30 does not exist; fold=0 reads it
    # as EST, i.e. 03:30 EDT, the same instant as the end, so nothing is left.
    (
        "interval_inside_the_gap_is_empty",
        Schedule.from_rows("America/New_York", [(6, 150, 210)]),
        "2026-03-08 00:00",
        "2026-03-09 00:00",
        0,
    ),
    # 01:00-02:30 and 03:00-04:00: fold=0 puts 02:30 at 07:30 UTC, after 03:00 EDT
    # (07:00 UTC); the overlap is counted once: 06:00 to 08:00 UTC.
    (
        "gap_overlap_counted_once",
        Schedule.from_rows("America/New_York", [(6, 60, 150), (6, 180, 240)]),
        "2026-03-08 00:00",
        "2026-03-09 00:00",
        120,
    ),
    (
        "months_of_office_hours",  # March to May 2026: 65 weekdays
        UTC_OFFICE,
        "2026-03-01 00:00",
        "2026-06-01 00:00",
        65 * 480,
    ),
]


@pytest.mark.parametrize(
    ("schedule", "start", "end", "minutes"),
    [pytest.param(*case[1:], id=case[0]) for case in BETWEEN_CASES],
)
def test_business_minutes_between(schedule, start, end, minutes):
    assert business_minutes_between(at(start), at(end), schedule) == minutes
    assert business_minutes_between(at(end), at(start), schedule) == -minutes


ROUND_TRIP_SCHEDULES = {
    "utc_office": UTC_OFFICE,
    "split": SPLIT,
    "saturday_mornings": SATURDAY_MORNINGS,
    "new_york_office": office("America/New_York", [date(2026, 3, 10)]),
    "rome_office": ROME_OFFICE,
    "new_york_24x7": NY_24X7,
    "always": Schedule.always(),
    "night_shift_gap": Schedule.from_rows("America/New_York", [(6, 60, 150), (6, 180, 240)]),
}


@pytest.mark.parametrize("schedule", ROUND_TRIP_SCHEDULES.values(), ids=ROUND_TRIP_SCHEDULES)
def test_round_trip_and_additivity(schedule):
    # Starts every 2 h 53 min 17 s across both New York DST changes and Rome's.
    spans = [
        (at("2026-03-05 00:00"), at("2026-03-12 00:00")),
        (at("2026-03-26 00:00"), at("2026-04-01 00:00")),
        (at("2026-10-23 00:00"), at("2026-11-04 00:00")),
    ]
    for first, last in spans:
        opened = first
        while opened < last:
            for minutes in (0, 1, 59, 60, 61, 180, 479, 480, 481, 1440, 4000):
                due = add_business_minutes(opened, minutes, schedule)
                assert due >= opened
                assert business_minutes_between(opened, due, schedule) == minutes, (opened, minutes)
                assert business_minutes_between(due, opened, schedule) == -minutes
                split = add_business_minutes(opened, minutes // 3, schedule)
                assert add_business_minutes(split, minutes - minutes // 3, schedule) == due
            opened += timedelta(hours=2, minutes=53, seconds=17)


def test_always_is_plain_elapsed_time():
    always = Schedule.always()
    assert always == Schedule("UTC", (((0, 1440),),) * 7)
    opened = at("2026-03-07 23:59:59")
    assert add_business_minutes(opened, 90, always) == at("2026-03-08 01:29:59")
    assert business_minutes_between(opened, at("2026-03-14 23:59:59"), always) == 7 * 1440


@pytest.mark.parametrize(
    "schedule",
    [
        pytest.param(Schedule("UTC", ((),) * 7), id="no_hours_at_all"),
        pytest.param(Schedule.from_rows("Europe/Rome", []), id="no_rows"),
        pytest.param(
            office(holidays=[date(2026, 1, 1) + timedelta(days=n) for n in range(4 * 366)]), id="everything_a_holiday"
        ),
    ],
)
def test_schedule_without_hours_raises(schedule):
    with pytest.raises(ValueError, match="business hours"):
        add_business_minutes(at("2026-03-04 10:00"), 60, schedule)


def test_between_without_hours_is_zero():
    assert business_minutes_between(at("2026-03-04 10:00"), at("2026-06-04 10:00"), Schedule("UTC", ((),) * 7)) == 0


def test_long_holiday_stretch_shorter_than_the_limit_is_crossed():
    holidays = [date(2026, 3, 9) + timedelta(days=n) for n in range(2 * 365)]
    schedule = office(holidays=holidays)  # last holiday 2028-03-07 (Tuesday)
    assert add_business_minutes(at("2026-03-06 16:30"), 60, schedule) == at("2028-03-08 09:30")


def test_from_rows_sorts_and_merges():
    schedule = Schedule.from_rows(
        "Europe/Rome",
        [(0, 780, 1020), (0, 540, 720), (0, 700, 760), (2, 540, 720), (2, 720, 1020), (4, 600, 660), (4, 600, 660)],
        {date(2026, 12, 25)},
    )
    assert schedule.week == (((540, 760), (780, 1020)), (), ((540, 1020),), (), ((600, 660),), (), ())
    assert schedule.holidays == frozenset({date(2026, 12, 25)})
    hash(schedule)  # frozen and hashable, usable as a cache key


@pytest.mark.parametrize(
    ("rows", "timezone", "message"),
    [
        pytest.param([(7, 540, 1020)], "UTC", "weekday must be 0", id="weekday_too_big"),
        pytest.param([(-1, 540, 1020)], "UTC", "weekday must be 0", id="weekday_negative"),
        pytest.param([(0, 1020, 540)], "UTC", "start < end", id="start_after_end"),
        pytest.param([(0, 540, 540)], "UTC", "start < end", id="empty_interval"),
        pytest.param([(0, -60, 540)], "UTC", "start < end", id="start_before_midnight"),
        pytest.param([(0, 540, 1441)], "UTC", "start < end", id="end_after_midnight"),
        pytest.param([(0, 540, 1020)], "Mars/Olympus_Mons", "unknown time zone", id="unknown_zone"),
        pytest.param([(0, 540, 1020)], "", "unknown time zone", id="empty_zone"),
    ],
)
def test_from_rows_rejects(rows, timezone, message):
    with pytest.raises(ValueError, match=message):
        Schedule.from_rows(timezone, rows)


@pytest.mark.parametrize(
    ("week", "message"),
    [
        pytest.param(((),) * 6, "7 days", id="six_days"),
        pytest.param(((0, 1440),) * 7, "minute pairs", id="intervals_not_days"),
        pytest.param((((540, 720), (700, 1020)),) + ((),) * 6, "not overlap", id="overlapping"),
        pytest.param((((780, 1020), (540, 720)),) + ((),) * 6, "sorted", id="unsorted"),
        pytest.param((((540, 2000),),) + ((),) * 6, "start < end", id="past_midnight"),
    ],
)
def test_schedule_constructor_rejects(week, message):
    with pytest.raises(ValueError, match=message):
        Schedule("UTC", week)


def test_bad_arguments():
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(at("2026-03-04 10:00"), -1, UTC_OFFICE)
    aware = datetime.fromisoformat("2026-03-04 10:00+00:00")
    with pytest.raises(ValueError, match="naive"):
        add_business_minutes(aware, 60, UTC_OFFICE)
    with pytest.raises(ValueError, match="naive"):
        business_minutes_between(at("2026-03-04 10:00"), aware, UTC_OFFICE)
