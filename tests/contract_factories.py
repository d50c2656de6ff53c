"""Contracts for tests, made through the contracts operations (one place)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from portal.core.extensions import db
from portal.domains.contracts import operations as contracts
from portal.domains.contracts.models import Contract, LineKind
from portal.domains.customers.models import Contact
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.sales.models import Opportunity
from tests.factories import _detach, sign_input
from tests.sales_factories import make_opportunity


def contract_input(organization, site, **fields) -> contracts.ContractInput:
    """A valid header for ``organization`` at ``site``; ``fields`` override."""
    today = date.today()
    data = contracts.ContractInput(
        organization_id=organization.id,
        site_id=site.id,
        starts_on=fields.pop("starts_on", today),
        ends_on=fields.pop("ends_on", today + timedelta(days=364)),
        title=fields.pop("title", "Grounds care"),
    )
    for name, value in fields.items():
        setattr(data, name, value)
    return data


def make_contract(
    app,
    actor: StaffUser,
    organization,
    site,
    included=(),
    optional=(),
    active: bool = False,
    **fields,
) -> Contract:
    """A committed contract; ``included`` / ``optional`` are (catalog item, quantity,
    price) triples; ``active`` activates it after its services are added."""
    with app.app_context():
        staff = db.session.get(StaffUser, actor.id)
        contract = contracts.create_contract(staff, contract_input(organization, site, **fields))
        for kind, rows in ((LineKind.INCLUDED, included), (LineKind.OPTIONAL, optional)):
            for item, quantity, price in rows:
                contracts.add_line(
                    staff, contract, contracts.LineInput(item.id, kind, Decimal(str(quantity)), Decimal(str(price)))
                )
        if active:
            contracts.activate_contract(staff, contract)
        db.session.commit()
        return _detach(contracts.load_contract(contract.id))


def won_opportunity(app, make, rep: StaffUser, organization, contact, items, optional_items, tick=1):
    """A won opportunity whose signed proposal has ``items`` included and
    ``optional_items`` as options (catalog items, at their list price), the first
    ``tick`` options ticked by the customer."""
    opportunity = make_opportunity(app, rep, organization, contact, title="Grounds 2027")
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        proposal = proposals.create_proposal(
            staff, db.session.get(Contact, contact.id), "Grounds 2027", "USD", opportunity_id=opportunity.id
        )
        proposal = proposals.load_proposal(proposal.id)
        for item in items:
            proposals.add_line(
                proposal, proposals.LineInput(item.name, Decimal("2"), item.unit_price, False, None, item.id)
            )
        for item in optional_items:
            proposals.add_line(
                proposal, proposals.LineInput(item.name, Decimal("1"), item.unit_price, True, None, item.id)
            )
        proposals.add_line(proposal, proposals.LineInput("Free text note", Decimal("1"), Decimal("5.00"), False))
        proposals.deliver_proposal(proposal, staff, db.session.get(Contact, contact.id))
        db.session.commit()
        proposal = proposals.load_proposal(proposal.id)
        options = [str(line.id) for line in proposal.lines if line.is_optional][:tick]
        proposals.sign_proposal(proposal, db.session.get(Contact, contact.id), None, sign_input(proposal, options))
        db.session.commit()
        proposals.mark_won(proposals.load_proposal(proposal.id), staff)
        db.session.commit()
        return _detach(db.session.get(Opportunity, opportunity.id)), proposal.id


def add_lines(app, actor: StaffUser, contract: Contract, rows, kind: str = LineKind.INCLUDED) -> None:
    """Add (catalog item, quantity, price) services to ``contract`` and commit."""
    with app.app_context():
        staff = db.session.get(StaffUser, actor.id)
        loaded = db.session.get(Contract, contract.id)
        for item, quantity, price in rows:
            contracts.add_line(
                staff, loaded, contracts.LineInput(item.id, kind, Decimal(str(quantity)), Decimal(str(price)))
            )
        db.session.commit()


def from_contract(app, opportunity: Opportunity, contract: Contract) -> Opportunity:
    """Mark ``opportunity`` as made from ``contract``, as a campaign's are; committed."""
    with app.app_context():
        db.session.get(Opportunity, opportunity.id).contract_id = contract.id
        db.session.commit()
        return _detach(db.session.get(Opportunity, opportunity.id))
