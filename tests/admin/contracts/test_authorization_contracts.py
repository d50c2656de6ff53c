"""Who gets what on the contract pages, the property page, Make contract and Add to
contract: each
role, on the customer's account team or a stranger to it, for every route and method.

- admins and managers: everything;
- sales: the contracts of customers they see (account team here), and they change them;
- technicians: those of customers whose team includes them, read-only;
- anyone else: a 404 that does not name the contract.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.contracts.models import Contract, ContractLine
from tests.contract_factories import from_contract, make_contract, won_opportunity
from tests.factories import add_to_team

CLASSIFIED = {
    ("admin.contracts.index", "GET"),
    ("admin.contracts.new", "GET"),
    ("admin.contracts.new", "POST"),
    ("admin.contracts.show", "GET"),
    ("admin.contracts.revision", "GET"),
    ("admin.contracts.update_header", "POST"),
    ("admin.contracts.add_line", "POST"),
    ("admin.contracts.update_line", "POST"),
    ("admin.contracts.delete_line", "POST"),
    ("admin.contracts.activate", "POST"),
    ("admin.contracts.cancel", "POST"),
    ("admin.opportunities.make_contract", "POST"),
    ("admin.opportunities.add_to_contract", "POST"),
    ("admin.sites.show", "GET"),
    ("admin.sites.update", "POST"),
}

NUMBER_TITLE = "Zanzibar grounds"

# (role, relation) -> (sees it, may change it)
ACTORS = {
    ("admin", "stranger"): (True, True),
    ("manager", "stranger"): (True, True),
    ("sales", "team"): (True, True),
    ("sales", "stranger"): (False, False),
    ("technician", "team"): (True, False),
    ("technician", "stranger"): (False, False),
}


@pytest.fixture
def world(app, make):
    owner = make.staff(role="admin", name="Owner Admin")
    org = make.organization("Quince Court")
    site = make.site(org, "Quince lawn")
    mowing = make.catalog_item("Mowing", "40.00")
    aeration = make.catalog_item("Aeration", "120.00")
    contract = make_contract(
        app, owner, org, site, included=[(mowing, 1, "40")], optional=[(aeration, 1, "99")], title=NUMBER_TITLE
    )
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, owner, org, contact, [mowing], [aeration])
    # A campaign's opportunity, made from the contract, won with its option ticked.
    campaign_won, _p = won_opportunity(app, make, owner, org, contact, [], [aeration])
    from_contract(app, campaign_won, contract)
    with app.app_context():
        line_id = db.session.scalar(
            select(ContractLine.id).where(ContractLine.revision_id == contract.current_revision_id).limit(1)
        )
    return org, site, contract, line_id, opportunity, mowing, campaign_won


def _actor(app, make, role, relation, org):
    user = make.staff(role=role)
    if relation == "team":
        add_to_team(app, org, user)
    return user


@pytest.mark.parametrize(("role", "relation"), list(ACTORS))
def test_each_role_reads_what_it_may_and_gets_404_otherwise(app, make, client, login, world, role, relation):
    sees, _changes = ACTORS[(role, relation)]
    org, site, contract, _line, _opp, _m, _c = world
    login(client, _actor(app, make, role, relation, org))
    for path in (f"/admin/contracts/{contract.id}", f"/admin/contracts/{contract.id}/revisions/0"):
        page = client.get(path)
        assert page.status_code == (200 if sees else 404), path
        assert (NUMBER_TITLE in page.get_data(as_text=True)) == sees, path
    listed = client.get("/admin/contracts/")
    assert listed.status_code == 200 and (contract.number in listed.get_data(as_text=True)) == sees
    searched = client.get("/admin/contracts/?q=quince", headers={"HX-Request": "true"})
    assert searched.status_code == 200 and (contract.number in searched.get_data(as_text=True)) == sees
    property_page = client.get(f"/admin/sites/{site.id}")
    assert property_page.status_code == (200 if sees else 404)
    assert ("Quince lawn" in property_page.get_data(as_text=True)) == sees


@pytest.mark.parametrize(("role", "relation"), list(ACTORS))
def test_each_role_changes_what_it_may_and_gets_404_otherwise(app, make, client, login, world, role, relation):
    _sees, changes = ACTORS[(role, relation)]
    org, site, contract, line_id, opportunity, mowing, campaign_won = world
    login(client, _actor(app, make, role, relation, org))
    base = f"/admin/contracts/{contract.id}"
    expect = {True: None, False: 404}[changes]

    def status(response, allowed):
        assert response.status_code == (allowed if changes else expect), response.request.path

    status(client.post(f"{base}/header", data={"starts_on": "1900-01-01"}), 422)
    status(client.post(f"{base}/lines", data={"service_id": mowing.id, "quantity": "0"}), 422)
    status(client.post(f"{base}/lines/{line_id}", data={"service_id": mowing.id, "quantity": "2"}), 303)
    status(client.post(f"/admin/sales/opportunities/{campaign_won.id}/contract/add"), 303)
    with app.app_context():
        added = db.session.scalar(
            select(ContractLine.kind).where(
                ContractLine.revision_id == contract.current_revision_id, ContractLine.description == "Aeration"
            )
        )
        assert added == ("included" if changes else "optional")
    status(client.post(f"{base}/activate"), 303)
    with app.app_context():
        line_id = db.session.scalar(
            select(ContractLine.id)
            .where(ContractLine.revision_id == db.session.get(Contract, contract.id).current_revision_id)
            .limit(1)
        )
    status(client.post(f"{base}/lines/{line_id}/delete"), 303)
    status(client.post(f"{base}/cancel", data={"reason": "test"}), 303)
    status(client.post(f"/admin/sites/{site.id}", data={"name": ""}), 422)
    status(client.post(f"/admin/sales/opportunities/{opportunity.id}/contract"), 303)
    with app.app_context():
        stored = db.session.get(Contract, contract.id)
        assert (stored.status == "cancelled") == changes
    creator = role != "technician"
    assert client.get("/admin/contracts/new").status_code == (200 if creator else 404)
    made = client.post("/admin/contracts/new", data={"organization_id": org.id, "site_id": site.id})
    assert made.status_code == (422 if creator else 404)
    if creator and relation == "stranger" and role == "sales":
        # An organization they may not see is "choose", as if it did not exist.
        assert "Choose an organization" in made.get_data(as_text=True)


def test_an_activate_refusal_names_the_reason_for_who_may_change(app, make, client, login, world):
    org, _site, _contract, _line, _opp, _m, _c = world
    login(client, make.staff(role="admin"))
    empty = make_contract(app, make.staff(role="admin"), org, make.site(org, "Empty yard"))
    response = client.post(f"/admin/contracts/{empty.id}/activate")
    assert response.status_code == 409


def test_unknown_ids_are_404(client, login, make):
    login(client, make.staff(role="admin"))
    for path in ("/admin/contracts/999999", "/admin/contracts/99999999999", "/admin/sites/999999"):
        assert client.get(path).status_code == 404
    assert client.post("/admin/contracts/999999/activate").status_code == 404
    assert client.post("/admin/sales/opportunities/999999/contract").status_code == 404
    assert client.post("/admin/sales/opportunities/999999/contract/add").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    _org, site, contract, _line, _opp, _m, _c = world
    for path in ("/admin/contracts/", f"/admin/contracts/{contract.id}", f"/admin/sites/{site.id}"):
        response = client.get(path)
        assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]
