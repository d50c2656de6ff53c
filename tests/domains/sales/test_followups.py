"""Follow-up reminders without HTTP: setting them, the My day query, the morning mail
(at the person's local morning, once per day however often the job runs, also from
two workers at once) and the iCalendar feed (parsed back with ``icalendar``)."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.sales import followups
from portal.domains.sales.models import Outcome
from portal.domains.sales.models_rules import FollowUpDigest
from portal.mail.models import OutboxMessage
from tests.domains.sales import rules_support as build

DAY = date(2030, 6, 12)


def _digests() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "sales_follow_ups")))


def test_follow_ups_for_lists_today_and_overdue_open_ones_only(ctx):
    ana, ben = build.person(), build.person()
    overdue = build.opportunity(title="Overdue", next_contact_on=DAY - timedelta(days=2), next_contact_by_id=ana.id)
    today = build.opportunity(title="Today", next_contact_on=DAY, next_contact_by_id=ana.id)
    build.opportunity(title="Tomorrow", next_contact_on=DAY + timedelta(days=1), next_contact_by_id=ana.id)
    build.opportunity(title="Ben's", next_contact_on=DAY, next_contact_by_id=ben.id)
    build.opportunity(
        title="Won", next_contact_on=DAY, next_contact_by_id=ana.id, stage_id=build.stage("won").id, outcome=Outcome.WON
    )
    found = followups.follow_ups_for(ana, DAY)
    assert [(f.opportunity.id, f.is_overdue) for f in found] == [(overdue.id, True), (today.id, False)]


def test_set_follow_up_checks_its_input(ctx):
    ana = build.person()
    opp = build.opportunity()
    with pytest.raises(InvalidInput) as caught:
        followups.set_follow_up(opp, date(1900, 1, 1), None, actor=ana, today=DAY)
    assert set(caught.value.errors) == {"next_contact_on", "next_contact_by_id"}
    followups.set_follow_up(opp, DAY, ana, actor=ana, today=DAY)
    assert (opp.next_contact_on, opp.next_contact_by_id) == (DAY, ana.id)
    followups.clear_follow_up(opp, actor=ana)
    assert (opp.next_contact_on, opp.next_contact_by_id) == (None, None)


def test_the_morning_mail_waits_for_the_local_morning_and_goes_once(ctx):
    # Rome is UTC+2 in June: 04:30 UTC is 06:30 there, 05:30 UTC is 07:30.
    rosa = build.person(name="Rosa", timezone="Europe/Rome")
    build.opportunity(title="Call the Bianchis", next_contact_on=DAY, next_contact_by_id=rosa.id)
    build.opportunity(title="Old one", next_contact_on=DAY - timedelta(days=3), next_contact_by_id=rosa.id)
    db.session.commit()
    assert followups.send_morning_digests(datetime(2030, 6, 12, 4, 30)).sent == 0
    assert _digests() == []
    assert followups.send_morning_digests(datetime(2030, 6, 12, 5, 30)).sent == 1
    assert followups.send_morning_digests(datetime(2030, 6, 12, 5, 45)).sent == 0
    assert followups.send_morning_digests(datetime(2030, 6, 12, 15, 0)).sent == 0
    [mail] = _digests()
    assert mail.to_addr == rosa.email and "2030-06-12" in mail.subject
    assert "Call the Bianchis" in mail.body_text and "Old one" in mail.body_text and "overdue" in mail.body_text
    # The next local day is a new mail (the old one is still overdue).
    assert followups.send_morning_digests(datetime(2030, 6, 13, 6, 0)).sent == 1
    assert len(_digests()) == 2


def test_nobody_without_follow_ups_gets_a_mail(ctx):
    ana = build.person()
    build.opportunity(next_contact_on=DAY + timedelta(days=5), next_contact_by_id=ana.id)
    db.session.commit()
    assert followups.send_morning_digests(datetime(2030, 6, 12, 9, 0)).sent == 0


def test_two_workers_at_once_send_one_mail(app):
    with app.app_context():
        ana = build.person()
        build.opportunity(next_contact_on=DAY, next_contact_by_id=ana.id)
        db.session.commit()
        db.session.remove()
    barrier = threading.Barrier(4)
    sent: list[int] = []
    errors: list[BaseException] = []

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                sent.append(followups.send_morning_digests(datetime(2030, 6, 12, 9, 0)).sent)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assert sum(sent) == 1
    with app.app_context():
        assert len(_digests()) == 1
        assert db.session.scalar(select(func.count()).select_from(FollowUpDigest)) == 1
        db.session.remove()


def test_the_feed_token_is_hashed_revocable_and_regenerable(ctx):
    ana = build.person()
    token = followups.issue_feed_token(ana)
    assert followups.feed_of(ana).token_hash != token and len(followups.feed_of(ana).token_hash) == 64
    assert followups.feed_owner(token).id == ana.id
    newer = followups.issue_feed_token(ana)
    assert followups.feed_owner(token) is None and followups.feed_owner(newer).id == ana.id
    assert followups.revoke_feed(ana)
    assert followups.feed_owner(newer) is None
    assert followups.feed_owner("") is None and followups.feed_owner("x" * 500) is None


def test_the_feed_parses_and_shows_only_that_persons_follow_ups_in_utc(ctx):
    # New York is UTC-4 in June: 09:00 there is 13:00 UTC.
    ana = build.person(timezone="America/New_York")
    ben = build.person()
    org = Organization(name="Harbor Dental")
    db.session.add(org)
    db.session.flush()
    mine = build.opportunity(title="Renewal", organization_id=org.id, next_contact_on=DAY, next_contact_by_id=ana.id)
    build.opportunity(title="Not mine", next_contact_on=DAY, next_contact_by_id=ben.id)
    build.opportunity(title="Long ago", next_contact_on=DAY - timedelta(days=400), next_contact_by_id=ana.id)
    body = followups.calendar_feed(ana, now=datetime(2030, 6, 10, 12, 0))
    calendar = Calendar.from_ical(body)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    [event] = events
    assert str(event["summary"]) == "Follow up: Renewal (Harbor Dental)"
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start.utcoffset() == timedelta(0) and start.replace(tzinfo=None) == datetime(2030, 6, 12, 13, 0)
    assert end - start == timedelta(minutes=30)
    uid = str(event["uid"])
    assert uid == f"opportunity-{mine.id}-follow-up@portal.example.test"
    # Moving the follow-up keeps the UID (the calendar app moves the event).
    mine.next_contact_on = DAY + timedelta(days=1)
    db.session.flush()
    [moved] = Calendar.from_ical(followups.calendar_feed(ana, now=datetime(2030, 6, 10, 12, 0))).walk("VEVENT")
    assert str(moved["uid"]) == uid


def test_the_worker_knows_both_sales_jobs_and_they_run(app):
    from portal.cli import load_jobs
    from portal.jobs.registry import HANDLERS, SCHEDULE

    load_jobs()
    assert {"sales.follow_up_digests", "sales.auto_close"} <= set(SCHEDULE)
    with app.app_context():
        assert "follow_up_digests=" in HANDLERS["sales.follow_up_digests"]()
        assert "closed=" in HANDLERS["sales.auto_close"]()
        db.session.remove()
