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

import heapq
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.routing import BuildError

from portal.core.bulk import insert_rows, update_rows
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
from portal.domains.timeline.models import Subject, TimelineEntry
from portal.domains.timeline.operations import record_event
from portal.mail.outbox import queue_mail

# A batch's mail lists this many of the new owner's records (and says how many more).
MAIL_LIST = 30


def subject_of(record) -> str:
    """The timeline subject type of an opportunity or a lead."""
    if isinstance(record, Opportunity):
        return Subject.OPPORTUNITY
    if isinstance(record, Lead):
        return Subject.LEAD
    raise TypeError(f"cannot assign a {type(record).__name__}")


def _local_date(timezone: str | None, now: datetime | None = None) -> date:
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return (now or utcnow()).replace(tzinfo=UTC).astimezone(zone).date()


def local_today(staff: StaffUser, now: datetime | None = None) -> date:
    """The date it is for ``staff`` in their time zone (UTC when it is unknown)."""
    return _local_date(staff.timezone, now)


def _absent(people: list[tuple[int, str]], now: datetime | None = None) -> set[int]:
    """Which of ``(staff id, time zone)`` are on leave on their own local date (one query)."""
    if not people:
        return set()
    days = {staff_id: _local_date(timezone, now) for staff_id, timezone in people}
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
    away = _absent([(person.id, person.timezone) for person in staff if person.is_enabled], now)
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


def _kind(record) -> str:
    return RuleTarget.OPPORTUNITY if isinstance(record, Opportunity) else RuleTarget.LEAD


def facts_of(record) -> Facts:
    organization = None
    if record.organization_id is not None:
        organization = db.session.get(Organization, record.organization_id)
    return _facts(record, organization)


def _facts(record, organization) -> Facts:
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
            .options(lazyload(AssignmentRule.rep), lazyload(AssignmentRule.team))
            .where(AssignmentRule.is_active, AssignmentRule.applies_to.in_((RuleTarget.ANY, kind)))
            .order_by(AssignmentRule.position, AssignmentRule.id)
        )
    )


def first_matching_rule(facts: Facts) -> tuple[AssignmentRule, list[str]] | None:
    for rule in active_rules(facts.kind):
        why = rule_match(rule, facts)
        if why is not None:
            return rule, why
    return None


# --- picking a rep -------------------------------------------------------------------


def _lock_rule(rule: AssignmentRule, fired: int = 1) -> None:
    """The atomic counter that is also the lock (see the module docstring)."""
    db.session.execute(
        update(AssignmentRule)
        .where(AssignmentRule.id == rule.id)
        .values(fired_count=AssignmentRule.fired_count + fired)
        .execution_options(synchronize_session=False)
    )


class Turns:
    """One round-robin rule's turns, read once under the rule's lock: the eligible
    members, their weights and the ledger. ``next()`` picks in memory; ``save()``
    writes the counters that moved. A batch of assignments (an import) reads and writes
    once; a single one is a handful of statements whatever the team's size."""

    def __init__(self, rule: AssignmentRule, now: datetime | None = None, fired: int = 1):
        self.rule_id = rule.id
        _lock_rule(rule, fired)
        members = db.session.execute(
            select(SalesTeamMember.staff_id, SalesTeamMember.weight, StaffUser.timezone)
            .join(StaffUser, StaffUser.id == SalesTeamMember.staff_id)
            .where(SalesTeamMember.team_id == rule.team_id, StaffUser.is_enabled)
            .order_by(SalesTeamMember.id)
        ).all()
        away = _absent([(staff_id, timezone) for staff_id, _weight, timezone in members], now)
        self.weights = {staff_id: max(1, weight) for staff_id, weight, _tz in members if staff_id not in away}
        self.ids = list(self.weights)
        self.order = {staff_id: position for position, staff_id in enumerate(self.ids)}
        self.ledger: dict[int, int] = {}
        self.changed: set[int] = set()
        self._heap: list | None = None
        if not self.ids:
            return
        self.ledger = dict(
            db.session.execute(
                select(RuleCounter.staff_id, RuleCounter.assigned).where(
                    RuleCounter.rule_id == rule.id, RuleCounter.staff_id.in_(self.ids)
                )
            ).all()
        )
        missing = [staff_id for staff_id in self.ids if staff_id not in self.ledger]
        if missing:
            db.session.execute(
                insert(RuleCounter), [{"rule_id": rule.id, "staff_id": staff_id, "assigned": 0} for staff_id in missing]
            )
            self.ledger.update(dict.fromkeys(missing, 0))
        # No one more than a round behind: someone back from leave rejoins one round behind.
        top = max(Fraction(self.ledger[i], self.weights[i]) for i in self.ids)
        for staff_id in self.ids:
            floor = math.ceil((top - 1) * self.weights[staff_id])
            if self.ledger[staff_id] < floor:
                self.ledger[staff_id] = floor
                self.changed.add(staff_id)

    def next(self) -> int | None:
        """The staff id whose turn it is (smallest ``(assigned + 1) / weight``, ties to
        the team's order), counted; None when nobody is eligible. The shares are exact
        integers (scaled by the weights' least common multiple) in a heap."""
        if not self.ids:
            return None
        if self._heap is None:
            scale = math.lcm(*self.weights.values())
            self._step = {i: scale // self.weights[i] for i in self.ids}
            self._heap = [((self.ledger[i] + 1) * self._step[i], self.order[i], i) for i in self.ids]
            heapq.heapify(self._heap)
        _share, position, chosen = self._heap[0]
        self.ledger[chosen] += 1
        self.changed.add(chosen)
        heapq.heapreplace(self._heap, ((self.ledger[chosen] + 1) * self._step[chosen], position, chosen))
        return chosen

    def save(self) -> None:
        if self.changed:
            db.session.execute(
                update(RuleCounter.__table__)
                .where(RuleCounter.rule_id == bindparam("r"), RuleCounter.staff_id == bindparam("s"))
                .values(assigned=bindparam("n")),
                [{"r": self.rule_id, "s": staff_id, "n": self.ledger[staff_id]} for staff_id in sorted(self.changed)],
            )
            self.changed = set()


def pick_round_robin(rule: AssignmentRule, now: datetime | None = None) -> StaffUser | None:
    """The eligible team member whose turn it is, counted in the rule's ledger; None
    when nobody in the team is eligible. Holds the rule's lock from here on."""
    turns = Turns(rule, now)
    chosen = turns.next()
    turns.save()
    return db.session.get(StaffUser, chosen) if chosen is not None else None


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


def _no_rep_reason(rule: AssignmentRule, why: list[str], context: str) -> str:
    return _(
        "Not assigned (%(context)s): rule “%(rule)s” matched (%(why)s) but none of its reps is available.",
        context=context,
        rule=rule.name,
        why=", ".join(why),
    )


def _assigned_detail(rep: StaffUser, rule: AssignmentRule, why: list[str], context: str) -> str:
    return _(
        "Assigned to %(rep)s by rule “%(rule)s” (%(how)s; %(why)s; %(context)s).",
        rep=rep.name,
        rule=rule.name,
        how=_("round robin") if rule.team_id is not None else _("named rep"),
        why=", ".join(why),
        context=context,
    )


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
        _flag(record, _no_rep_reason(rule, why, context), actor)
        return None
    record.rep_id = rep.id
    _unflag(record)
    record_event(subject, record.id, "assigned", staff=actor, detail=_assigned_detail(rep, rule, why, context))
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


@dataclass(frozen=True)
class Pick:
    """What the rules decided for one record: the rule that fired (None: none matched,
    or the caller's fallback rep), why, and the rep's id (None: stays unassigned)."""

    rule: AssignmentRule | None
    why: tuple[str, ...]
    rep_id: int | None
    fallback: bool = False  # the caller's fallback rep (a campaign: the account manager)


@dataclass(frozen=True)
class Target:
    """A record the write step updates, by key only: no ORM record needed."""

    subject_type: str
    id: int
    label: str


FLAG_COLUMNS = ("subject_type", "subject_id", "reason", "created_at")
TIMELINE_COLUMNS = ("subject_type", "subject_id", "kind", "staff_id", "contact_id", "detail", "created_at")


def plan_assignments(
    facts: list[Facts], *, now: datetime | None = None, fallback: list[int | None] | None = None
) -> list[Pick]:
    """The plan step of a batch: a ``Pick`` per ``Facts``, in order, from plain facts
    (no ORM records). Each round-robin rule is locked once for the whole batch and its
    ledger moved and saved (so concurrent batches and single assignments take turns in
    one ledger); a named rep's rule counts its firings. ``fallback`` (same length): a
    rep id to use when the rules give none (no rule matches, or no eligible rep)."""
    rules: dict[str, list[AssignmentRule]] = {}
    matched: dict[Facts, tuple[AssignmentRule, list[str]] | None] = {}  # records alike match alike
    groups: dict[int, list[int]] = {}
    by_id: dict[int, AssignmentRule] = {}
    found_for: list[tuple[AssignmentRule, list[str]] | None] = []
    for index, fact in enumerate(facts):
        if fact.kind not in rules:
            rules[fact.kind] = active_rules(fact.kind)
        if fact not in matched:
            matched[fact] = next(
                ((rule, why) for rule in rules[fact.kind] if (why := rule_match(rule, fact)) is not None), None
            )
        found = matched[fact]
        found_for.append(found)
        if found is not None:
            groups.setdefault(found[0].id, []).append(index)
            by_id[found[0].id] = found[0]
    rep_of: dict[int, int | None] = {}
    for rule_id, indices in groups.items():
        rule = by_id[rule_id]
        if rule.team_id is not None:
            turns = Turns(rule, now, fired=len(indices))
            for index in indices:
                rep_of[index] = turns.next()
            turns.save()
        else:
            rep_ok = rule.rep_id is not None and bool(eligible([db.session.get(StaffUser, rule.rep_id)], now))
            if rep_ok:
                _lock_rule(rule, len(indices))
            for index in indices:
                rep_of[index] = rule.rep_id if rep_ok else None
    picks = []
    for index, found in enumerate(found_for):
        rule, why = found if found is not None else (None, [])
        rep_id = rep_of.get(index)
        if rep_id is None and fallback is not None and fallback[index] is not None:
            picks.append(Pick(rule=rule, why=tuple(why), rep_id=fallback[index], fallback=True))
        else:
            picks.append(Pick(rule=rule, why=tuple(why), rep_id=rep_id))
    return picks


def write_assignments(
    targets: list[Target],
    picks: list[Pick],
    *,
    actor=None,
    reason_context=None,
    set_rep: bool = True,
    notify: bool = True,
    timeline: list[tuple] | None = None,
    fresh: bool = False,
) -> dict[int, StaffUser]:
    """The write step of a batch: reps by primary key (``set_rep``; a caller that
    inserted the rows with their rep says False), flags removed or set, the timeline
    entries in one INSERT, and (``notify``) one mail per new owner listing what they
    received. ``timeline``: a list the caller inserts itself (one INSERT with its own
    entries) to which the timeline rows are added instead. ``fresh``: the targets were
    inserted in this transaction, so they have no flag to remove. Returns the reps by id."""
    context = reason_context or _("new record")
    rep_ids = {pick.rep_id for pick in picks if pick.rep_id is not None}
    people = (
        {p.id: p for p in db.session.scalars(select(StaffUser).where(StaffUser.id.in_(rep_ids)))} if rep_ids else {}
    )
    assigned = [(t, p) for t, p in zip(targets, picks, strict=True) if p.rep_id in people]
    unassigned = [(t, p) for t, p in zip(targets, picks, strict=True) if p.rep_id not in people]
    now = utcnow()
    actor_id = actor.id if actor is not None else None
    if set_rep:
        for subject, model in ((Subject.OPPORTUNITY, Opportunity), (Subject.LEAD, Lead)):
            update_rows(
                model.__table__, "id", ("rep_id",), [(p.rep_id, t.id) for t, p in assigned if t.subject_type == subject]
            )
    for subject in () if fresh else (Subject.OPPORTUNITY, Subject.LEAD):
        ids = [t.id for t, _p in assigned + unassigned if t.subject_type == subject]
        if ids:
            db.session.execute(
                delete(AssignmentFlag).where(AssignmentFlag.subject_type == subject, AssignmentFlag.subject_id.in_(ids))
            )
    details: dict[tuple, str] = {}  # one translated text per rep, rule and reason
    entries = []
    for target, pick in assigned:
        key = (pick.rep_id, pick.rule.id if pick.rule else None, pick.why, pick.fallback)
        if key not in details:
            rep = people[pick.rep_id]
            if pick.fallback or pick.rule is None:
                details[key] = _(
                    "Assigned to %(rep)s, the account manager: no assignment rule gave a rep (%(context)s).",
                    rep=rep.name,
                    context=context,
                )
            else:
                details[key] = _assigned_detail(rep, pick.rule, list(pick.why), context)
        entries.append(_entry(target, "assigned", actor_id, details[key], now))
    flags = []
    for target, pick in unassigned:
        key = ("flag", pick.rule.id if pick.rule else None, pick.why)
        if key not in details:
            details[key] = (
                _no_rep_reason(pick.rule, list(pick.why), context)
                if pick.rule is not None
                else _("Not assigned (%(context)s): no assignment rule matches.", context=context)
            )
        flags.append(
            {"subject_type": target.subject_type, "subject_id": target.id, "reason": details[key], "created_at": now}
        )
        entries.append(_entry(target, "unassigned", actor_id, details[key], now))
    insert_rows(AssignmentFlag.__table__, FLAG_COLUMNS, [tuple(f[c] for c in FLAG_COLUMNS) for f in flags])
    rows = [tuple(e[c] for c in TIMELINE_COLUMNS) for e in entries]
    if timeline is not None:
        timeline.extend(rows)
    else:
        insert_rows(TimelineEntry.__table__, TIMELINE_COLUMNS, rows)
    if notify:
        _mail_new_owners(assigned, people, actor, context)
    return people


def _entry(target: Target, kind: str, staff_id: int | None, detail: str, now: datetime) -> dict:
    return {
        "subject_type": target.subject_type,
        "subject_id": target.id,
        "kind": kind,
        "staff_id": staff_id,
        "contact_id": None,
        "detail": detail,
        "created_at": now,
    }


def _mail_new_owners(assigned: list, people: dict, actor, context: str) -> None:
    per_rep: dict[int, list[str]] = {}
    for target, pick in assigned:
        if actor is None or actor.id != pick.rep_id:
            per_rep.setdefault(pick.rep_id, []).append(target.label)
    for rep_id, labels in per_rep.items():
        rep = people[rep_id]
        queue_mail(
            rep.email,
            _("Assigned to you: %(n)s new (%(context)s)", n=len(labels), context=context),
            "sales_assigned_many",
            kind="sales_assigned",
            user=rep,
            labels=labels[:MAIL_LIST],
            more=max(len(labels) - MAIL_LIST, 0),
            context=context,
        )


def assign_owners(records: list, *, actor=None, reason_context=None, now: datetime | None = None) -> dict:
    """``assign_owner`` for a batch (an import, a campaign run): the same rules, the
    same fairness, in a fixed number of statements per rule rather than per record:
    ``plan_assignments`` then ``write_assignments``. Timeline entries go in one
    INSERT; each new owner gets one mail listing what they received. Returns
    ``{(subject_type, id): rep or None}`` for the records without a rep."""
    todo = [record for record in records if record.rep_id is None]
    if not todo:
        return {}
    db.session.flush()
    organization_ids = {r.organization_id for r in todo if r.organization_id is not None}
    places = (
        {
            org_id: (zone, city)
            for org_id, zone, city in db.session.execute(
                select(Organization.id, Organization.zone, Organization.city).where(
                    Organization.id.in_(organization_ids)
                )
            )
        }
        if organization_ids
        else {}
    )
    facts = [_facts_of_place(record, places.get(record.organization_id)) for record in todo]
    picks = plan_assignments(facts, now=now)
    targets = [Target(subject_of(record), record.id, _label(record)) for record in todo]
    people = write_assignments(targets, picks, actor=actor, reason_context=reason_context)
    result: dict = {}
    for record, pick in zip(todo, picks, strict=True):
        rep = people.get(pick.rep_id) if pick.rep_id is not None else None
        if rep is not None:
            set_committed_value(record, "rep_id", rep.id)
        result[(subject_of(record), record.id)] = rep
    return result


def _facts_of_place(record, place: tuple[str, str] | None) -> Facts:
    """``Facts`` of a record from its organization's (zone, city), read in bulk."""
    is_opportunity = isinstance(record, Opportunity)
    zone, city = place if place is not None else ("", "")
    return Facts(
        kind=RuleTarget.OPPORTUNITY if is_opportunity else RuleTarget.LEAD,
        source_id=record.source_id,
        type_id=record.type_id if is_opportunity else None,
        zone=zone or "",
        city=city or "",
        amount=record.amount if is_opportunity else None,
        currency=record.currency if is_opportunity else "",
    )


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
