"""Times: one formatter per use (date, date-time with the zone, relative), everywhere."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from flask import render_template_string
from sqlalchemy import update

from portal.core.extensions import db
from portal.core.templating import format_day, format_moment, format_relative
from portal.domains.identity.models import StaffUser
from tests.portal.test_tickets import signed_in

DEADLINE = datetime(2026, 12, 1, 8, 0)  # stored UTC, naive


def test_datetime_has_no_seconds_and_carries_the_zone_abbreviation(app):
    with app.test_request_context():
        assert re.fullmatch(r"Dec 1, 2026, 9:00\sAM CET", format_moment(DEADLINE, tz="Europe/Rome"))
        assert re.fullmatch(r"Dec 1, 2026, 3:00\sAM EST", format_moment(DEADLINE, tz="America/New_York"))
        assert re.fullmatch(r"Dec 1, 2026, 8:00\sAM UTC", format_moment(DEADLINE, tz="UTC"))


def test_a_zone_without_an_abbreviation_is_labelled_by_its_offset(app):
    with app.test_request_context():
        assert format_moment(DEADLINE, tz="Asia/Dubai").endswith(" UTC+04")


def test_date_is_the_day_in_the_viewers_zone(app):
    with app.test_request_context():
        late = datetime(2026, 12, 1, 23, 30)
        assert format_day(late, tz="UTC") == "Dec 1, 2026"
        assert format_day(late, tz="Europe/Rome") == "Dec 2, 2026"  # already the next day there
        assert format_day(date(2026, 12, 25)) == "Dec 25, 2026"


def test_relative_says_how_far_from_now(app):
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    with app.test_request_context():
        assert format_relative(datetime(2026, 12, 1, 10, 0), now=now) == "in 2 hours"
        assert format_relative(datetime(2026, 11, 28, 8, 0), now=now) == "3 days ago"
        assert format_relative(datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=5, minutes=1)) == "in 5 hours"


def test_the_filters_are_registered_and_empty_values_give_nothing(app):
    with app.test_request_context():
        out = render_template_string(
            "{{ t|datetime(tz='Europe/Rome') }}|{{ t|date(tz='UTC') }}|{{ none|datetime }}|{{ none|relative }}",
            t=DEADLINE,
            none=None,
        )
    assert re.fullmatch(r"Dec 1, 2026, 9:00\sAM CET\|Dec 1, 2026\|\|", out)


def test_the_same_deadline_reads_the_same_for_a_contact_and_staff_each_with_their_zone(app, make, login):
    # It read "6:00 AM" to the customer and "11:00 AM" to staff, unlabelled.
    contact = make.contact(timezone="America/New_York")
    ticket = make.ticket(contact, priority="normal", now=datetime(2026, 12, 7, 10, 0))  # first response 14:00 UTC
    staff = make.staff(role="admin")
    with app.app_context():
        db.session.execute(update(StaffUser).where(StaffUser.id == staff.id).values(timezone="Europe/Berlin"))
        db.session.commit()
    portal = signed_in(app, contact).get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert re.search(r"First response by Dec 7, 2026, 9:00\sAM EST", portal)
    admin = app.test_client()
    login(admin, staff)
    page = admin.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
    assert re.search(r"Dec 7, 2026, 3:00\sPM CET", page), page
    assert not re.search(r"\d:\d\d:\d\d", portal + page)  # no seconds anywhere


def test_staff_and_customer_emails_label_their_zone(app, make):
    from tests.factories import outbox

    contact = make.contact(timezone="America/New_York")
    make.ticket(contact, priority="normal", now=datetime(2026, 12, 7, 10, 0))
    bodies = [m["body_text"] for m in outbox(app)]
    to_contact = next(b for b, m in zip(bodies, outbox(app), strict=True) if m["to_addr"] == contact.email)
    assert re.search(r"We will answer by Dec 7, 2026, 9:00\sAM EST\.", to_contact), to_contact
