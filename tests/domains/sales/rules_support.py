"""Builders for the assignment, follow-up and auto-close tests: opportunities, leads,
rules and teams straight through the models (in the caller's app context)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.identity import staff as accounts
from portal.domains.sales.models import Lead, Opportunity, OpportunityType, Source, Stage
from portal.domains.sales.models_rules import AssignmentRule, RuleTarget, SalesTeam, SalesTeamMember

_seq = itertools.count(1)


def stage(key: str) -> Stage:
    return db.session.scalar(select(Stage).where(Stage.key == key))


def kind(key: str = "sales") -> OpportunityType:
    return db.session.scalar(select(OpportunityType).where(OpportunityType.key == key))


def source(key: str = "website") -> Source:
    return db.session.scalar(select(Source).where(Source.key == key))


def person(role: str = "sales", name: str | None = None, timezone: str = "UTC"):
    n = next(_seq)
    user = accounts.create_staff(f"rep{n}@example.test", name or f"Rep {n}", "correct horse battery", role, timezone)
    db.session.flush()
    return user


def opportunity(**columns) -> Opportunity:
    """An open opportunity in stage New (flushed, not committed)."""
    columns.setdefault("title", f"Opportunity {next(_seq)}")
    columns.setdefault("type_id", kind().id)
    columns.setdefault("stage_id", stage("new").id)
    columns.setdefault("amount", Decimal("1000.00"))
    columns.setdefault("currency", "USD")
    opp = Opportunity(**columns)
    db.session.add(opp)
    db.session.flush()
    return opp


def lead(**columns) -> Lead:
    columns.setdefault("name", f"Lead {next(_seq)}")
    found = Lead(**columns)
    db.session.add(found)
    db.session.flush()
    return found


def team(name: str, members) -> SalesTeam:
    """A team of ``members``: staff, or (staff, weight) pairs."""
    found = SalesTeam(name=name)
    for member in members:
        user, weight = member if isinstance(member, tuple) else (member, 1)
        found.members.append(SalesTeamMember(staff_id=user.id, weight=weight))
    db.session.add(found)
    db.session.flush()
    return found


def rule(name: str, position: int = 0, **columns) -> AssignmentRule:
    columns.setdefault("applies_to", RuleTarget.ANY)
    found = AssignmentRule(name=name, position=position, **columns)
    db.session.add(found)
    db.session.flush()
    return found
