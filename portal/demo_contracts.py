"""Demo properties and contracts: Greenleaf's, North Campus's and Harbor Dental's
properties get a zone and a site contact, and active contracts list their included
services and the optional ones offered there. Core aeration is offered as optional on
several contracts (the Optional Service Opportunity screen has something to find);
one contract is in its second revision, one is a draft and one has expired.

Everything is made through the contracts operations. ``seed_contracts_demo`` runs
once: it does nothing when a contract already exists.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from portal.core.extensions import db
from portal.domains.contracts import operations as contracts
from portal.domains.contracts.models import BillingCycle, Contract, LineKind
from portal.domains.customers.models import Contact, Organization, Site
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem
from portal.domains.sales.models import OpportunityType

# (organization, property, address, zone, site contact's email)
PROPERTIES = [
    (
        "Greenleaf Property Management",
        "Main office",
        "12 State Street\nAlbany, NY 12207",
        "Central",
        "jane.park@greenleaf.example",
    ),
    (
        "Greenleaf Property Management",
        "North parking lot",
        "40 Pearl Street\nAlbany, NY",
        "North",
        "omar.diaz@greenleaf.example",
    ),
    ("Greenleaf Property Management", "Riverside townhomes", "5 River Road\nAlbany, NY", "South", None),
    ("Greenleaf North Campus", "Campus grounds", "1 College Ave\nTroy, NY", "North", "nina.brooks@greenleaf.example"),
    ("Harbor Dental Group", "Harbor clinic", "8 Wharf Street", "Waterfront", "lucia.rossi@harbor.example"),
]

# (property, title, billing cycle, included (code, qty, price), optional (code, price))
CONTRACTS = [
    (
        "Main office",
        "Grounds care 2027",
        BillingCycle.MONTHLY,
        [("MOW", 4, "45.00"), ("EDGE", 4, "30.00")],
        [("AERATE", "115.00"), ("MULCH", "60.00")],
    ),
    (
        "North parking lot",
        "Lot upkeep",
        BillingCycle.QUARTERLY,
        [("MOW", 2, "45.00"), ("SNOW", 3, "150.00")],
        [("AERATE", "120.00")],
    ),
    (
        "Riverside townhomes",
        "Townhome lawns",
        BillingCycle.MONTHLY,
        [("MOW", 6, "42.00")],
        [("AERATE", "110.00"), ("HEDGE", "80.00")],
    ),
    (
        "Campus grounds",
        "Campus maintenance",
        BillingCycle.YEARLY,
        [("MOW", 30, "40.00"), ("LEAF", 1, "180.00")],
        [("AERATE", "125.00"), ("IRRIG", "90.00")],
    ),
    ("Harbor clinic", "Clinic frontage", BillingCycle.MONTHLY, [("EDGE", 2, "30.00")], [("HEDGE", "85.00")]),
]


def seed_contracts_demo() -> None:
    if db.session.scalar(select(func.count()).select_from(Contract)):
        return
    admin = db.session.scalar(select(StaffUser).where(StaffUser.email == "admin@demo.porchlight"))
    catalog = {item.code: item for item in db.session.scalars(select(CatalogItem))}
    if admin is None or "AERATE" not in catalog:
        return  # not the demo world
    maintenance = db.session.scalar(select(OpportunityType.id).where(OpportunityType.key == "maintenance"))
    sites: dict[str, Site] = {}
    for org_name, name, address, zone, email in PROPERTIES:
        organization = db.session.scalar(select(Organization).where(Organization.name == org_name))
        if organization is None:
            continue
        site = db.session.scalar(select(Site).where(Site.organization_id == organization.id, Site.name == name))
        if site is None:
            site = Site(organization_id=organization.id, name=name, address=address)
            db.session.add(site)
            db.session.flush()
        contact = db.session.scalar(select(Contact).where(Contact.email == email)) if email else None
        site.zone = zone
        site.site_contact_id = contact.id if contact and contact.organization_id == organization.id else None
        sites[name] = site
    today = date.today()
    made: dict[str, Contract] = {}
    for site_name, title, cycle, included, optional in CONTRACTS:
        site = sites.get(site_name)
        if site is None:
            continue
        contract = contracts.create_contract(
            admin,
            contracts.ContractInput(
                organization_id=site.organization_id,
                site_id=site.id,
                starts_on=today - timedelta(days=60),
                ends_on=today + timedelta(days=305),
                title=title,
                billing_cycle=cycle,
                type_id=maintenance,
            ),
        )
        for code, quantity, price in included:
            contracts.add_line(
                admin,
                contract,
                contracts.LineInput(catalog[code].id, LineKind.INCLUDED, Decimal(quantity), Decimal(price)),
            )
        for code, price in optional:
            contracts.add_line(
                admin, contract, contracts.LineInput(catalog[code].id, LineKind.OPTIONAL, 1, Decimal(price))
            )
        contracts.activate_contract(admin, contract)
        made[site_name] = contract
    main = made.get("Main office")
    if main is not None:
        # A change after activation: v.1, with v.0 still readable.
        contracts.add_line(
            admin, main, contracts.LineInput(catalog["HEDGE"].id, LineKind.OPTIONAL, 1, Decimal("80.00"))
        )
    riverside = sites.get("Riverside townhomes")
    if riverside is not None:
        draft = contracts.create_contract(
            admin,
            contracts.ContractInput(
                organization_id=riverside.organization_id,
                site_id=riverside.id,
                starts_on=today + timedelta(days=305),
                ends_on=today + timedelta(days=670),
                title="Townhome lawns, renewal",
                type_id=maintenance,
            ),
        )
        contracts.add_line(admin, draft, contracts.LineInput(catalog["MOW"].id, LineKind.INCLUDED, 6, Decimal("44.00")))
        old = contracts.create_contract(
            admin,
            contracts.ContractInput(
                organization_id=riverside.organization_id,
                site_id=riverside.id,
                starts_on=today - timedelta(days=425),
                ends_on=today - timedelta(days=61),
                title="Townhome lawns 2025",
                type_id=maintenance,
            ),
        )
        contracts.add_line(admin, old, contracts.LineInput(catalog["MOW"].id, LineKind.INCLUDED, 6, Decimal("40.00")))
        contracts.add_line(
            admin, old, contracts.LineInput(catalog["AERATE"].id, LineKind.OPTIONAL, 1, Decimal("99.00"))
        )
        # Activated back then, and expired by the daily job since.
        db.session.execute(Contract.__table__.update().where(Contract.id == old.id).values(status="active"))
        contracts.expire_contracts(today)
    db.session.flush()
