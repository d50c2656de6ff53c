"""The staff contract pages over HTTP: list (search, filter, pages), new form, the
contract page with its services (htmx partials and plain posts), revisions, activate
and cancel, Make contract on a won opportunity, the property page, and query counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.contracts.models import Contract, ContractLine, ContractRevision, ContractStatus, LineKind
from portal.domains.customers.models import Site
from tests.contract_factories import from_contract, make_contract, won_opportunity

HX = {"HX-Request": "true"}


@pytest.fixture
def world(make):
    admin = make.staff(role="admin", name="Ada Admin")
    org = make.organization("Birch Lane HOA")
    site = make.site(org, "Clubhouse")
    mowing = make.catalog_item("Mowing", "40.00")
    aeration = make.catalog_item("Aeration", "120.00")
    return admin, org, site, mowing, aeration


@pytest.fixture
def admin_client(client, login, world):
    login(client, world[0])
    return client


def _header(org, site, **overrides):
    today = date.today()
    data = {
        "organization_id": org.id,
        "site_id": site.id,
        "title": "Grounds care",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=364)).isoformat(),
        "billing_cycle": "monthly",
        "currency": "USD",
        "type_id": 0,
        "notes": "",
    }
    data.update(overrides)
    return data


def test_the_list_searches_by_number_and_organization_and_filters_by_status(app, make, admin_client, world):
    admin, org, site, mowing, _a = world
    active = make_contract(app, admin, org, site, included=[(mowing, 1, "40")], active=True)
    other_org = make.organization("Quince Court")
    draft = make_contract(app, admin, other_org, make.site(other_org, "Gatehouse"), title="Other")
    page = admin_client.get("/admin/contracts/").get_data(as_text=True)
    assert active.number in page and draft.number in page
    by_name = admin_client.get("/admin/contracts/?q=quince", headers=HX).get_data(as_text=True)
    assert draft.number in by_name and active.number not in by_name and "<html" not in by_name
    by_number = admin_client.get(f"/admin/contracts/?q={active.number.lower()}").get_data(as_text=True)
    assert active.number in by_number and draft.number not in by_number
    only_active = admin_client.get("/admin/contracts/?status=active").get_data(as_text=True)
    assert active.number in only_active and draft.number not in only_active
    assert admin_client.get("/admin/contracts/?status=bogus&after=%%%").status_code == 200


def test_the_list_pages_with_a_cursor(app, admin_client, world):
    admin, org, site, _m, _a = world
    for _ in range(27):
        make_contract(app, admin, org, site)
    first = admin_client.get("/admin/contracts/").get_data(as_text=True)
    assert 'id="next-page"' in first
    import re

    cursor = re.search(r'href="/admin/contracts/\?after=([^"&]+)"', first).group(1)
    second = admin_client.get(f"/admin/contracts/?after={cursor}").get_data(as_text=True)
    assert len(re.findall(r'id="contract-\d+"', second)) == 2 and 'id="next-page"' not in second


def test_new_contract_form_makes_a_draft_and_refuses_bad_dates_with_422(app, admin_client, world):
    _admin, org, site, _m, _a = world
    form = admin_client.get(f"/admin/contracts/new?organization_id={org.id}")
    assert form.status_code == 200 and "Clubhouse" in form.get_data(as_text=True)
    bad = admin_client.post(
        "/admin/contracts/new", data=_header(org, site, ends_on=(date.today() - timedelta(days=3)).isoformat())
    )
    assert bad.status_code == 422 and "on or after the start date" in bad.get_data(as_text=True)
    old = admin_client.post("/admin/contracts/new", data=_header(org, site, starts_on="1900-01-01"), headers=HX)
    assert old.status_code == 422 and "within 30 years" in old.get_data(as_text=True)
    assert "<html" not in old.get_data(as_text=True)
    garbage = admin_client.post("/admin/contracts/new", data=_header(org, site, starts_on="12abc", site_id="x"))
    assert garbage.status_code == 422 and "like 2027-03-31" in garbage.get_data(as_text=True)
    made = admin_client.post("/admin/contracts/new", data=_header(org, site))
    assert made.status_code == 303
    with app.app_context():
        contract = db.session.scalar(select(Contract))
        assert contract.status == ContractStatus.DRAFT and made.headers["Location"].endswith(f"/{contract.id}")


def test_picking_an_organization_reloads_its_properties(admin_client, world):
    _admin, org, _site, _m, _a = world
    response = admin_client.post(
        "/admin/contracts/new", data={"organization_id": org.id, "pick_organization": "1"}, headers=HX
    )
    assert response.status_code == 200 and "Clubhouse" in response.get_data(as_text=True)


def test_a_property_of_another_organization_is_refused_on_the_form(make, admin_client, world):
    _admin, org, _site, _m, _a = world
    elsewhere = make.site(make.organization("Elsewhere Ltd"), "Depot")
    response = admin_client.post("/admin/contracts/new", data=_header(org, elsewhere))
    assert response.status_code == 422 and "not one of Birch Lane HOA" in response.get_data(as_text=True)


def test_services_are_added_changed_and_removed_with_htmx_partials(app, admin_client, world):
    admin, org, site, mowing, aeration = world
    contract = make_contract(app, admin, org, site)
    base = f"/admin/contracts/{contract.id}"
    added = admin_client.post(
        f"{base}/lines",
        data={"service_id": mowing.id, "kind": "included", "quantity": "4", "unit_price": "45"},
        headers=HX,
    )
    body = added.get_data(as_text=True)
    assert added.status_code == 200 and "<html" not in body and 'id="services"' in body and "180.00" in body
    bad = admin_client.post(
        f"{base}/lines", data={"service_id": aeration.id, "kind": "optional", "quantity": "1", "unit_price": "-5"}
    )
    assert bad.status_code == 422 and "zero or more" in bad.get_data(as_text=True)
    unknown = admin_client.post(f"{base}/lines", data={"service_id": 999999, "quantity": "1"}, headers=HX)
    assert unknown.status_code == 422 and "Choose a service" in unknown.get_data(as_text=True)
    plain = admin_client.post(
        f"{base}/lines", data={"service_id": aeration.id, "kind": "optional", "quantity": "1", "unit_price": "110"}
    )
    assert plain.status_code == 303
    with app.app_context():
        revision_id = db.session.scalar(select(ContractRevision.id).where(ContractRevision.contract_id == contract.id))
        mowing_line = db.session.scalar(
            select(ContractLine.id).where(
                ContractLine.revision_id == revision_id, ContractLine.kind == LineKind.INCLUDED
            )
        )
    changed = admin_client.post(
        f"{base}/lines/{mowing_line}",
        data={"service_id": mowing.id, "kind": "included", "quantity": "5", "unit_price": "45"},
        headers=HX,
    )
    assert changed.status_code == 200 and "225.00" in changed.get_data(as_text=True)
    removed = admin_client.post(f"{base}/lines/{mowing_line}/delete", headers=HX)
    assert removed.status_code == 200 and "225.00" not in removed.get_data(as_text=True)
    assert admin_client.post(f"{base}/lines/999999/delete").status_code == 409


def test_an_active_contract_changes_in_a_new_revision_and_the_old_stays_readable(app, admin_client, world):
    admin, org, site, mowing, aeration = world
    contract = make_contract(app, admin, org, site, included=[(mowing, 4, "45")])
    base = f"/admin/contracts/{contract.id}"
    assert admin_client.post(f"{base}/activate").status_code == 303
    again = admin_client.post(f"{base}/activate", follow_redirects=True)
    assert "already active" in again.get_data(as_text=True)
    admin_client.post(f"{base}/lines", data={"service_id": aeration.id, "kind": "optional", "unit_price": "99"})
    page = admin_client.get(base).get_data(as_text=True)
    assert "v.1" in page and f"{base}/revisions/0" in page
    old = admin_client.get(f"{base}/revisions/0").get_data(as_text=True).split('id="revisions"')[0]
    assert "superseded" in old and "Aeration" not in old and "180.00" in old
    assert admin_client.get(f"{base}/revisions/7").status_code == 404
    cancelled = admin_client.post(f"{base}/cancel", data={"reason": "Moved"})
    assert cancelled.status_code == 303
    refused = admin_client.post(f"{base}/lines", data={"service_id": mowing.id, "quantity": "1"})
    assert refused.status_code == 409 and "cancelled" in refused.get_data(as_text=True)


def test_activating_an_empty_contract_is_refused_with_409(app, admin_client, world):
    admin, org, site, _m, _a = world
    contract = make_contract(app, admin, org, site)
    response = admin_client.post(f"/admin/contracts/{contract.id}/activate")
    assert response.status_code == 409 and "at least one included service" in response.get_data(as_text=True)


def test_the_header_is_edited_and_bad_dates_come_back_with_422(app, admin_client, world):
    admin, org, site, _m, _a = world
    contract = make_contract(app, admin, org, site)
    base = f"/admin/contracts/{contract.id}"
    bad = admin_client.post(f"{base}/header", data=_header(org, site, ends_on="2000-01-01"), headers=HX)
    assert bad.status_code == 422 and "on or after" in bad.get_data(as_text=True)
    saved = admin_client.post(f"{base}/header", data=_header(org, site, title="Renamed care", billing_cycle="yearly"))
    assert saved.status_code == 303
    assert "Renamed care" in admin_client.get(base).get_data(as_text=True)


def test_make_contract_on_a_won_opportunity_then_a_second_is_refused(app, make, admin_client, world):
    admin, org, site, mowing, aeration = world
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, admin, org, contact, [mowing], [aeration], tick=0)
    page = admin_client.get(f"/admin/sales/opportunities/{opportunity.id}").get_data(as_text=True)
    assert 'id="make-contract"' in page
    made = admin_client.post(f"/admin/sales/opportunities/{opportunity.id}/contract")
    assert made.status_code == 303 and "/admin/contracts/" in made.headers["Location"]
    contract_page = admin_client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Aeration" in contract_page and "Mowing" in contract_page
    second = admin_client.post(f"/admin/sales/opportunities/{opportunity.id}/contract")
    assert second.status_code == 409 and "already made contract C-" in second.get_data(as_text=True)
    page = admin_client.get(f"/admin/sales/opportunities/{opportunity.id}").get_data(as_text=True)
    assert 'id="contract-link"' in page and 'id="make-contract"' not in page


def test_the_property_page_edits_zone_notes_and_site_contact(app, make, admin_client, world):
    admin, org, site, mowing, _a = world
    contact = make.contact(org, first_name="Paula", last_name="Porter")
    stranger = make.contact(make.organization("Elsewhere Ltd"))
    contract = make_contract(app, admin, org, site, included=[(mowing, 1, "40")], active=True)
    page = admin_client.get(f"/admin/sites/{site.id}").get_data(as_text=True)
    assert contract.number in page and "Paula Porter" in page  # a choice of site contact
    saved = admin_client.post(
        f"/admin/sites/{site.id}",
        data={
            "name": "Clubhouse",
            "address": "1 Lane",
            "zone": "North",
            "notes": "Gate 1234",
            "site_contact_id": contact.id,
        },
    )
    assert saved.status_code == 303
    with app.app_context():
        stored = db.session.get(Site, site.id)
        assert (stored.zone, stored.notes, stored.site_contact_id) == ("North", "Gate 1234", contact.id)
    foreign = admin_client.post(
        f"/admin/sites/{site.id}", data={"name": "Clubhouse", "site_contact_id": stranger.id}, headers=HX
    )
    assert foreign.status_code == 422 and "contact of this organization" in foreign.get_data(as_text=True)
    nameless = admin_client.post(f"/admin/sites/{site.id}", data={"name": "", "site_contact_id": "abc"})
    assert nameless.status_code == 422 and "Give the property a name" in nameless.get_data(as_text=True)
    org_page = admin_client.get(f"/admin/organizations/{org.id}").get_data(as_text=True)
    assert contract.number in org_page and "Properties" in org_page


def test_list_and_detail_pages_run_the_same_number_of_queries_as_rows_grow(
    app, make, admin_client, world, count_queries
):
    admin, org, site, mowing, aeration = world
    contract = make_contract(app, admin, org, site, included=[(mowing, 1, "40")], optional=[(aeration, 1, "99")])
    urls = [
        "/admin/contracts/",
        f"/admin/contracts/{contract.id}",
        f"/admin/sites/{site.id}",
        f"/admin/contracts/{contract.id}/revisions/0",
    ]
    for url in urls:
        admin_client.get(url)
    few = {}
    for url in urls:
        with count_queries() as counter:
            assert admin_client.get(url).status_code == 200
        few[url] = counter.count
    for n in range(6):
        other = make.site(org, f"Site {n}")
        make_contract(app, admin, org, other, included=[(mowing, 1, "40")], optional=[(aeration, 1, "99")])
    from tests.contract_factories import add_lines

    add_lines(app, admin, contract, [(mowing, 2, "41"), (aeration, 1, "98")] * 3)
    for url in urls:
        with count_queries() as counter:
            assert admin_client.get(url).status_code == 200
        assert counter.count == few[url], url


def test_make_contract_asks_which_property_and_defaults_to_the_campaign_contracts_one(app, make, admin_client, world):
    admin, org, site, mowing, aeration = world
    annex = make.site(org, "Annex")  # first by name
    retired = make.site(org, "Boathouse")
    with app.app_context():
        db.session.get(Site, retired.id).is_active = False
        db.session.commit()
    stranger = make.site(make.organization("Elsewhere Ltd"), "Elsewhere lot")
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, admin, org, contact, [mowing], [aeration], tick=0)
    url = f"/admin/sales/opportunities/{opportunity.id}"
    page = admin_client.get(url).get_data(as_text=True)
    choices = page.split('id="contract-site"')[1].split("</select>")[0]
    assert "Annex" in choices and "Clubhouse" in choices and "Boathouse" not in choices
    assert f'value="{annex.id}" selected' in choices  # no contract behind it: the first by name
    for bad in (str(stranger.id), str(retired.id), "x", "99999999999"):
        refused = admin_client.post(f"{url}/contract", data={"site_id": bad})
        assert refused.status_code == 409, bad
        assert "Choose one of this organization&#39;s active properties." in refused.get_data(as_text=True)
    # An opportunity a campaign made from the Clubhouse contract: its page offers Add to
    # contract instead; a Make contract posted without a choice takes the Clubhouse.
    earlier = make_contract(app, admin, org, site, included=[(mowing, 1, "40")], active=True)
    from_contract(app, opportunity, earlier)
    made = admin_client.post(f"{url}/contract")
    assert made.status_code == 303
    with app.app_context():
        contract = db.session.scalar(select(Contract).where(Contract.opportunity_id == opportunity.id))
        assert contract.site_id == site.id


def test_a_won_campaign_opportunity_adds_its_signed_option_to_its_contract_from_its_page(
    app, make, admin_client, world
):
    admin, org, site, mowing, aeration = world
    contract = make_contract(
        app, admin, org, site, included=[(mowing, 4, "45")], optional=[(aeration, 1, "99")], active=True
    )
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, admin, org, contact, [], [aeration], tick=1)
    from_contract(app, opportunity, contract)
    url = f"/admin/sales/opportunities/{opportunity.id}"
    page = admin_client.get(url).get_data(as_text=True)
    assert 'id="source-contract-link"' in page and contract.number in page
    assert 'id="add-to-contract"' in page and 'id="make-contract"' not in page  # one path, not two
    added = admin_client.post(f"{url}/contract/add")
    assert added.status_code == 303 and added.headers["Location"].endswith(f"/admin/contracts/{contract.id}")
    contract_page = admin_client.get(added.headers["Location"]).get_data(as_text=True)
    assert f"The signed services were added to {contract.number} in v.1." in contract_page
    assert "v.1" in contract_page and "300.00" in contract_page  # 4 x 45 + the signed 120
    again = admin_client.post(f"{url}/contract/add")
    assert again.status_code == 409 and f"Already added to {contract.number} in v.1." in again.get_data(as_text=True)
    page = admin_client.get(url).get_data(as_text=True)
    assert 'id="contract-added"' in page and f"/admin/contracts/{contract.id}/revisions/1" in page
    assert 'id="add-to-contract"' not in page


def test_an_open_campaign_opportunity_names_its_contract_without_a_button(app, make, admin_client, world):
    from tests.sales_factories import make_opportunity

    admin, org, site, mowing, aeration = world
    contract = make_contract(app, admin, org, site, optional=[(aeration, 1, "99")])
    contact = make.contact(org, portal_enabled=True)
    opportunity = from_contract(app, make_opportunity(app, admin, org, contact, title="Aeration"), contract)
    page = admin_client.get(f"/admin/sales/opportunities/{opportunity.id}").get_data(as_text=True)
    assert 'id="source-contract-link"' in page
    assert 'id="add-to-contract"' not in page and 'id="make-contract"' not in page
    refused = admin_client.post(f"/admin/sales/opportunities/{opportunity.id}/contract/add")
    assert refused.status_code == 409 and "Only a won opportunity changes a contract." in refused.get_data(as_text=True)
