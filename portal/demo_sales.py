"""Demo sales pipeline: a few opportunities across the stages, linked to the demo
proposals where they match (delivered -> Proposal sent, signed -> Signed, won -> Won)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.sales import opportunities as sales
from portal.domains.sales.models import LostReason, Opportunity, OpportunityType, Source, Stage


def seed_sales_demo() -> None:
    """Once: skipped when any opportunity exists (or the demo world does not)."""
    if db.session.scalar(select(Opportunity.id).limit(1)) is not None:
        return
    rep = db.session.scalar(select(StaffUser).where(StaffUser.email == "sales@demo.porchlight"))
    greenleaf = db.session.scalar(select(Organization).where(Organization.name == "Greenleaf Property Management"))
    harbor = db.session.scalar(select(Organization).where(Organization.name == "Harbor Dental Group"))
    if rep is None or greenleaf is None or harbor is None:
        return
    stage = {s.key: s for s in db.session.scalars(select(Stage))}
    kind = {t.key: t for t in db.session.scalars(select(OpportunityType))}
    source = {s.key: s for s in db.session.scalars(select(Source))}
    jane = db.session.scalar(select(Contact).where(Contact.email == "jane.park@greenleaf.example"))
    lucia = db.session.scalar(select(Contact).where(Contact.email == "lucia.rossi@harbor.example"))
    omar = db.session.scalar(select(Contact).where(Contact.email == "omar.diaz@greenleaf.example"))
    today = utcnow().date()

    def make(title, org, contact, stage_key, amount, currency="USD", type_key="sales", source_key="referral", **kw):
        data = sales.OpportunityInput(
            title=title,
            organization_id=org.id,
            contact_id=contact.id if contact else None,
            type_id=kind[type_key].id,
            source_id=source[source_key].id,
            stage_id=stage["new"].id,
            amount=amount,
            currency=currency,
            rep_id=rep.id,
            expected_close_on=today + timedelta(days=kw.pop("close_in", 30)),
            next_contact_on=kw.pop("next_contact_on", None),
            lines=kw.pop("lines", []),
        )
        opportunity = sales.create_opportunity(rep, data)
        opportunity = sales.load_opportunity(opportunity.id)
        if stage_key != "new":
            sales.apply_stage(opportunity, stage[stage_key], rep)
        return opportunity

    make(
        "Parking lot snow contract",
        greenleaf,
        jane,
        "new",
        "4200.00",
        next_contact_on=today,
        lines=[sales.LineData("Snow removal (per event)", "28", "150.00")],
    )
    make("Dental garden refresh", harbor, lucia, "qualified", "1800.00", currency="EUR", source_key="website")
    linked = {
        "Grounds maintenance 2027": ("proposal_sent", greenleaf, jane),
        "Clinic entrance care": ("signed", harbor, lucia),
        "Irrigation repair": ("won", greenleaf, omar),
    }
    for title, (stage_key, org, contact) in linked.items():
        proposal = db.session.scalar(select(Proposal).where(Proposal.title == title).order_by(Proposal.id))
        opportunity = make(title, org, contact, stage_key, str(proposal.included_total if proposal else "0.00"))
        if proposal is not None:
            proposal.opportunity_id = opportunity.id
    lost = make("Fountain cleaning", harbor, lucia, "new", "650.00", currency="EUR", type_key="maintenance")
    price = db.session.scalar(select(LostReason).where(LostReason.key == "price"))
    sales.close_lost(lost, [price], [], "Went with a cheaper local firm.", rep)
    db.session.flush()
