"""Opportunities for tests, made through the sales operations (one place)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales import opportunities as sales
from portal.domains.sales.models import Opportunity, OpportunityType, Stage
from tests.factories import _detach


def stage_id(app, key: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Stage.id).where(Stage.key == key))


def type_id(app, key: str = "sales") -> int:
    with app.app_context():
        return db.session.scalar(select(OpportunityType.id).where(OpportunityType.key == key))


def opportunity_input(app, organization=None, contact=None, **fields) -> sales.OpportunityInput:
    """A valid form's worth for ``organization`` (and ``contact``); ``fields`` override."""
    data = sales.OpportunityInput(
        title=fields.pop("title", "Garden refresh"),
        organization_id=organization.id if organization else None,
        contact_id=contact.id if contact else None,
        type_id=fields.pop("type_id", None) or type_id(app),
        stage_id=fields.pop("stage_id", None) or stage_id(app, fields.pop("stage", "new")),
        amount=fields.pop("amount", "1200.00"),
        currency=fields.pop("currency", "USD"),
    )
    for name, value in fields.items():
        setattr(data, name, value)
    return data


def make_opportunity(app, actor: StaffUser, organization=None, contact=None, lines=(), **fields) -> Opportunity:
    """A committed opportunity created by ``actor`` (``rep_id`` defaults to the actor)."""
    data = opportunity_input(app, organization, contact, **fields)
    if "rep_id" not in fields:
        data.rep_id = actor.id
    data.lines = [sales.LineData(description=d, quantity=str(q), unit_price=str(p)) for d, q, p in lines]
    with app.app_context():
        opportunity = sales.create_opportunity(db.session.get(StaffUser, actor.id), data)
        db.session.commit()
        return _detach(sales.load_opportunity(opportunity.id))


def amount(value: str) -> Decimal:
    return Decimal(value)
