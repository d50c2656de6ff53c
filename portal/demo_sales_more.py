"""Demo data of SALES-MORE: a supplier, an opportunity with items, a supplier's answer,
line costs on a draft proposal. Once, on its own check (the supplier's name)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.queries.search import search_key
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.sales import first_response, supplier_quotes
from portal.domains.sales.models import Opportunity, OpportunityLine, OpportunityType, Stage

SUPPLIER = "Evergreen Nursery Supply"


def seed_sales_more_demo() -> None:
    if db.session.scalar(select(Organization.id).where(Organization.name == SUPPLIER)) is not None:
        return
    rep = db.session.scalar(select(StaffUser).where(StaffUser.email == "sales@demo.porchlight"))
    customer = db.session.scalar(
        select(Organization).where(Organization.is_supplier.is_(False)).order_by(Organization.id)
    )
    stage = db.session.scalar(select(Stage).where(Stage.key == "qualified"))
    kind = db.session.scalar(select(OpportunityType).order_by(OpportunityType.position, OpportunityType.id))
    if rep is None or customer is None or stage is None or kind is None:
        return
    supplier = Organization(name=SUPPLIER, city="Portland", is_supplier=True)
    db.session.add(supplier)
    db.session.flush()
    contact = Contact(
        organization_id=supplier.id, first_name="Olive", last_name="Grower", email="olive@evergreen.example"
    )
    db.session.add(contact)
    opportunity = Opportunity(
        title="Spring planting",
        label_key=search_key(f"Spring planting {customer.name}"),
        organization_id=customer.id,
        type_id=kind.id,
        stage_id=stage.id,
        outcome=stage.outcome,
        amount=Decimal("2400.00"),
        currency="USD",
        rep_id=rep.id,
        next_contact_on=utcnow().date(),
        next_contact_by_id=rep.id,
        expected_close_on=(utcnow() + timedelta(days=30)).date(),
        created_by_id=rep.id,
    )
    opportunity.lines = [
        OpportunityLine(position=1, description="Boxwood shrubs", quantity=Decimal("40"), unit_price=Decimal("35.00")),
        OpportunityLine(
            position=2, description="Mulch installation (per yard)", quantity=Decimal("12"), unit_price=Decimal("65.00")
        ),
    ]
    db.session.add(opportunity)
    db.session.flush()
    issued = supplier_quotes.request_supplier_quotes(opportunity, [contact.id], rep, "Delivery in March, please.")
    request = supplier_quotes.load_request(issued[0].request.id)
    prices = {line.id: price for line, price in zip(request.lines, ("18.50", "41.00"), strict=True)}
    leads = {line.id: days for line, days in zip(request.lines, ("10", "3"), strict=True)}
    supplier_quotes.submit_supplier_quote(
        request, supplier_quotes.AnswerInput(prices=prices, lead_times=leads, note="Prices hold until April.")
    )
    draft = db.session.scalar(select(Proposal).where(Proposal.status == "draft").order_by(Proposal.id))
    if draft is not None and draft.opportunity_id is None and draft.organization_id == customer.id:
        draft.opportunity_id = opportunity.id
    # The demo pipeline's delivered proposals were delivered before their opportunities
    # were linked: record those deliveries as the first responses they were.
    delivered = db.session.execute(
        select(Opportunity, Proposal)
        .join(Proposal, Proposal.opportunity_id == Opportunity.id)
        .where(Proposal.delivered_at.is_not(None))
        .order_by(Proposal.delivered_at)
    ).all()
    for opp, proposal in delivered:
        at = max(proposal.delivered_at, opp.created_at)
        first_response.record_first_response(
            opp, at=at, staff=rep, via=first_response.PROPOSAL_DELIVERED, proposal_id=proposal.id
        )
    db.session.flush()
