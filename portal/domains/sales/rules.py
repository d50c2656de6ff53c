"""Editing the assignment rules, the teams they share work among, and absences.

Operations take the acting staff member where it matters, validate, flush and never
commit (the view commits once). Bad input raises ``InvalidInput`` with a message per
field; the form shows them with a 422 and keeps what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.money import fits_money
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import OpportunityType, Source
from portal.domains.sales.models_rules import (
    AssignmentRule,
    RuleCounter,
    RuleTarget,
    SalesTeam,
    SalesTeamMember,
    StaffAbsence,
)

MAX_WEIGHT = 10
# Absences further than this from today are surely a typo (1900, 9999).
ABSENCE_YEARS = 5


def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


# --- rules -----------------------------------------------------------------------------


@dataclass
class RuleInput:
    """What the rule form sends, already parsed by the form (ids, decimals)."""

    name: str = ""
    applies_to: str = RuleTarget.ANY
    source_id: int | None = None
    type_id: int | None = None
    zone: str = ""
    city: str = ""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    action: str = "rep"  # "rep" or "team"
    rep_id: int | None = None
    team_id: int | None = None
    is_active: bool = True


def _rule_errors(data: RuleInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = _clean(data.name)
    if not name:
        errors["name"] = _("Give the rule a name.")
    elif len(name) > 120:
        errors["name"] = _("Use at most %(n)s characters.", n=120)
    if data.applies_to not in RuleTarget.ALL:
        errors["applies_to"] = _("Choose what the rule applies to.")
    if data.source_id is not None and db.session.get(Source, data.source_id) is None:
        errors["source_id"] = _("Choose a source from the list.")
    if data.type_id is not None and db.session.get(OpportunityType, data.type_id) is None:
        errors["type_id"] = _("Choose a type from the list.")
    if len(_clean(data.zone)) > 80:
        errors["zone"] = _("Use at most %(n)s characters.", n=80)
    if len(_clean(data.city)) > 120:
        errors["city"] = _("Use at most %(n)s characters.", n=120)
    for key in ("amount_min", "amount_max"):
        value = getattr(data, key)
        if value is not None and (value < 0 or not fits_money(value)):
            errors[key] = _("Enter an amount of 0 or more.")
    if (
        "amount_min" not in errors
        and "amount_max" not in errors
        and data.amount_min is not None
        and data.amount_max is not None
        and data.amount_min > data.amount_max
    ):
        errors["amount_max"] = _("The upper bound must not be below the lower one.")
    if data.action == "rep":
        rep = db.session.get(StaffUser, data.rep_id) if data.rep_id is not None else None
        if rep is None or not rep.is_enabled:
            errors["rep_id"] = _("Choose the rep who gets the work.")
    elif data.action == "team":
        if data.team_id is None or db.session.get(SalesTeam, data.team_id) is None:
            errors["team_id"] = _("Choose the team that shares the work.")
    else:
        errors["action"] = _("Choose a named rep or round robin among a team.")
    return errors


def save_rule(rule: AssignmentRule | None, data: RuleInput) -> AssignmentRule:
    """Create (at the end of the list) or update a rule."""
    errors = _rule_errors(data)
    if errors:
        raise InvalidInput(errors)
    if rule is None:
        last = db.session.scalar(select(func.max(AssignmentRule.position)))
        rule = AssignmentRule(position=(last or 0) + 1)
        db.session.add(rule)
    rule.name = _clean(data.name)
    rule.applies_to = data.applies_to
    rule.source_id = data.source_id
    rule.type_id = data.type_id
    rule.zone = _clean(data.zone)
    rule.city = _clean(data.city)
    rule.amount_min = data.amount_min
    rule.amount_max = data.amount_max
    rule.is_active = data.is_active
    if data.action == "rep":
        rule.rep_id, rule.team_id = data.rep_id, None
    else:
        rule.rep_id, rule.team_id = None, data.team_id
    db.session.flush()
    return rule


def list_rules() -> list[AssignmentRule]:
    """The rules in the order they are tried (rep and team loaded with them)."""
    return list(
        db.session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)).unique()
    )


def move_rule(rule: AssignmentRule, direction: str) -> None:
    """Swap the rule with its neighbour above ("up") or below ("down")."""
    if direction not in ("up", "down"):
        raise InvalidInput({"direction": _("Move a rule up or down.")})
    rules = list_rules()
    for position, each in enumerate(rules):  # normalise: 0, 1, 2, ...
        each.position = position
    index = next(i for i, each in enumerate(rules) if each.id == rule.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rules):
        rules[index].position, rules[other].position = rules[other].position, rules[index].position
    db.session.flush()


def delete_rule(rule: AssignmentRule) -> None:
    """Remove a rule and its round-robin ledger (the timeline keeps what it did)."""
    db.session.execute(RuleCounter.__table__.delete().where(RuleCounter.rule_id == rule.id))
    db.session.delete(rule)
    db.session.flush()


# --- teams -----------------------------------------------------------------------------


@dataclass
class TeamInput:
    name: str = ""
    # staff id -> weight (1..MAX_WEIGHT); staff not in it are not members.
    members: dict[int, int] = field(default_factory=dict)


def save_team(team: SalesTeam | None, data: TeamInput) -> SalesTeam:
    """Create or update a team with its members and their capacity weights."""
    errors: dict[str, str] = {}
    name = _clean(data.name)
    if not name:
        errors["name"] = _("Give the team a name.")
    elif len(name) > 120:
        errors["name"] = _("Use at most %(n)s characters.", n=120)
    else:
        taken = db.session.scalar(
            select(func.count()).where(
                func.lower(SalesTeam.name) == name.lower(), SalesTeam.id != (team.id if team else -1)
            )
        )
        if taken:
            errors["name"] = _("A team with this name already exists.")
    staff = (
        {user.id: user for user in db.session.scalars(select(StaffUser).where(StaffUser.id.in_(data.members)))}
        if data.members
        else {}
    )
    if set(staff) != set(data.members):
        errors["members"] = _("Choose members from the list.")
    elif any(not 1 <= weight <= MAX_WEIGHT for weight in data.members.values()):
        errors["members"] = _("Weights go from 1 to %(n)s.", n=MAX_WEIGHT)
    if errors:
        raise InvalidInput(errors)
    if team is None:
        team = SalesTeam(name=name)
        db.session.add(team)
    team.name = name
    current = {member.staff_id: member for member in team.members}
    for staff_id, member in current.items():
        if staff_id not in data.members:
            team.members.remove(member)
        else:
            member.weight = data.members[staff_id]
    for staff_id, weight in data.members.items():
        if staff_id not in current:
            team.members.append(SalesTeamMember(staff_id=staff_id, weight=weight))
    db.session.flush()
    return team


def list_teams() -> list[SalesTeam]:
    return list(db.session.scalars(select(SalesTeam).order_by(SalesTeam.name)).unique())


def sales_staff() -> list[StaffUser]:
    """Who may own sales work: enabled staff other than technicians, by name."""
    return list(
        db.session.scalars(
            select(StaffUser).where(StaffUser.is_enabled, StaffUser.role != "technician").order_by(StaffUser.name)
        )
    )


# --- absences --------------------------------------------------------------------------


def add_absence(
    person: StaffUser, starts_on: date | None, ends_on: date | None, note: str, *, actor: StaffUser, today: date
) -> StaffAbsence:
    """Put ``person`` on leave for a range of days (both included)."""
    errors: dict[str, str] = {}
    earliest, latest = date(today.year - 1, 1, 1), date(today.year + ABSENCE_YEARS, 12, 31)
    if starts_on is None:
        errors["starts_on"] = _("Enter the first day of the absence.")
    elif not earliest <= starts_on <= latest:
        errors["starts_on"] = _("Enter a date between %(a)s and %(b)s.", a=earliest.isoformat(), b=latest.isoformat())
    if ends_on is None:
        errors["ends_on"] = _("Enter the last day of the absence.")
    elif not earliest <= ends_on <= latest:
        errors["ends_on"] = _("Enter a date between %(a)s and %(b)s.", a=earliest.isoformat(), b=latest.isoformat())
    elif starts_on is not None and "starts_on" not in errors and ends_on < starts_on:
        errors["ends_on"] = _("The last day must not be before the first.")
    note = _clean(note)
    if len(note) > 200:
        errors["note"] = _("Use at most %(n)s characters.", n=200)
    if errors:
        raise InvalidInput(errors)
    absence = StaffAbsence(staff_id=person.id, starts_on=starts_on, ends_on=ends_on, note=note, created_by_id=actor.id)
    db.session.add(absence)
    db.session.flush()
    return absence


def remove_absence(absence: StaffAbsence) -> None:
    db.session.delete(absence)
    db.session.flush()


def absences_of(person: StaffUser, since: date) -> list[StaffAbsence]:
    """``person``'s absences that end on ``since`` or later, soonest first."""
    return list(
        db.session.scalars(
            select(StaffAbsence)
            .where(StaffAbsence.staff_id == person.id, StaffAbsence.ends_on >= since)
            .order_by(StaffAbsence.starts_on, StaffAbsence.id)
        )
    )
