"""Follow-up reminders: *Next contact date* and *Next contact by* on an opportunity.

- ``set_follow_up`` / ``clear_follow_up``: the small form on the opportunity page;
- ``follow_ups_for(staff, day)``: what the My day dashboard lists (due that day and
  overdue, open opportunities only);
- ``send_morning_digests(now)``: one mail per staff member per local day listing
  that day's follow-ups, sent once their local clock passes ``SALES_MORNING_HOUR``.
  The claim is a row unique on (staff, day) inserted in a savepoint: a second run,
  or a second worker at the same moment, hits the constraint and sends nothing;
- the private iCalendar feed: a random token per staff member, only its SHA-256
  kept, revoked or regenerated from their own page; ``calendar_feed`` renders the
  person's follow-ups as timed events in UTC with a stable UID.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.routing import BuildError

from portal.core.db import utcnow
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Opportunity, Outcome
from portal.domains.sales.models_rules import CalendarFeed, FollowUpDigest
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event
from portal.mail.outbox import queue_mail

# A follow-up years away (or in 1900) is a typo.
FOLLOW_UP_YEARS = 5
# The feed shows follow-ups from this long ago on (older overdue ones stay on My day).
FEED_PAST_DAYS = 90
FEED_LIMIT = 1000
EVENT_MINUTES = 30


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_now(staff: StaffUser, now: datetime | None = None) -> datetime:
    return (now or utcnow()).replace(tzinfo=UTC).astimezone(_zone(staff.timezone))


# --- setting it ------------------------------------------------------------------------


def set_follow_up(
    opportunity: Opportunity, on: date | None, by: StaffUser | None, *, actor: StaffUser, today: date
) -> Opportunity:
    """Set the next contact date and person (both needed), on the timeline."""
    errors: dict[str, str] = {}
    if on is None:
        errors["next_contact_on"] = _("Enter the date of the next contact.")
    elif not today - timedelta(days=366) <= on <= date(today.year + FOLLOW_UP_YEARS, 12, 31):
        errors["next_contact_on"] = _("Enter a date within the next %(n)s years.", n=FOLLOW_UP_YEARS)
    if by is None or not by.is_enabled:
        errors["next_contact_by_id"] = _("Choose who makes the next contact.")
    if errors:
        raise InvalidInput(errors)
    opportunity.next_contact_on = on
    opportunity.next_contact_by_id = by.id
    record_event(
        Subject.OPPORTUNITY,
        opportunity.id,
        "follow_up_set",
        staff=actor,
        detail=_("Next contact on %(day)s by %(name)s.", day=on.isoformat(), name=by.name),
    )
    db.session.flush()
    return opportunity


def clear_follow_up(opportunity: Opportunity, *, actor: StaffUser) -> Opportunity:
    if opportunity.next_contact_on is not None or opportunity.next_contact_by_id is not None:
        opportunity.next_contact_on = None
        opportunity.next_contact_by_id = None
        record_event(
            Subject.OPPORTUNITY, opportunity.id, "follow_up_cleared", staff=actor, detail=_("Follow-up cleared.")
        )
        db.session.flush()
    return opportunity


# --- reading it ------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """One reminder: the opportunity, its day, and whether that day has passed."""

    opportunity: Opportunity
    on: date
    is_overdue: bool


def follow_ups_for(staff: StaffUser, day: date, limit: int = 200) -> list[FollowUp]:
    """``staff``'s follow-ups due on ``day`` or before (overdue first), open
    opportunities only, with their organization loaded: one query."""
    rows = db.session.scalars(
        select(Opportunity)
        .options(joinedload(Opportunity.organization))
        .where(
            Opportunity.next_contact_by_id == staff.id,
            Opportunity.next_contact_on <= day,
            Opportunity.outcome == Outcome.OPEN,
        )
        .order_by(Opportunity.next_contact_on, Opportunity.id)
        .limit(limit)
    )
    return [FollowUp(opp, opp.next_contact_on, opp.next_contact_on < day) for opp in rows]


# --- the morning mail ----------------------------------------------------------------


@dataclass
class DigestReport:
    sent: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return f"follow_up_digests={self.sent} already_sent={self.skipped}"


def _opportunity_url(opportunity: Opportunity) -> str:
    try:
        return external_url("admin.opportunities.show", opportunity_id=opportunity.id)
    except BuildError:
        return ""


def send_morning_digest(staff: StaffUser, now: datetime | None = None) -> bool:
    """Mail ``staff`` their follow-ups of their local today, once per day; only after
    their local morning hour and only when there is something to list. True when this
    call queued the mail."""
    local = local_now(staff, now)
    if local.hour < current_app.config.get("SALES_MORNING_HOUR", 7):
        return False
    day = local.date()
    items = follow_ups_for(staff, day)
    if not items:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(FollowUpDigest(staff_id=staff.id, day=day, count=len(items)))
    except IntegrityError:  # sent already, by an earlier run or another worker
        return False
    queue_mail(
        staff.email,
        _("Your follow-ups for %(day)s (%(n)s)", day=day.isoformat(), n=len(items)),
        "sales_follow_ups",
        kind="sales_follow_ups",
        user=staff,
        day=day,
        items=[(item, _opportunity_url(item.opportunity)) for item in items],
    )
    return True


def send_morning_digests(now: datetime | None = None) -> DigestReport:
    """The job's body: everyone with a follow-up due by their local today whose
    morning has come and who has no mail for that day yet. Commits per person: the
    claim and the outbox row commit together or not at all, so a worker killed
    mid-run leaves nobody claimed without a mail."""
    now = now or utcnow()
    report = DigestReport()
    # The latest local date anywhere is at most a day after UTC's.
    horizon = now.date() + timedelta(days=1)
    staff_ids = list(
        db.session.scalars(
            select(Opportunity.next_contact_by_id)
            .where(
                Opportunity.next_contact_by_id.is_not(None),
                Opportunity.next_contact_on <= horizon,
                Opportunity.outcome == Outcome.OPEN,
            )
            .distinct()
        )
    )
    if not staff_ids:
        return report
    people = list(
        db.session.scalars(
            select(StaffUser).where(StaffUser.id.in_(staff_ids), StaffUser.is_enabled).order_by(StaffUser.id)
        )
    )
    for person in people:
        if send_morning_digest(person, now):
            report.sent += 1
        else:
            report.skipped += 1
        db.session.commit()
    return report


# --- the calendar feed -------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_feed_token(staff: StaffUser) -> str:
    """A new feed token for ``staff`` (the old URL stops working); shown once."""
    token = secrets.token_urlsafe(32)
    feed = db.session.get(CalendarFeed, staff.id)
    if feed is None:
        db.session.add(CalendarFeed(staff_id=staff.id, token_hash=_hash(token)))
    else:
        feed.token_hash = _hash(token)
        feed.created_at = utcnow()
    db.session.flush()
    return token


def revoke_feed(staff: StaffUser) -> bool:
    feed = db.session.get(CalendarFeed, staff.id)
    if feed is None:
        return False
    db.session.delete(feed)
    db.session.flush()
    return True


def feed_of(staff: StaffUser) -> CalendarFeed | None:
    return db.session.get(CalendarFeed, staff.id)


def feed_owner(token: str) -> StaffUser | None:
    """The enabled staff member whose feed this token opens, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(StaffUser)
        .join(CalendarFeed, CalendarFeed.staff_id == StaffUser.id)
        .where(CalendarFeed.token_hash == _hash(token), StaffUser.is_enabled)
    )


def _uid_domain() -> str:
    from urllib.parse import urlsplit

    return urlsplit(current_app.config["BASE_URL"]).hostname or "porchlight.localhost"


def calendar_feed(staff: StaffUser, now: datetime | None = None) -> bytes:
    """``staff``'s follow-ups as an iCalendar document: one event per open opportunity
    with a next contact by them, at 09:00 their time on that day, 30 minutes, in UTC.
    The UID depends only on the opportunity, so a moved follow-up updates the event."""
    now = now or utcnow()
    zone = _zone(staff.timezone)
    since = local_now(staff, now).date() - timedelta(days=FEED_PAST_DAYS)
    rows = db.session.scalars(
        select(Opportunity)
        .options(joinedload(Opportunity.organization))
        .where(
            Opportunity.next_contact_by_id == staff.id,
            Opportunity.next_contact_on >= since,
            Opportunity.outcome == Outcome.OPEN,
        )
        .order_by(Opportunity.next_contact_on, Opportunity.id)
        .limit(FEED_LIMIT)
    )
    calendar = Calendar()
    calendar.add("prodid", "-//Porchlight//Follow-ups//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("Follow-ups of %(name)s", name=staff.name))
    domain = _uid_domain()
    stamp = now.replace(tzinfo=UTC)
    for opportunity in rows:
        start = datetime.combine(opportunity.next_contact_on, time(9, 0), tzinfo=zone).astimezone(UTC)
        event = Event()
        event.add("uid", f"opportunity-{opportunity.id}-follow-up@{domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=EVENT_MINUTES))
        customer = opportunity.organization.name if opportunity.organization is not None else ""
        summary = _("Follow up: %(title)s", title=opportunity.title)
        event.add("summary", f"{summary} ({customer})" if customer else summary)
        url = _opportunity_url(opportunity)
        if url:
            event.add("url", url)
            event.add("description", url)
        calendar.add_component(event)
    return calendar.to_ical()
