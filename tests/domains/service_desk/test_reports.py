"""The first-response report, without HTTP: medians, averages and SLA attainment by
month, by organization (parents rolling up their sub-organizations) and by staff member.

The world: G > P > {A, B}, and an unrelated U; one SLA (60 minutes to first response,
Monday to Friday 9-17 UTC) set on G and U. "Now" is Monday 2026-04-06 09:30 UTC.

    ticket  org  opened            answered            by  minutes  outcome
    t1      A    Mon 03-09 09:00   09:30               S1   30      met
    t2      A    Mon 03-09 09:00   11:00               S2  120      missed
    t3      P    Tue 03-10 09:00   09:10               S1   10      met
    t4      B    Wed 03-11 09:00   -                   -     -      missed (due passed)
    t5      U    Mon 04-06 09:00   09:20               S2   20      met
    t6      U    Mon 04-06 09:00   -                   -     -      pending (due 10:00)
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from portal.domains.service_desk.reports import ReportFilters, first_response_report
from tests.factories import staff_message

NOW = datetime(2026, 4, 6, 9, 30)
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


def _answer(app, ticket, staff, at: datetime) -> None:
    staff_message(app, ticket, staff, now=at)


@pytest.fixture
def world(app, make):
    sla = make.sla(targets={"normal": (60, 480)})
    g = make.organization_with("Group Holdings", sla_id=sla.id)
    p = make.organization_with("Parkside", parent_id=g.id)
    a = make.organization_with("Parkside East", parent_id=p.id)
    b = make.organization_with("Parkside West", parent_id=p.id)
    u = make.organization_with("Unrelated Dental", sla_id=sla.id)
    s1, s2 = make.staff(role="admin", name="Sue One"), make.staff(role="admin", name="Sid Two")
    in_a, in_p, in_b, in_u = (make.contact(org) for org in (a, p, b, u))
    t1 = make.ticket(in_a, now=datetime(2026, 3, 9, 9, 0))
    t2 = make.ticket(in_a, now=datetime(2026, 3, 9, 9, 0))
    t3 = make.ticket(in_p, now=datetime(2026, 3, 10, 9, 0))
    make.ticket(in_b, now=datetime(2026, 3, 11, 9, 0))
    t5 = make.ticket(in_u, now=datetime(2026, 4, 6, 9, 0))
    make.ticket(in_u, now=datetime(2026, 4, 6, 9, 0))
    _answer(app, t1, s1, datetime(2026, 3, 9, 9, 30))
    _answer(app, t2, s2, datetime(2026, 3, 9, 11, 0))
    _answer(app, t3, s1, datetime(2026, 3, 10, 9, 10))
    _answer(app, t5, s2, datetime(2026, 4, 6, 9, 20))
    return {"G": g, "P": p, "A": a, "B": b, "U": u, "S1": s1, "S2": s2}


def _report(app, first=MARCH, last=APRIL, organization=None):
    with app.app_context():
        return first_response_report(ReportFilters(first, last, organization.id if organization else None), now=NOW)


def _figures(row):
    return (
        row.tickets,
        row.responded,
        row.median_minutes and round(row.median_minutes, 2),
        row.average_minutes and round(row.average_minutes, 2),
        row.met,
        row.missed,
        row.attainment and round(row.attainment, 1),
    )


def test_overall_minutes_are_median_and_average_of_the_answered_and_attainment_counts_overdue_as_missed(app, world):
    report = _report(app)
    # answered in 30, 120, 10, 20 minutes; met t1 t3 t5, missed t2 t4; t6 not yet due
    assert _figures(report.overall) == (6, 4, 25.0, 45.0, 3, 2, 60.0)


def test_by_month_counts_the_month_each_ticket_was_opened_in_utc(app, world):
    report = _report(app)
    assert [row.key for row in report.by_month] == ["2026-03", "2026-04"]
    assert [row.label for row in report.by_month] == ["March 2026", "April 2026"]
    assert _figures(report.by_month[0]) == (4, 3, 30.0, 53.33, 2, 2, 50.0)
    assert _figures(report.by_month[1]) == (2, 1, 20.0, 20.0, 1, 0, 100.0)


def test_by_organization_parents_roll_up_their_sub_organizations(app, world):
    rows = {row.label: _figures(row) for row in _report(app).by_organization}
    assert rows == {
        "Group Holdings": (4, 3, 30.0, 53.33, 2, 2, 50.0),  # everything below it
        "Parkside": (4, 3, 30.0, 53.33, 2, 2, 50.0),  # its own t3, with A and B
        "Parkside East": (2, 2, 75.0, 75.0, 1, 1, 50.0),
        "Unrelated Dental": (2, 1, 20.0, 20.0, 1, 0, 100.0),
        "Parkside West": (1, 0, None, None, 0, 1, 0.0),
    }
    assert [row.label for row in _report(app).by_organization][-1] == "Parkside West"  # biggest first


def test_by_staff_member_groups_by_who_answered_first(app, world):
    rows = {row.label: _figures(row) for row in _report(app).by_staff}
    assert rows == {
        "Sue One": (2, 2, 20.0, 20.0, 2, 0, 100.0),
        "Sid Two": (2, 2, 70.0, 70.0, 1, 1, 50.0),
        "No first response yet": (2, 0, None, None, 0, 1, 0.0),
    }


def test_filtering_by_organization_keeps_it_and_its_sub_organizations_but_not_its_parents(app, world):
    report = _report(app, organization=world["P"])
    assert _figures(report.overall) == (4, 3, 30.0, 53.33, 2, 2, 50.0)
    assert sorted(row.label for row in report.by_organization) == ["Parkside", "Parkside East", "Parkside West"]
    assert [row.key for row in report.by_month] == ["2026-03"]


def test_filtering_by_months_keeps_the_tickets_opened_in_them(app, world):
    report = _report(app, first=APRIL, last=APRIL)
    assert _figures(report.overall) == (2, 1, 20.0, 20.0, 1, 0, 100.0)
    assert [row.label for row in report.by_organization] == ["Unrelated Dental"]
    assert {row.label for row in report.by_staff} == {"Sid Two", "No first response yet"}


def test_a_report_without_tickets_is_empty_not_an_error(app, world):
    report = _report(app, first=date(2025, 1, 1), last=date(2025, 12, 1))
    assert _figures(report.overall) == (0, 0, None, None, 0, 0, None)
    assert report.by_month == report.by_organization == report.by_staff == []


def test_the_organization_rows_are_cut_at_the_limit_biggest_first(app, world):
    with app.app_context():
        report = first_response_report(ReportFilters(MARCH, APRIL), now=NOW, organization_rows=2)
    assert report.organizations_cut
    assert [row.tickets for row in report.by_organization] == [4, 4]


def test_a_month_range_across_a_year_end_ends_after_the_last_month():
    filters = ReportFilters(date(2026, 11, 1), date(2026, 12, 1))
    assert (filters.start, filters.end) == (datetime(2026, 11, 1), datetime(2027, 1, 1))
