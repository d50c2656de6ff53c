"""Builders for SALES-MORE's tests: opportunities with items, suppliers, their contacts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from portal.domains.sales.models import Opportunity, OpportunityLine, OpportunityType, Outcome, Stage


def stage(key: str) -> Stage:
    return db.session.scalar(select(Stage).where(Stage.key == key))


def opportunity(
    app,
    title: str = "Spring clean-up",
    organization_id: int | None = None,
    rep_id: int | None = None,
    items=(("Mowing", "4", "45.00"), ("Mulch", "2", "65.00")),
    stage_key: str = "new",
    amount: str = "1000.00",
    currency: str = "USD",
    probability: int | None = None,
    created_at: datetime | None = None,
    **columns,
) -> int:
    """An opportunity (committed) with ``items``; returns its id."""
    with app.app_context():
        chosen = stage(stage_key)
        kind = db.session.scalar(select(OpportunityType).order_by(OpportunityType.id).limit(1))
        opp = Opportunity(
            title=title,
            organization_id=organization_id,
            rep_id=rep_id,
            type_id=kind.id,
            stage_id=chosen.id,
            outcome=chosen.outcome if chosen.outcome else Outcome.OPEN,
            amount=Decimal(amount),
            currency=currency,
            probability=probability,
            **columns,
        )
        if created_at is not None:
            opp.created_at = created_at
        opp.lines = [
            OpportunityLine(position=n, description=d, quantity=Decimal(q), unit_price=Decimal(p))
            for n, (d, q, p) in enumerate(items, start=1)
        ]
        db.session.add(opp)
        db.session.commit()
        opp_id = opp.id
        db.session.remove()
        return opp_id


def supplier(app, name: str = "Acme Supplies", contacts=("ann@acme.example",)) -> tuple[int, list[int]]:
    """A supplier organization and its contacts; returns (organization id, contact ids)."""
    with app.app_context():
        org = Organization(name=name, is_supplier=True)
        db.session.add(org)
        db.session.flush()
        people = [
            Contact(organization_id=org.id, first_name=email.split("@")[0].title(), last_name="Supplier", email=email)
            for email in contacts
        ]
        db.session.add_all(people)
        db.session.commit()
        ids = (org.id, [c.id for c in people])
        db.session.remove()
        return ids
