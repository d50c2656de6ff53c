"""Assignment rules, teams, absences, follow-up reminders, logged activity and
auto-close bookkeeping: the tables of stories 4, 5 and 6 of the sales pipeline.

They live apart from ``models.py`` (opportunities, leads and the admin-edited lists)
so the two halves of the domain change without stepping on each other.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import MONEY, created_at_column
from portal.core.extensions import db

if TYPE_CHECKING:
    from portal.domains.identity.models import StaffUser


class RuleTarget:
    """What a rule applies to (``AssignmentRule.applies_to``)."""

    ANY = "any"
    OPPORTUNITY = "opportunity"
    LEAD = "lead"

    ALL = (ANY, OPPORTUNITY, LEAD)


class SalesTeam(db.Model):
    """A named set of staff a round-robin rule shares work among."""

    __tablename__ = "sales_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = created_at_column()

    members: Mapped[list[SalesTeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", lazy="selectin", order_by="SalesTeamMember.id"
    )


class SalesTeamMember(db.Model):
    """One rep of a team; ``weight`` is their capacity (2 takes twice the work of 1)."""

    __tablename__ = "sales_team_members"
    __table_args__ = (UniqueConstraint("team_id", "staff_id", name="uq_sales_team_members_team_staff"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("sales_teams.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    weight: Mapped[int] = mapped_column(default=1)

    team: Mapped[SalesTeam] = relationship(back_populates="members")
    staff: Mapped[StaffUser] = relationship(lazy="joined")


class AssignmentRule(db.Model):
    """One line of the ordered rule list: conditions (empty = any) and an action.

    The first active rule whose every condition holds assigns the record: to ``rep``,
    or round robin among ``team``. ``fired_count`` is bumped by an atomic UPDATE at
    the start of every round-robin pick, which is also the lock that serialises picks
    of the same rule (a row lock on PostgreSQL, the write lock on SQLite).
    """

    __tablename__ = "sales_assignment_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0, index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    applies_to: Mapped[str] = mapped_column(String(20), default=RuleTarget.ANY)
    # Conditions
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sales_sources.id", ondelete="SET NULL"))
    type_id: Mapped[int | None] = mapped_column(ForeignKey("sales_opportunity_types.id", ondelete="SET NULL"))
    zone: Mapped[str] = mapped_column(String(80), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    amount_min: Mapped[Decimal | None] = mapped_column(MONEY)
    amount_max: Mapped[Decimal | None] = mapped_column(MONEY)
    # Action: a named rep, or round robin among a team.
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("sales_teams.id", ondelete="SET NULL"))
    fired_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()

    rep: Mapped[StaffUser | None] = relationship(lazy="joined")
    team: Mapped[SalesTeam | None] = relationship(lazy="joined")


class RuleCounter(db.Model):
    """How many records a round-robin rule has given each rep (the fairness ledger)."""

    __tablename__ = "sales_rule_counters"

    rule_id: Mapped[int] = mapped_column(ForeignKey("sales_assignment_rules.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    assigned: Mapped[int] = mapped_column(default=0)


class AssignmentFlag(db.Model):
    """A record no rule could assign (no rule matched, or no eligible rep): it stays
    unassigned and shows on the manager's dashboard until someone takes it."""

    __tablename__ = "sales_assignment_flags"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", name="uq_sales_assignment_flags_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at_column()


class StaffAbsence(db.Model):
    """A staff member on leave from ``starts_on`` to ``ends_on`` (both included)."""

    __tablename__ = "staff_absences"
    __table_args__ = (Index("ix_staff_absences_staff_days", "staff_id", "starts_on", "ends_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()


class CalendarFeed(db.Model):
    """A staff member's private iCalendar feed: only the SHA-256 of the token is kept.
    Revoking deletes the row; regenerating replaces the hash (the old URL stops)."""

    __tablename__ = "sales_calendar_feeds"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()


class FollowUpDigest(db.Model):
    """One morning mail per staff member per local day: the unique row is the claim
    that makes the job idempotent however many workers run it."""

    __tablename__ = "sales_follow_up_digests"
    __table_args__ = (UniqueConstraint("staff_id", "day", name="uq_sales_follow_up_digests_staff_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    day: Mapped[date]
    count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()


class ActivityKind:
    """What staff log on an opportunity; the customer-side kinds reset auto-close."""

    REPLY = "reply"
    CALL = "call"
    MEETING = "meeting"
    NOTE = "note"

    ALL = (REPLY, CALL, MEETING, NOTE)
    CUSTOMER_SIDE = (REPLY, CALL, MEETING)


class OpportunityActivity(db.Model):
    """A reply received, call, meeting or note a staff member logged."""

    __tablename__ = "opportunity_activities"
    __table_args__ = (Index("ix_opportunity_activities_opportunity", "opportunity_id", "happened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    happened_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text, default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()

    staff: Mapped[StaffUser | None] = relationship(lazy="joined")


class AutoCloseWarning(db.Model):
    """The rep was warned that the opportunity, quiet since ``quiet_since``, closes soon.
    Unique per quiet period: a run twice (or two workers) warns once; customer activity
    starts a new period, which may be warned about again."""

    __tablename__ = "sales_auto_close_warnings"
    __table_args__ = (
        UniqueConstraint("opportunity_id", "quiet_since", name="uq_sales_auto_close_warnings_opportunity_since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    quiet_since: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()


class AutoClosure(db.Model):
    """An opportunity the job closed for no reply: the stage it was in, so staff can
    reopen it in one click."""

    __tablename__ = "sales_auto_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    previous_stage_id: Mapped[int | None] = mapped_column(ForeignKey("sales_stages.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime]
    reopened_at: Mapped[datetime | None]
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))


class WaitingPeriod(db.Model):
    """Since when an opportunity has been in its current waiting-on-the-customer
    stage, as the auto-close job first saw it (a move to another stage restarts it)."""

    __tablename__ = "sales_waiting_periods"

    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stages.id", ondelete="CASCADE"))
    since: Mapped[datetime]
