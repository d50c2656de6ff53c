"""Who owns a new opportunity or lead that has no rep: the assignment rules.

Every path that creates one without a rep (staff form, lead conversion, the quote
page, the portal, imports) and the "assign automatically" button call
``assign_owner``. The first active rule, in list order, whose conditions all hold
(source, type, the organization's zone or city, amount range; an empty condition
holds for anything) decides:

- a named rep: that rep, if eligible;
- round robin among a team: the eligible member whose share is smallest, counting
  ``(assigned + 1) / weight`` (so weights 2 and 1 share 2:1), ties to the team's
  order. The pick starts with an atomic ``UPDATE ... SET fired_count = fired_count
  + 1`` of the rule: on PostgreSQL that row lock holds every other pick of the same
  rule until this transaction ends, and on SQLite the first write takes the
  database's write lock. The ledger (``RuleCounter``) is read after the lock, so
  concurrent picks see each other's counts: over any run of assignments by one rule,
  counts per eligible rep differ by at most one (weighted: proportional within one).
  A rep back from leave more than one round behind is lifted to one round behind
  instead of taking every assignment until they catch up.

Eligible means enabled and not on leave on the rep's own local date. When the
matching rule has no eligible rep, or no rule matches, the record stays unassigned
and is flagged (``unassigned_flagged`` lists them for the manager's dashboard),
never silently dropped. The rule that fired and why go on the record's timeline; the
new owner gets a mail. Everything happens in the caller's transaction (flush, never
commit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from werkzeug.routing import BuildError

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Lead, LeadStatus, Opportunity, Outcome
from portal.domains.sales.models_rules import (
    AssignmentFlag,
    AssignmentRule,
    RuleCounter,
    RuleTarget,
    SalesTeamMember,
    StaffAbsence,
)
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event
from portal.mail.outbox import queue_mail


def subject_of(record) -> str:
    """The timeline subject type of an opportunity or a lead."""
    if isinstance(record, Opportunity):
        return Subject.OPPORTUNITY
    if isinstance(record, Lead):
        return Subject.LEAD
    raise TypeError(f"cannot assign a {type(record).__name__}")


def local_today(staff: StaffUser, now: datetime | None = None) -> date:
    """The date it is for ``staff`` in their time zone (UTC when it is unknown)."""
    try:
        zone = ZoneInfo(staff.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (now or utcnow()).replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()


def absent_staff_ids(staff: list[StaffUser], now: datetime | None = None) -> set[int]:
    """Which of ``staff`` are on leave on their own local date (one query)."""
    if not staff:
        return set()
    days = {person.id: local_today(person, now) for person in staff}
    rows = db.session.execute(
        select(StaffAbsence.staff_id, StaffAbsence.starts_on, StaffAbsence.ends_on).where(
            StaffAbsence.staff_id.in_(days),
            StaffAbsence.starts_on <= max(days.values()),
            StaffAbsence.ends_on >= min(days.values()),
        )
    ).all()
    return {staff_id for staff_id, starts, ends in rows if starts <= days[staff_id] <= ends}


def eligible(staff: list[StaffUser], now: datetime | None = None) -> list[StaffUser]:
    """``staff`` who may take new work today: enabled and not on leave (order kept)."""
    away = absent_staff_ids([person for person in staff if person.is_enabled], now)
    return [person for person in staff if person.is_enabled and person.id not in away]


# --- matching ------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the rules look at, read once from the record (and its organization)."""

    kind: str
    source_id: int | None
    type_id: int | None
    zone: str
    city: str
    amount: object  # Decimal or None (a lead has no amount)
    currency: str


def facts_of(record) -> Facts:
    organization = None
    if record.organization_id is not None:
        organization = db.session.get(Organization, record.organization_id)
    is_opportunity = isinstance(record, Opportunity)
    return Facts(
        kind=RuleTarget.OPPORTUNITY if is_opportunity else RuleTarget.LEAD,
        source_id=record.source_id,
        type_id=record.type_id if is_opportunity else None,
        zone=(organization.zone if organization is not None else "") or "",
        city=(organization.city if organization is not None else "") or "",
        amount=record.amount if is_opportunity else None,
        currency=record.currency if is_opportunity else "",
    )


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def rule_match(rule: AssignmentRule, facts: Facts) -> list[str] | None:
    """Why ``rule`` holds for ``facts`` (one phrase per condition it has), or None."""
    why: list[str] = []
    if rule.applies_to not in (RuleTarget.ANY, facts.kind):
        return None
    if rule.source_id is not None:
        if facts.source_id != rule.source_id:
            return None
        why.append(_("source matches"))
    if rule.type_id is not None:
        if facts.type_id != rule.type_id:
            return None
        why.append(_("type matches"))
    if rule.zone:
        if not _same(facts.zone, rule.zone):
            return None
        why.append(_("zone is %(zone)s", zone=rule.zone))
    if rule.city:
        if not _same(facts.city, rule.city):
            return None
        why.append(_("city is %(city)s", city=rule.city))
    if rule.amount_min is not None or rule.amount_max is not None:
        if facts.amount is None:
            return None
        if rule.amount_min is not None and facts.amount < rule.amount_min:
            return None
        if rule.amount_max is not None and facts.amount > rule.amount_max:
            return None
        why.append(_("amount %(amount)s is in range", amount=f"{facts.amount} {facts.currency}".strip()))
    if not why:
        why.append(_("matches everything"))
    return why


def active_rules(kind: str) -> list[AssignmentRule]:
    return list(
        db.session.scalars(
            select(AssignmentRule)
            .where(AssignmentRule.is_active, AssignmentRule.applies_to.in_((RuleTarget.ANY, kind)))
            .order_by(AssignmentRule.position, AssignmentRule.id)
        ).unique()
    )


def first_matching_rule(facts: Facts) -> tuple[AssignmentRule, list[str]] | None:
    for rule in active_rules(facts.kind):
        why = rule_match(rule, facts)
        if why is not None:
            return rule, why
    return None


# --- picking a rep -------------------------------------------------------------------


def _lock_rule(rule: AssignmentRule) -> None:
    """The atomic counter that is also the lock (see the module docstring)."""
    db.session.execute(
        update(AssignmentRule)
        .where(AssignmentRule.id == rule.id)
        .values(fired_count=AssignmentRule.fired_count + 1)
        .execution_options(synchronize_session=False)
    )


def pick_round_robin(rule: AssignmentRule, now: datetime | None = None) -> StaffUser | None:
    """The eligible team member whose turn it is, counted in the rule's ledger; None
    when nobody in the team is eligible. Holds the rule's lock from here on."""
    _lock_rule(rule)
    members = list(
        db.session.scalars(
            select(SalesTeamMember)
            .where(SalesTeamMember.team_id == rule.team_id)
            .order_by(SalesTeamMember.id)
            .execution_options(populate_existing=True)
        ).unique()
    )
    candidates = eligible([member.staff for member in members], now)
    if not candidates:
        return None
    weights = {member.staff_id: max(1, member.weight) for member in members}
    ids = [person.id for person in candidates]
    ledger = {
        counter.staff_id: counter
        for counter in db.session.scalars(
            select(RuleCounter)
            .where(RuleCounter.rule_id == rule.id, RuleCounter.staff_id.in_(ids))
            .execution_options(populate_existing=True)
        )
    }
    for staff_id in ids:
        if staff_id not in ledger:
            ledger[staff_id] = RuleCounter(rule_id=rule.id, staff_id=staff_id, assigned=0)
            db.session.add(ledger[staff_id])
    # No one more than a round behind: someone back from leave rejoins one round behind.
    top = max(Fraction(ledger[i].assigned, weights[i]) for i in ids)
    for staff_id in ids:
        floor = math.ceil((top - 1) * weights[staff_id])
        if ledger[staff_id].assigned < floor:
            ledger[staff_id].assigned = floor
    order = {staff_id: position for position, staff_id in enumerate(ids)}
    chosen = min(ids, key=lambda i: (Fraction(ledger[i].assigned + 1, weights[i]), order[i]))
    ledger[chosen].assigned += 1
    db.session.flush()
    return next(person for person in candidates if person.id == chosen)


def pick_rep(rule: AssignmentRule, now: datetime | None = None) -> StaffUser | None:
    """The rep ``rule`` gives the record to, or None when it has none eligible."""
    if rule.team_id is not None:
        return pick_round_robin(rule, now)
    if rule.rep is not None and eligible([rule.rep], now):
        _lock_rule(rule)  # the fired count, for the rules page
        return rule.rep
    return None


# --- the entry point -----------------------------------------------------------------


def _record_url(record) -> str:
    endpoint, key = (
        ("admin.opportunities.show", "opportunity_id")
        if isinstance(record, Opportunity)
        else ("admin.leads.show", "lead_id")
    )
    try:
        return external_url(endpoint, **{key: record.id})
    except BuildError:  # a page another part of the pipeline serves (not in this build)
        return ""


def _label(record) -> str:
    return record.title if isinstance(record, Opportunity) else record.name


def _flag(record, reason: str, actor) -> None:
    subject = subject_of(record)
    flag = db.session.scalar(
        select(AssignmentFlag).where(AssignmentFlag.subject_type == subject, AssignmentFlag.subject_id == record.id)
    )
    if flag is None:
        db.session.add(AssignmentFlag(subject_type=subject, subject_id=record.id, reason=reason))
    else:
        flag.reason = reason
        flag.created_at = utcnow()
    record_event(subject, record.id, "unassigned", staff=actor, detail=reason)
    db.session.flush()


def _unflag(record) -> None:
    db.session.execute(
        delete(AssignmentFlag).where(
            AssignmentFlag.subject_type == subject_of(record), AssignmentFlag.subject_id == record.id
        )
    )


def assign_owner(record, *, actor=None, reason_context=None, now: datetime | None = None) -> StaffUser | None:
    """Give ``record`` (an ``Opportunity`` or a ``Lead`` without ``rep_id``, already
    flushed) an owner by the first matching assignment rule, in the caller's
    transaction (flush, never commit). ``actor`` is the staff member whose action
    created it (None for the quote page, the portal, a background import);
    ``reason_context`` a short text of the creation path ("staff form", "lead
    conversion", "quote request", ...) for the timeline.

    Returns the rep it chose, or None when no rule matched or the matching rule had
    no eligible rep: then the record stays unassigned and is flagged. A record that
    already has a rep is left alone (returns None).
    """
    if record.rep_id is not None:
        return None
    if record.id is None:
        db.session.flush()
    subject = subject_of(record)
    context = reason_context or _("new record")
    found = first_matching_rule(facts_of(record))
    if found is None:
        _flag(record, _("Not assigned (%(context)s): no assignment rule matches.", context=context), actor)
        return None
    rule, why = found
    rep = pick_rep(rule, now)
    if rep is None:
        _flag(
            record,
            _(
                "Not assigned (%(context)s): rule “%(rule)s” matched (%(why)s) but none of its reps is available.",
                context=context,
                rule=rule.name,
                why=", ".join(why),
            ),
            actor,
        )
        return None
    record.rep_id = rep.id
    _unflag(record)
    how = _("round robin") if rule.team_id is not None else _("named rep")
    record_event(
        subject,
        record.id,
        "assigned",
        staff=actor,
        detail=_(
            "Assigned to %(rep)s by rule “%(rule)s” (%(how)s; %(why)s; %(context)s).",
            rep=rep.name,
            rule=rule.name,
            how=how,
            why=", ".join(why),
            context=context,
        ),
    )
    if actor is None or actor.id != rep.id:
        queue_mail(
            rep.email,
            _("Assigned to you: %(label)s", label=_label(record)),
            "sales_assigned",
            kind="sales_assigned",
            user=rep,
            label=_label(record),
            is_lead=subject == Subject.LEAD,
            rule=rule,
            why=", ".join(why),
            url=_record_url(record),
        )
    db.session.flush()
    return rep


def reassign_automatically(record, *, actor=None, now: datetime | None = None) -> StaffUser | None:
    """Staff set the rep to "automatic": the rules choose again (the old rep counts
    like anyone else). Unassigned and flagged when nobody is eligible."""
    previous = record.rep_id
    record.rep_id = None
    db.session.flush()
    rep = assign_owner(record, actor=actor, reason_context=_("reassigned automatically"), now=now)
    if previous is not None and rep is None:
        record_event(
            subject_of(record), record.id, "unassigned", staff=actor, detail=_("The previous rep was removed.")
        )
    return rep


# --- the dashboard's list ------------------------------------------------------------


@dataclass(frozen=True)
class FlaggedRecord:
    """An open opportunity or lead no rule could assign, still without a rep."""

    subject_type: str
    id: int
    label: str
    reason: str
    flagged_at: datetime


def unassigned_flagged(limit: int = 50) -> list[FlaggedRecord]:
    """Open opportunities and leads that stayed unassigned after the rules ran (and
    still have no rep), oldest flag first: two queries whatever the row counts."""
    opportunities = db.session.execute(
        select(Opportunity.id, Opportunity.title, AssignmentFlag.reason, AssignmentFlag.created_at)
        .join(
            AssignmentFlag,
            (AssignmentFlag.subject_type == Subject.OPPORTUNITY) & (AssignmentFlag.subject_id == Opportunity.id),
        )
        .where(Opportunity.rep_id.is_(None), Opportunity.outcome == Outcome.OPEN)
        .order_by(AssignmentFlag.created_at, AssignmentFlag.id)
        .limit(limit)
    ).all()
    leads = db.session.execute(
        select(Lead.id, Lead.name, AssignmentFlag.reason, AssignmentFlag.created_at)
        .join(AssignmentFlag, (AssignmentFlag.subject_type == Subject.LEAD) & (AssignmentFlag.subject_id == Lead.id))
        .where(Lead.rep_id.is_(None), Lead.status == LeadStatus.OPEN)
        .order_by(AssignmentFlag.created_at, AssignmentFlag.id)
        .limit(limit)
    ).all()
    found = [FlaggedRecord(Subject.OPPORTUNITY, *row) for row in opportunities] + [
        FlaggedRecord(Subject.LEAD, *row) for row in leads
    ]
    found.sort(key=lambda flagged: flagged.flagged_at)
    return found[:limit]


def assignment_note(record) -> AssignmentFlag | None:
    """The flag of ``record`` while it is unassigned (for its page), else None."""
    if record.rep_id is not None:
        return None
    return db.session.scalar(
        select(AssignmentFlag).where(
            AssignmentFlag.subject_type == subject_of(record), AssignmentFlag.subject_id == record.id
        )
    )
