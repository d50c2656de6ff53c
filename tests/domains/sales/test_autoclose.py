"""Auto-close without HTTP: the business-day count, the warning (once), the close
(idempotent, "No reply"), what resets the count (logged reply/call/meeting, a portal
view or signature of its proposal) and what does not (a note), and reopening."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.proposals.signals import proposal_signed, proposal_viewed
from portal.domains.sales import activity, autoclose
from portal.domains.sales.models import LostReason, Opportunity, Outcome, opportunity_lost_reasons
from portal.domains.sales.models_rules import AutoCloseWarning, WaitingPeriod
from portal.domains.service_desk.business_hours import Schedule
from portal.mail.models import OutboxMessage
from tests.domains.sales import rules_support as build

MONDAY = datetime(2030, 6, 10, 8, 0)


@pytest.fixture
def settings(app):
    """Close after 5 business days, warn 2 before, Monday to Friday (no SLA calendar)."""
    saved = {key: app.config.get(key) for key in ("SALES_AUTO_CLOSE_DAYS", "SALES_AUTO_CLOSE_WARN_DAYS")}
    app.config.update(SALES_AUTO_CLOSE_DAYS=5, SALES_AUTO_CLOSE_WARN_DAYS=2)
    yield
    app.config.update(saved)


def _waiting(since: datetime = MONDAY, **columns) -> Opportunity:
    """An opportunity in Proposal sent (waiting on the customer) since ``since``."""
    rep = columns.pop("rep", None) or build.person(name="Wanda Rep")
    opp = build.opportunity(stage_id=build.stage("proposal_sent").id, rep_id=rep.id, **columns)
    db.session.add(WaitingPeriod(opportunity_id=opp.id, stage_id=opp.stage_id, since=since))
    db.session.commit()
    return opp


def _warnings() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "sales_auto_close_warning")))


def _reasons(opp_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(LostReason.key)
            .join(opportunity_lost_reasons, opportunity_lost_reasons.c.lost_reason_id == LostReason.id)
            .where(opportunity_lost_reasons.c.opportunity_id == opp_id)
        )
    )


def _day(n: int) -> datetime:
    """``n`` calendar days after Monday morning, at 08:00."""
    return MONDAY + timedelta(days=n)


def test_business_days_skip_weekends_and_holidays():
    schedule = Schedule.from_rows("UTC", [(d, 540, 1020) for d in range(5)], [date(2030, 6, 12)])
    assert autoclose.business_days_between(_day(0), _day(0), schedule) == 0
    assert autoclose.business_days_between(_day(0), _day(1), schedule) == 1
    assert autoclose.business_days_between(_day(0), _day(2), schedule) == 1  # Wednesday the 12th a holiday
    assert autoclose.business_days_between(_day(0), _day(7), schedule) == 4  # the weekend and the holiday skipped


def test_the_job_starts_counting_when_it_first_sees_the_waiting_stage(ctx, settings):
    opp = build.opportunity(stage_id=build.stage("proposal_sent").id, created_at=datetime(2029, 1, 1))
    build.opportunity()  # stage New: not waiting
    db.session.commit()
    report = autoclose.run_auto_close(MONDAY)
    assert report.tracked == 1 and report.closed == 0
    assert db.session.get(WaitingPeriod, opp.id).since == MONDAY
    # Out of the waiting stage and back: a new period, counted from the return.
    opp.stage_id = build.stage("qualified").id
    db.session.commit()
    autoclose.run_auto_close(_day(1))
    assert db.session.get(WaitingPeriod, opp.id) is None
    opp.stage_id = build.stage("proposal_sent").id
    db.session.commit()
    autoclose.run_auto_close(_day(20))
    assert db.session.get(WaitingPeriod, opp.id, populate_existing=True).since == _day(20)


def test_warns_once_then_closes_once_with_no_reply(ctx, settings):
    opp = _waiting()
    assert autoclose.run_auto_close(_day(2)).warned == 0  # 2 business days: not yet
    report = autoclose.run_auto_close(_day(3))  # Thursday: 3 business days, 2 left
    assert report.warned == 1
    assert autoclose.run_auto_close(_day(3) + timedelta(hours=5)).warned == 0
    [mail] = _warnings()
    assert "2 business days" in mail.subject
    assert autoclose.run_auto_close(_day(4)).closed == 0  # Friday: 4
    assert autoclose.run_auto_close(_day(6)).closed == 0  # Sunday: still 4
    report = autoclose.run_auto_close(_day(7))  # Monday: 5
    assert report.closed == 1
    stored = db.session.get(Opportunity, opp.id, populate_existing=True)
    assert stored.outcome == Outcome.LOST and stored.closed_at is not None
    assert _reasons(opp.id) == ["no_reply"]
    assert autoclose.run_auto_close(_day(8)).closed == 0  # idempotent
    assert _reasons(opp.id) == ["no_reply"] and len(_warnings()) == 1


def test_customer_activity_resets_the_count_and_a_note_does_not(ctx, settings):
    opp = _waiting()
    actor = db.session.get(StaffUser, opp.rep_id)
    activity.log_activity(opp, "note", _day(2), "Left a voicemail", actor=actor, now=_day(2))
    db.session.commit()
    assert autoclose.run_auto_close(_day(3)).warned == 1  # the note changed nothing
    activity.log_activity(
        opp, "call", _day(3) + timedelta(hours=1), "They will decide next week", actor=actor, now=_day(4)
    )
    db.session.commit()
    assert autoclose.run_auto_close(_day(7)).closed == 0  # counted from Thursday's call: 2 days
    report = autoclose.run_auto_close(_day(8))  # 3 business days since the call: a new warning
    assert report.warned == 1 and len(_warnings()) == 2
    assert db.session.scalar(select(func.count()).select_from(AutoCloseWarning)) == 2


@pytest.mark.parametrize("signal", ["viewed", "signed"])
def test_a_portal_view_or_signature_of_its_proposal_resets_the_count(ctx, settings, make, signal):
    opp = _waiting()
    made = make.proposal()
    proposal = db.session.get(Proposal, made.id)
    proposal.opportunity_id = opp.id
    db.session.commit()
    contact = proposal.contact
    if signal == "viewed":
        proposal_viewed.send(proposal.id, contact_id=contact.id)
    else:
        proposal_signed.send(proposal, contact=contact, signature=None)
    db.session.commit()
    assert db.session.get(Opportunity, opp.id, populate_existing=True).last_customer_activity_at is not None


def test_activity_input_is_checked(ctx):
    opp = build.opportunity()
    actor = build.person()
    with pytest.raises(InvalidInput) as caught:
        activity.log_activity(opp, "telepathy", None, "", actor=actor)
    assert set(caught.value.errors) == {"kind", "happened_at"}
    with pytest.raises(InvalidInput) as caught:
        activity.log_activity(opp, "note", datetime(2999, 1, 1), "", actor=actor)
    assert set(caught.value.errors) == {"happened_at", "text"}


def test_reopen_puts_it_back_once_and_restarts_the_count(ctx, settings):
    opp = _waiting()
    autoclose.run_auto_close(_day(7))
    actor = build.person(role="manager")
    stored = db.session.get(Opportunity, opp.id, populate_existing=True)
    autoclose.reopen_opportunity(stored, actor=actor, now=_day(8))
    db.session.commit()
    stored = db.session.get(Opportunity, opp.id, populate_existing=True)
    assert stored.outcome == Outcome.OPEN and stored.stage_id == build.stage("proposal_sent").id
    assert stored.closed_at is None and _reasons(opp.id) == []
    with pytest.raises(NotAllowed):
        autoclose.reopen_opportunity(stored, actor=actor, now=_day(8))
    db.session.rollback()
    assert autoclose.run_auto_close(_day(9)).closed == 0  # the count restarted on reopening
    assert autoclose.closes_on(db.session.get(Opportunity, opp.id), now=_day(9)) == 4


def test_a_lost_opportunity_closed_by_hand_cannot_be_reopened_here(ctx):
    opp = build.opportunity(stage_id=build.stage("lost").id, outcome=Outcome.LOST)
    with pytest.raises(NotAllowed):
        autoclose.reopen_opportunity(opp, actor=build.person())


def test_zero_days_turns_it_off(ctx, app):
    saved = app.config.get("SALES_AUTO_CLOSE_DAYS")
    app.config["SALES_AUTO_CLOSE_DAYS"] = 0
    try:
        _waiting()
        assert autoclose.run_auto_close(_day(30)).closed == 0
    finally:
        app.config["SALES_AUTO_CLOSE_DAYS"] = saved


def test_no_reply_reason_exists(ctx):
    assert db.session.scalar(select(LostReason).where(LostReason.key == "no_reply")) is not None
