"""Contracts on the portal: a signed-in contact sees their organization's active
contracts as their level allows, with the included services and the optional
services offered and their prices; anything else is a 404."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from portal.core.extensions import db
from portal.domains.customers.models import Organization, Site
from tests.contract_factories import make_contract
from tests.factories import forge_signed_in_session


@pytest.fixture
def world(app, make):
    """O (parent P, sub-organization S) and an unrelated U, each with an active
    contract; O also a draft and a cancelled one, and a contract at a property whose
    site contact is the requester."""
    rep = make.staff(role="admin")
    mowing = make.catalog_item("Mowing", "40.00")
    aeration = make.catalog_item("Aeration", "120.00")
    parent = make.organization("Parent Group")
    org = make.organization_with("Oak Estates", parent_id=parent.id)
    sub = make.organization_with("Oak North", parent_id=org.id)
    other = make.organization("Unrelated Co")
    contracts = {}
    for key, organization in (("P", parent), ("O", org), ("S", sub), ("U", other)):
        site = make.site(organization, f"{key} lawn")
        contracts[key] = make_contract(
            app,
            rep,
            organization,
            site,
            included=[(mowing, 4, "45.00")],
            optional=[(aeration, 1, "110.00")],
            active=True,
            title=f"{key} grounds",
        )
    own_site = make.site(org, "Requester's yard")
    contracts["mine"] = make_contract(app, rep, org, own_site, included=[(mowing, 1, "40")], active=True, title="Mine")
    contracts["draft"] = make_contract(app, rep, org, own_site, included=[(mowing, 1, "40")], title="Draft one")
    cancelled = make_contract(app, rep, org, own_site, included=[(mowing, 1, "40")], active=True, title="Gone")
    with app.app_context():
        from portal.domains.contracts.models import Contract

        db.session.execute(update(Contract).where(Contract.id == cancelled.id).values(status="cancelled"))
        db.session.commit()
    contracts["cancelled"] = cancelled
    return org, own_site, contracts, make


def _contact(app, make, org, level, own_site=None):
    contact = make.contact(org, portal_level=level)
    if own_site is not None:
        with app.app_context():
            db.session.execute(update(Site).where(Site.id == own_site.id).values(site_contact_id=contact.id))
            db.session.commit()
    return contact


LEVELS = {
    "requester": {"mine"},
    "organization": {"O", "mine"},
    "organization_tree": {"O", "S", "mine"},
}


@pytest.mark.parametrize("level", list(LEVELS))
def test_each_level_sees_the_active_contracts_it_covers_and_404_otherwise(app, client, world, level):
    org, own_site, contracts, make = world
    contact = _contact(app, make, org, level, own_site)
    forge_signed_in_session(app, client, contact)
    listing = client.get("/contracts").get_data(as_text=True)
    for key, contract in contracts.items():
        seen = key in LEVELS[level]
        assert (contract.number in listing) == seen, (level, key)
        page = client.get(f"/contracts/{contract.id}")
        assert page.status_code == (200 if seen else 404), (level, key)
        if not seen:
            assert contract.number not in page.get_data(as_text=True)


def test_the_page_shows_included_and_optional_services_with_prices(app, client, world):
    org, _site, contracts, make = world
    forge_signed_in_session(app, client, _contact(app, make, org, "organization"))
    page = client.get(f"/contracts/{contracts['O'].id}").get_data(as_text=True)
    assert "Mowing" in page and "$180.00" in page
    optional = page.split('id="optional-services"')[1]
    assert "Aeration" in optional and "$110.00" in optional


def test_the_home_page_links_the_contracts_and_a_stranger_session_gets_sign_in(app, client, world):
    org, _site, _contracts, make = world
    assert client.get("/contracts").status_code == 303
    forge_signed_in_session(app, client, _contact(app, make, org, "organization"))
    assert 'id="your-contracts"' in client.get("/home").get_data(as_text=True)


def test_a_deactivated_organization_ends_the_session_before_any_contract(app, client, world):
    org, _site, contracts, make = world
    forge_signed_in_session(app, client, _contact(app, make, org, "organization"))
    with app.app_context():
        db.session.execute(update(Organization).where(Organization.id == org.id).values(is_active=False))
        db.session.commit()
    response = client.get(f"/contracts/{contracts['O'].id}")
    assert response.status_code in (303, 404)
    assert contracts["O"].number not in response.get_data(as_text=True)


def test_the_portal_pages_run_the_same_number_of_queries_as_contracts_grow(app, client, world, count_queries):
    org, _site, contracts, make = world
    forge_signed_in_session(app, client, _contact(app, make, org, "organization"))
    urls = ["/contracts", f"/contracts/{contracts['O'].id}"]
    for url in urls:
        client.get(url)
    few = {}
    for url in urls:
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        few[url] = counter.count
    rep = make.staff(role="admin")
    mowing = make.catalog_item("Edging", "10")
    for n in range(5):
        make_contract(app, rep, org, make.site(org, f"Extra {n}"), included=[(mowing, 1, "10")], active=True)
    for url in urls:
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        assert counter.count == few[url], url
