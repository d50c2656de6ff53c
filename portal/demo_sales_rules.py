"""Demo data for assignment rules, absences and follow-ups: a team, two rules, an
absence, a zone on Greenleaf and a follow-up due today for Sam. Added once (on its
own check), so a database seeded before these features gets them too."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Opportunity, Outcome, Source
from portal.domains.sales.models_rules import AssignmentRule, SalesTeam, SalesTeamMember, StaffAbsence


def seed_sales_rules_demo() -> None:
    if db.session.scalar(select(SalesTeam.id).limit(1)) is not None:
        return
    sales = db.session.scalar(select(StaffUser).where(StaffUser.email == "sales@demo.porchlight"))
    admin = db.session.scalar(select(StaffUser).where(StaffUser.email == "admin@demo.porchlight"))
    if sales is None or admin is None:
        return
    team = SalesTeam(
        name="Field sales",
        members=[SalesTeamMember(staff_id=sales.id, weight=2), SalesTeamMember(staff_id=admin.id, weight=1)],
    )
    db.session.add(team)
    db.session.flush()
    db.session.add(AssignmentRule(name="Big deals to Ada", position=1, amount_min=Decimal("10000.00"), rep_id=admin.id))
    web = db.session.scalar(select(Source).where(Source.key == "quote_page"))
    db.session.add(
        AssignmentRule(
            name="Quote requests: round robin", position=2, source_id=web.id if web else None, team_id=team.id
        )
    )
    db.session.add(AssignmentRule(name="Everything else: round robin", position=3, team_id=team.id))
    today = utcnow().date()
    db.session.add(
        StaffAbsence(
            staff_id=admin.id,
            starts_on=today + timedelta(days=14),
            ends_on=today + timedelta(days=18),
            note="Conference",
            created_by_id=admin.id,
        )
    )
    greenleaf = db.session.scalar(select(Organization).where(Organization.name == "Greenleaf Property Management"))
    if greenleaf is not None:
        greenleaf.zone = "North"
    follow_up = db.session.scalar(
        select(Opportunity)
        .where(Opportunity.rep_id == sales.id, Opportunity.outcome == Outcome.OPEN)
        .order_by(Opportunity.id)
        .limit(1)
    )
    if follow_up is not None and follow_up.next_contact_on is None:
        follow_up.next_contact_on = today
        follow_up.next_contact_by_id = sales.id
    db.session.commit()
