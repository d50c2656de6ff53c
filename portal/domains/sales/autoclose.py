"""Auto-close: an opportunity waiting on the customer that hears nothing for N
business days closes as lost with the reason "No reply".

- Waiting means its stage has ``is_waiting_on_customer``. The job notes when it first
  sees an opportunity in such a stage (``WaitingPeriod``; a move to another stage
  starts a new period), so the count starts when the waiting starts, not when the
  opportunity was made.
- Quiet since: the later of that moment and the last customer activity (a logged
  reply, call or meeting, a portal view or signature of its proposal: ``activity``).
- Days are counted on the business calendar (``SALES_CALENDAR``: a service calendar's
  name; empty means the default SLA's calendar, and with none Monday to Friday):
  the business dates after the quiet day up to today, in the calendar's time zone.
- ``SALES_AUTO_CLOSE_WARN_DAYS`` before, the rep is mailed once per quiet period
  (a row unique on the opportunity and the quiet moment is the claim).
- Closing is a conditional UPDATE that repeats the conditions (still open, still in
  that stage, still quiet since then): a second run, or two workers at once, close it
  once, and only the run that closed it writes the timeline and the reason.
- ``reopen_opportunity`` puts a closed-for-no-reply opportunity back in the stage it
  was in, in one click; the count starts again from the reopening.

``SALES_AUTO_CLOSE_DAYS = 0`` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import DateTime, and_, delete, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from portal.core.db import utcnow
from portal.core.errors import NotAllowed
from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.identity.models import StaffUser
from portal.domains.sales import lists
from portal.domains.sales.models import LostReason, LostReasonKey, Opportunity, Outcome, Stage
from portal.domains.sales.models_rules import AutoCloseWarning, AutoClosure, WaitingPeriod
from portal.domains.sales.opportunities import apply_stage, close_lost, load_opportunity
from portal.domains.service_desk.business_hours import Schedule
from portal.domains.service_desk.models import ServiceCalendar, Sla
from portal.domains.service_desk.setup import calendar_schedule
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event
from portal.mail.outbox import queue_mail

BATCH = 200
WEEKDAYS = Schedule.from_rows("UTC", [(day, 9 * 60, 17 * 60) for day in range(5)])


def business_schedule() -> Schedule:
    """The calendar auto-close counts days on (see the module docstring)."""
    name = (current_app.config.get("SALES_CALENDAR") or "").strip()
    calendar = None
    if name:
        calendar = db.session.scalar(select(ServiceCalendar).where(ServiceCalendar.name == name))
    if calendar is None:
        calendar = db.session.scalar(
            select(ServiceCalendar).join(Sla, Sla.calendar_id == ServiceCalendar.id).where(Sla.is_default)
        )
    schedule = calendar_schedule(calendar) if calendar is not None else None
    return schedule or WEEKDAYS


def is_business_day(day: date, schedule: Schedule) -> bool:
    return bool(schedule.week[day.weekday()]) and day not in schedule.holidays


def business_days_between(start: datetime, end: datetime, schedule: Schedule) -> int:
    """Business dates after ``start``'s local date, up to and including ``end``'s
    (both naive UTC): 0 on the same day, 1 the next working day, and so on."""
    zone = ZoneInfo(schedule.timezone)
    first = start.replace(tzinfo=UTC).astimezone(zone).date()
    last = end.replace(tzinfo=UTC).astimezone(zone).date()
    if last <= first:
        return 0
    span = (last - first).days
    if span > 3 * 366:
        return span  # far past any setting; no need to walk the days
    return sum(1 for offset in range(1, span + 1) if is_business_day(first + timedelta(days=offset), schedule))


def _settings() -> tuple[int, int]:
    days = int(current_app.config.get("SALES_AUTO_CLOSE_DAYS", 10) or 0)
    warn = int(current_app.config.get("SALES_AUTO_CLOSE_WARN_DAYS", 2) or 0)
    return days, min(max(warn, 0), days)


@dataclass
class AutoCloseReport:
    tracked: int = 0
    warned: int = 0
    closed: int = 0

    def __str__(self) -> str:
        return f"waiting_tracked={self.tracked} warned={self.warned} closed={self.closed}"


def _waiting_stage_ids() -> list[int]:
    return list(db.session.scalars(select(Stage.id).where(Stage.is_waiting_on_customer, Stage.outcome == Outcome.OPEN)))


def track_waiting(now: datetime, stage_ids: list[int]) -> int:
    """Start a waiting period for each open opportunity in a waiting stage that has
    none for its current stage, and end those of opportunities that left waiting (so
    coming back starts a new one): three statements, any row count."""
    db.session.execute(
        delete(WaitingPeriod)
        .where(
            WaitingPeriod.opportunity_id.in_(
                select(Opportunity.id).where(
                    or_(Opportunity.outcome != Outcome.OPEN, Opportunity.stage_id.not_in(stage_ids or [-1]))
                )
            )
        )
        .execution_options(synchronize_session=False)
    )
    if not stage_ids:
        return 0
    moved = db.session.execute(
        update(WaitingPeriod)
        .where(
            WaitingPeriod.opportunity_id == Opportunity.id,
            Opportunity.stage_id.in_(stage_ids),
            WaitingPeriod.stage_id != Opportunity.stage_id,
        )
        .values(stage_id=Opportunity.stage_id, since=now)
        .returning(WaitingPeriod.opportunity_id)
        .execution_options(synchronize_session=False)
    ).all()
    missing = (
        select(Opportunity.id, Opportunity.stage_id, literal(now, DateTime()))
        .outerjoin(WaitingPeriod, WaitingPeriod.opportunity_id == Opportunity.id)
        .where(
            Opportunity.stage_id.in_(stage_ids),
            Opportunity.outcome == Outcome.OPEN,
            WaitingPeriod.opportunity_id.is_(None),
        )
    )
    added = db.session.execute(
        insert(WaitingPeriod)
        .from_select(["opportunity_id", "stage_id", "since"], missing)
        .returning(WaitingPeriod.opportunity_id)
    ).all()
    return len(moved) + len(added)


def quiet_since(period_since: datetime, last_activity: datetime | None) -> datetime:
    return max(period_since, last_activity) if last_activity is not None else period_since


def _url(opportunity_id: int) -> str:
    try:
        return external_url("admin.opportunities.show", opportunity_id=opportunity_id)
    except BuildError:
        return ""


def _warn(opportunity: Opportunity, since: datetime, closes_in: int) -> bool:
    """Mail the rep once per quiet period; True when this call claimed the warning."""
    try:
        with db.session.begin_nested():
            db.session.add(AutoCloseWarning(opportunity_id=opportunity.id, quiet_since=since))
    except IntegrityError:
        return False
    record_event(
        Subject.OPPORTUNITY,
        opportunity.id,
        "auto_close_warned",
        detail=_("No reply from the customer: closes in %(n)s business days.", n=closes_in),
    )
    rep = db.session.get(StaffUser, opportunity.rep_id) if opportunity.rep_id else None
    if rep is not None and rep.is_enabled:
        queue_mail(
            rep.email,
            _("No reply: %(title)s closes in %(n)s business days", title=opportunity.title, n=closes_in),
            "sales_auto_close_warning",
            kind="sales_auto_close_warning",
            user=rep,
            opportunity=opportunity,
            days=closes_in,
            url=_url(opportunity.id),
        )
    return True


def _no_reply_reason() -> LostReason | None:
    return lists.lost_reason_by_key(LostReasonKey.NO_REPLY)


def _close(opportunity: Opportunity, since: datetime, now: datetime, reason: LostReason | None) -> bool:
    """Close it as lost ("No reply") unless something changed since it was read; True
    when this run closed it. The claim is a conditional UPDATE repeating the conditions:
    on PostgreSQL a second run waits on the row and then finds it changed, on SQLite
    writers are serialised. The close itself is the pipeline's one copy of "lost"
    (``opportunities.close_lost``)."""
    claimed = db.session.execute(
        update(Opportunity)
        .where(
            Opportunity.id == opportunity.id,
            Opportunity.outcome == Outcome.OPEN,
            Opportunity.stage_id == opportunity.stage_id,
            (Opportunity.last_customer_activity_at.is_(None)) | (Opportunity.last_customer_activity_at <= since),
        )
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return False
    previous_stage_id = opportunity.stage_id
    db.session.expire(opportunity)
    loaded = load_opportunity(opportunity.id)
    try:
        closed = close_lost(loaded, [reason] if reason else [], [], "", None, via=_("auto-close: no reply"))
    except NotAllowed:  # no active lost stage: leave it open, nothing half-done
        return False
    if not closed:
        return False
    db.session.add(
        AutoClosure(opportunity_id=loaded.id, previous_stage_id=previous_stage_id, closed_at=loaded.closed_at)
    )
    record_event(
        Subject.OPPORTUNITY,
        loaded.id,
        "auto_closed",
        detail=_("Closed as lost: no reply from the customer since %(day)s.", day=since.date().isoformat()),
    )
    db.session.flush()
    return True


def run_auto_close(now: datetime | None = None, batch: int = BATCH) -> AutoCloseReport:
    """The scheduled job's body: track waiting, warn, close. Commits per batch."""
    now = now or utcnow()
    report = AutoCloseReport()
    days, warn_days = _settings()
    if days <= 0:
        return report
    stage_ids = _waiting_stage_ids()
    report.tracked = track_waiting(now, stage_ids)
    db.session.commit()
    if not stage_ids:
        return report
    schedule = business_schedule()
    reason = _no_reply_reason()
    # Business days never outnumber calendar days: anything quiet for fewer calendar
    # days than the warning needs is skipped in SQL.
    threshold = now - timedelta(days=max(days - warn_days, 1))
    last_id = 0
    while True:
        rows = db.session.execute(
            select(Opportunity, WaitingPeriod.since)
            .join(
                WaitingPeriod,
                and_(WaitingPeriod.opportunity_id == Opportunity.id, WaitingPeriod.stage_id == Opportunity.stage_id),
            )
            .where(
                Opportunity.id > last_id,
                Opportunity.outcome == Outcome.OPEN,
                Opportunity.stage_id.in_(stage_ids),
                WaitingPeriod.since <= threshold,
                (Opportunity.last_customer_activity_at.is_(None))
                | (Opportunity.last_customer_activity_at <= threshold),
            )
            .order_by(Opportunity.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        for opportunity, period_since in rows:
            last_id = opportunity.id
            since = quiet_since(period_since, opportunity.last_customer_activity_at)
            elapsed = business_days_between(since, now, schedule)
            if elapsed >= days:
                report.closed += _close(opportunity, since, now, reason)
            elif warn_days and elapsed >= days - warn_days:
                report.warned += _warn(opportunity, since, days - elapsed)
        db.session.commit()
    return report


def closure_of(opportunity: Opportunity) -> AutoClosure | None:
    """The open auto-closure of a lost opportunity (what reopening undoes), or None."""
    if opportunity.outcome != Outcome.LOST:
        return None
    # The closure of *this* close: one closed by hand later is not undone here.
    return db.session.scalar(
        select(AutoClosure)
        .where(
            AutoClosure.opportunity_id == opportunity.id,
            AutoClosure.reopened_at.is_(None),
            AutoClosure.closed_at == opportunity.closed_at,
        )
        .order_by(AutoClosure.id.desc())
        .limit(1)
    )


def closes_on(opportunity: Opportunity, now: datetime | None = None) -> int | None:
    """Business days left before auto-close, for the opportunity's page; None when it
    is not counting (not waiting, closed, or auto-close off)."""
    days, _warn_days = _settings()
    if days <= 0 or opportunity.outcome != Outcome.OPEN:
        return None
    period = db.session.get(WaitingPeriod, opportunity.id)
    if period is None or period.stage_id != opportunity.stage_id:
        return None
    since = quiet_since(period.since, opportunity.last_customer_activity_at)
    return max(days - business_days_between(since, now or utcnow(), business_schedule()), 0)


def reopen_opportunity(opportunity: Opportunity, *, actor: StaffUser, now: datetime | None = None) -> Opportunity:
    """Undo a close for no reply: back to the stage it was in (or the first open
    stage when that one is gone), the "No reply" reason removed, the count restarted.
    A second click changes nothing (409)."""
    now = now or utcnow()
    closure = closure_of(opportunity)
    if closure is None:
        raise NotAllowed(_("Only an opportunity closed for no reply can be reopened here."))
    stage = db.session.get(Stage, closure.previous_stage_id) if closure.previous_stage_id else None
    if stage is None or not stage.is_active or stage.outcome != Outcome.OPEN:
        stage = db.session.scalar(
            select(Stage).where(Stage.is_active, Stage.outcome == Outcome.OPEN).order_by(Stage.position, Stage.id)
        )
    if stage is None:
        raise NotAllowed(_("There is no open stage to reopen it in."))
    reopened = db.session.execute(
        update(AutoClosure)
        .where(AutoClosure.id == closure.id, AutoClosure.reopened_at.is_(None))
        .values(reopened_at=now, reopened_by_id=actor.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not reopened:
        raise NotAllowed(_("Only an opportunity closed for no reply can be reopened here."))
    db.session.expire(opportunity)
    loaded = load_opportunity(opportunity.id)
    loaded.lost_reasons = []
    loaded.competitors = []
    loaded.lost_detail = None
    apply_stage(loaded, stage, actor, detail=_("Reopened after closing for no reply: %(stage)s", stage=stage.name))
    period = db.session.get(WaitingPeriod, opportunity.id)
    if period is not None:
        period.stage_id, period.since = stage.id, now
    elif stage.is_waiting_on_customer:
        db.session.add(WaitingPeriod(opportunity_id=opportunity.id, stage_id=stage.id, since=now))
    record_event(Subject.OPPORTUNITY, opportunity.id, "reopened", staff=actor)
    db.session.flush()
    return loaded
