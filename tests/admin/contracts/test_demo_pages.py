"""The demo's contracts as a person meets them after ``python3 dev.py run``: the staff
list, each contract's page and revisions, the properties, and Jane's portal pages."""

from __future__ import annotations

from sqlalchemy import select

from portal.core.extensions import db
from portal.demo import DEMO_PASSWORD, seed_demo
from portal.domains.contracts.models import Contract
from portal.domains.customers.models import Contact, Organization, Site
from tests.factories import forge_signed_in_session


def test_the_demo_contract_pages_open_for_staff_and_for_jane(app, client):
    with app.app_context():
        seed_demo()
        contracts = list(db.session.execute(select(Contract.id, Contract.number, Contract.status)))
        sites = list(db.session.scalars(select(Site.id)))
        greenleaf = db.session.scalar(select(Organization.id).where(Organization.name.like("Greenleaf Property%")))
        jane = db.session.scalar(select(Contact).where(Contact.email == "jane.park@greenleaf.example"))
        db.session.expunge(jane)
    assert (
        client.post("/admin/login", data={"email": "admin@demo.porchlight", "password": DEMO_PASSWORD}).status_code
        == 303
    )
    listing = client.get("/admin/contracts/").get_data(as_text=True)
    for contract_id, number, _status in contracts:
        assert number in listing
        assert client.get(f"/admin/contracts/{contract_id}").status_code == 200
        assert client.get(f"/admin/contracts/{contract_id}/revisions/0").status_code == 200
    for site_id in sites:
        assert client.get(f"/admin/sites/{site_id}").status_code == 200
    assert "Grounds care 2027" in client.get(f"/admin/organizations/{greenleaf}").get_data(as_text=True)

    portal = app.test_client()
    forge_signed_in_session(app, portal, jane)
    mine = portal.get("/contracts").get_data(as_text=True)
    assert "Grounds care 2027" in mine and "Campus maintenance" in mine  # her level covers North Campus
    assert "Clinic frontage" not in mine  # Harbor Dental's
    active = [cid for cid, _n, status in contracts if status == "active"]
    pages = [portal.get(f"/contracts/{cid}") for cid in active]
    assert any("Core aeration" in page.get_data(as_text=True) for page in pages if page.status_code == 200)
