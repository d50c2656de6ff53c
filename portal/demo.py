"""Demo data: enough to walk the whole story on a laptop."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.customers.models import Contact, Organization, organization_team
from portal.domains.identity import links
from portal.domains.identity import staff as accounts
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import CatalogItem, Proposal
from portal.domains.proposals.operations import LineInput, SignInput

DEMO_PASSWORD = "porchlight-demo"
TERMS = (
    "1. Prices are valid for 30 days from delivery.\n"
    "2. Work is scheduled within 10 business days of signature.\n"
    "3. Optional services you tick become part of the signed scope.\n"
    "4. Invoices are due 15 days after the work is completed."
)
CATALOG = [
    ("MOW", "Weekly mowing (per visit)", "45.00"),
    ("EDGE", "Edging and trimming", "30.00"),
    ("MULCH", "Mulch installation (per yard)", "65.00"),
    ("AERATE", "Core aeration", "120.00"),
    ("HEDGE", "Hedge trimming", "85.00"),
    ("IRRIG", "Irrigation check-up", "95.00"),
    ("LEAF", "Fall leaf clean-up", "180.00"),
    ("SNOW", "Snow removal (per event)", "150.00"),
]


def seed_demo() -> dict:
    """Create the demo world once; on later runs only issue a fresh portal link."""
    existing = db.session.scalar(select(StaffUser).where(StaffUser.email == "sales@demo.porchlight"))
    if existing is None:
        _create_world()
    from portal.demo_tickets import seed_service_demo

    seed_service_demo()  # once, on its own check: databases seeded before tickets get them too
    from portal.demo_sales import seed_sales_demo

    seed_sales_demo()  # likewise for the sales pipeline
    _seed_leads()
    from portal.demo_sales_rules import seed_sales_rules_demo

    seed_sales_rules_demo()  # and its assignment rules, absences and follow-ups
    from portal.demo_sales_more import seed_sales_more_demo

    seed_sales_more_demo()  # supplier quotations (SALES-MORE), once, on its own check
    from portal.demo_contracts import seed_contracts_demo

    seed_contracts_demo()  # properties and contracts (optional services), once, on its own check
    rep = db.session.scalar(select(StaffUser).where(StaffUser.email == "sales@demo.porchlight"))
    delivered = db.session.scalar(
        select(Proposal).where(Proposal.status == "delivered", Proposal.signed_at.is_(None)).order_by(Proposal.id)
    )
    info = {
        "login_url": external_url("admin.auth.login"),
        "staff": [("admin@demo.porchlight", DEMO_PASSWORD), ("sales@demo.porchlight", DEMO_PASSWORD)],
        "portal_url": None,
        "sign_in_url": external_url("sign_in.start"),
    }
    if delivered is not None:
        contact = db.session.get(Contact, delivered.contact_id)
        issued = links.issue_link(contact, "proposal", delivered.id, created_by=rep)
        info["portal_url"] = external_url("links.open", token=issued.token)
        info["portal_contact"] = contact.email
    db.session.commit()
    return info


def _seed_leads() -> None:
    """A few leads, once: one typed by staff, one from the quote page, one whose email and
    company match an existing customer (its page says "possible duplicate")."""
    from portal.domains.sales import leads
    from portal.domains.sales.models import Lead

    if db.session.scalar(select(Lead.id).where(Lead.email == "marco@bianchi-bakery.example")) is not None:
        return  # seeded before (checked on its own, as the other demo parts are)
    rep = db.session.scalar(select(StaffUser).where(StaffUser.email == "sales@demo.porchlight"))
    leads.create_lead(
        leads.LeadInput(
            name="Marco Bianchi",
            company="Bianchi Bakery",
            email="marco@bianchi-bakery.example",
            phone="+1 555 0142",
            notes="Wants a quote for weekly mowing and hedge trimming at the bakery.",
            rep_id=rep.id if rep else None,
        ),
        actor=rep,
    )
    leads.request_quote(
        leads.QuoteRequest(
            name="Ioana Popescu",
            email="ioana.popescu@example.org",
            phone="+40 721 000 111",
            address="Strada Florilor 12, Cluj-Napoca",
            need="Snow removal for a small parking lot, December to March.",
        )
    )
    leads.create_lead(
        leads.LeadInput(
            name="Lucía Rossi",
            company="HARBOR DENTAL GROUP",
            email="lucia.rossi@harbor.example",
            notes="Asked at a trade fair about irrigation for their second office.",
        ),
        actor=rep,
    )


def _create_world() -> None:
    admin = accounts.create_staff("admin@demo.porchlight", "Ada Admin", DEMO_PASSWORD, role="admin")
    rep = accounts.create_staff(
        "sales@demo.porchlight",
        "Sam Sales",
        DEMO_PASSWORD,
        role="sales",
        timezone=current_app.config["DEFAULT_TIMEZONE"],
    )
    accounts.create_staff("tech@demo.porchlight", "Theo Tech", DEMO_PASSWORD, role="technician")
    catalog = {}
    for code, name, price in CATALOG:
        item = CatalogItem(code=code, name=name, unit_price=Decimal(price), currency="USD")
        db.session.add(item)
        catalog[code] = item
    tech = db.session.scalar(select(StaffUser).where(StaffUser.email == "tech@demo.porchlight"))
    greenleaf = Organization(
        name="Greenleaf Property Management",
        city="Albany",
        invoice_template="detailed",
        tax_region="us_ny",
        tax_id="NY-4417-2290",
        billing_address="12 State Street\nAlbany, NY 12207",
        billing_attention="Jane Park",
        billing_reviewed_at=utcnow(),
        account_manager_id=rep.id,
    )
    harbor = Organization(
        name="Harbor Dental Group",
        city="Rome",
        tax_region="eu_it",
        tax_id="IT 0192 8374 651",
        billing_address="Via del Corso 10\n00186 Roma",
        billing_attention="Lucia Rossi",
    )
    db.session.add_all([greenleaf, harbor])
    db.session.flush()
    north = Organization(name="Greenleaf North Campus", city="Troy", parent_id=greenleaf.id, bill_to_parent=True)
    db.session.add(north)
    db.session.flush()
    db.session.execute(
        organization_team.insert(),
        [
            {"organization_id": greenleaf.id, "staff_id": rep.id},
            {"organization_id": harbor.id, "staff_id": rep.id},
            {"organization_id": harbor.id, "staff_id": tech.id},
        ],
    )
    jane = Contact(
        organization_id=greenleaf.id,
        first_name="Jane",
        last_name="Park",
        title="Facilities director",
        email="jane.park@greenleaf.example",
        timezone="America/New_York",
        is_primary=True,
        portal_level="organization_tree",
    )
    omar = Contact(
        organization_id=greenleaf.id,
        first_name="Omar",
        last_name="Diaz",
        title="Site manager",
        email="omar.diaz@greenleaf.example",
        timezone="America/New_York",
    )
    nina = Contact(
        organization_id=north.id,
        first_name="Nina",
        last_name="Brooks",
        title="Campus lead",
        email="nina.brooks@greenleaf.example",
        timezone="America/New_York",
        is_primary=True,
        portal_level="organization",
    )
    lucia = Contact(
        organization_id=harbor.id,
        first_name="Lucia",
        last_name="Rossi",
        title="Office manager",
        email="lucia.rossi@harbor.example",
        timezone="Europe/Rome",
        is_primary=True,
        portal_level="organization",
    )
    db.session.add_all([jane, omar, nina, lucia])
    db.session.flush()

    def build(contact, title, included, optional):
        proposal = proposals.create_proposal(rep, contact, title, "USD", TERMS)
        db.session.refresh(proposal, ["lines"])
        for code, qty in included:
            proposals.add_line(proposal, LineInput("", Decimal(qty), None, False, None, catalog[code].id))
        for code, qty in optional:
            proposals.add_line(proposal, LineInput("", Decimal(qty), None, True, None, catalog[code].id))
        return proposal

    build(jane, "Spring clean-up, north campus", [("MOW", "4"), ("EDGE", "4")], [("MULCH", "3")])
    delivered = build(
        jane,
        "Grounds maintenance 2027",
        [("MOW", "26"), ("EDGE", "26"), ("HEDGE", "2")],
        [("AERATE", "1"), ("MULCH", "6"), ("IRRIG", "2"), ("LEAF", "1"), ("SNOW", "8")],
    )
    proposals.deliver_proposal(delivered, rep)
    signed = build(lucia, "Clinic entrance care", [("MOW", "12"), ("HEDGE", "1")], [("MULCH", "2"), ("LEAF", "1")])
    issued = proposals.deliver_proposal(signed, rep)
    proposals.sign_proposal(
        signed,
        lucia,
        issued.link,
        SignInput(
            option_ids=[str(signed.lines[-1].id)],
            signer_name="Lucia Rossi",
            consent=True,
            signature_png=demo_signature_png(),
            strokes=DEMO_STROKES,
            seen_hash=proposals.content_hash(signed),
            ip="127.0.0.1",
            user_agent="demo seed",
        ),
    )
    build(nina, "North campus snow plan", [("SNOW", "10")], [("LEAF", "1")])
    won = build(omar, "Irrigation repair", [("IRRIG", "3")], [("AERATE", "1")])
    proposals.deliver_proposal(won, rep)
    proposals.mark_won(won, admin)
    db.session.flush()


DEMO_STROKES = (
    '[{"penColor":"#10204a","dotSize":0,"minWidth":0.8,"maxWidth":2.6,"velocityFilterWeight":0.7,'
    '"compositeOperation":"source-over","points":[{"x":20,"y":60,"pressure":0.5,"time":1},'
    '{"x":60,"y":20,"pressure":0.5,"time":2},{"x":100,"y":70,"pressure":0.5,"time":3},'
    '{"x":140,"y":25,"pressure":0.5,"time":4},{"x":180,"y":65,"pressure":0.5,"time":5}]}]'
)


def demo_signature_png(width: int = 300, height: int = 100) -> str:
    """A drawn-looking signature as a PNG data URL (demo data and tests use it)."""
    import base64
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(20, 60), (60, 20), (100, 70), (140, 25), (180, 65), (240, 40)], fill=(16, 32, 74, 255), width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
