"""The organization's SLA: the select on the organization form (inherit, shared,
custom), what the service stores, and the onboarding checklist's "SLA chosen" item
(done when the organization or a parent has one; says which SLA applies and why)."""

from __future__ import annotations

import re

import pytest

from portal.core.extensions import db
from portal.domains.customers import organizations as service
from portal.domains.customers.models import Organization
from tests.factories import add_to_team, snapshot, stored


def _form(**values) -> dict:
    data = {
        "name": "Greenleaf Gardens",
        "city": "",
        "parent_id": "0",
        "invoice_template": "standard",
        "tax_region": "none",
        "tax_id": "",
        "billing_address": "1 Elm Street",
        "billing_attention": "",
        "account_manager_id": "0",
        "sla_id": "0",
    }
    data.update(values)
    return data


@pytest.fixture
def admin_client(app, make, login):
    client = app.test_client()
    login(client, make.staff(role="admin", name="Ada Admin"))
    return client


def _sla_item(html: str) -> tuple[bool, str, str | None]:
    """(done, note, link) of the checklist's SLA item."""
    item = re.search(r'<li class="(done|todo)"[^>]*>((?:(?!</li>).)*SLA chosen(?:(?!</li>).)*)</li>', html, re.DOTALL)
    assert item, "no SLA item"
    link = re.search(r'<a href="([^"]+)">SLA chosen</a>', item.group(2))
    note = re.search(r'<small class="muted">([^<]*)</small>', item.group(2)).group(1)
    return item.group(1) == "done", note, link.group(1) if link else None


def test_the_form_offers_inherit_then_shared_then_custom_slas(app, admin_client, make):
    make.sla("Gold")
    make.sla("Acme own", is_shared=False)
    organization = make.organization_with("Acme", billing_address="x")
    html = admin_client.get(f"/admin/organizations/{organization.id}/edit").get_data(as_text=True)
    select = re.search(r'<select [^>]*id="sla_id"[^>]*>(.*?)</select>', html, re.DOTALL).group(1)
    assert (
        select.index("Inherit (parent&#39;s, else the default)")
        < select.index('label="Shared SLAs"')
        < select.index("Gold")
        < select.index('label="Custom SLAs"')
        < select.index("Acme own")
    )
    assert "Standard (default)" in select
    assert re.search(r'<option selected value="0">', select)
    assert 'id="sla"' in html


def test_choosing_an_sla_stores_it_and_inherit_clears_it(app, admin_client, make):
    gold = make.sla("Gold")
    organization = make.organization_with("Acme", billing_address="x")
    url = f"/admin/organizations/{organization.id}/edit"
    assert admin_client.post(url, data=_form(name="Acme", sla_id=str(gold.id))).status_code == 303
    assert stored(app, Organization, organization.id).sla_id == gold.id
    assert re.search(rf'<option selected value="{gold.id}">Gold</option>', admin_client.get(url).get_data(as_text=True))
    # A form without the field (an older page) keeps it; Inherit clears it.
    without = _form(name="Acme")
    without.pop("sla_id")
    assert admin_client.post(url, data=without).status_code == 303
    assert stored(app, Organization, organization.id).sla_id == gold.id
    assert admin_client.post(url, data=_form(name="Acme", sla_id="0")).status_code == 303
    assert stored(app, Organization, organization.id).sla_id is None


def test_a_new_organization_can_start_with_an_sla(app, admin_client, make):
    gold = make.sla("Gold")
    response = admin_client.post("/admin/organizations/new", data=_form(name="Fresh Co", sla_id=str(gold.id)))
    assert response.status_code == 303
    with app.app_context():
        created = db.session.query(Organization).filter_by(name="Fresh Co").one()
        assert created.sla_id == gold.id


def test_an_unknown_sla_is_a_422_with_nothing_lost(app, admin_client, make):
    organization = make.organization_with("Acme", billing_address="x")
    before = snapshot(app)
    response = admin_client.post(
        f"/admin/organizations/{organization.id}/edit", data=_form(name="Acme renamed", sla_id="999")
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose an SLA from the list." in html and 'value="Acme renamed"' in html
    assert snapshot(app) == before


def test_the_checklist_says_which_sla_applies_own_inherited_or_default(app, admin_client, make):
    gold = make.sla("Gold")
    parent = make.organization_with("Parent Holdings", billing_address="x")
    child = make.organization_with("Child Site", billing_address="x", parent_id=parent.id)

    done, note, link = _sla_item(admin_client.get(f"/admin/organizations/{child.id}").get_data(as_text=True))
    assert (done, note) == (False, "None chosen: tickets use the default SLA, Standard.")
    assert link == f"/admin/organizations/{child.id}/edit#sla"

    with app.app_context():
        db.session.get(Organization, parent.id).sla_id = gold.id
        db.session.commit()
    done, note, _link = _sla_item(admin_client.get(f"/admin/organizations/{child.id}").get_data(as_text=True))
    assert (done, note) == (True, "Gold, inherited from Parent Holdings.")
    done, note, _link = _sla_item(admin_client.get(f"/admin/organizations/{parent.id}").get_data(as_text=True))
    assert (done, note) == (True, "Gold, chosen for this organization.")


def test_an_inherited_sla_does_not_name_a_parent_the_staff_member_may_not_see(app, make, login):
    gold = make.sla("Gold")
    parent = make.organization_with("Secret Parent", billing_address="x", sla_id=gold.id)
    child = make.organization_with("Child Site", billing_address="x", parent_id=parent.id)
    rep = make.staff(role="sales")
    add_to_team(app, child.id, rep)
    client = app.test_client()
    login(client, rep)
    done, note, _link = _sla_item(client.get(f"/admin/organizations/{child.id}").get_data(as_text=True))
    assert (done, note) == (True, "Gold, inherited from a parent organization.")


def test_applied_sla_follows_the_ticket_order_and_counts_towards_onboarding(app, ctx, make):
    from portal.domains.service_desk.sla import applied_sla
    from portal.domains.service_desk.tickets import resolve_sla

    gold = make.sla("Gold")
    silver = make.sla("Silver")
    top = make.organization_with("Top", sla_id=gold.id)
    middle = make.organization_with("Middle", parent_id=top.id)
    bottom = make.organization_with("Bottom", parent_id=middle.id)
    lonely = make.organization_with("Lonely")
    for organization_id, source, sla_id in (
        (bottom.id, "inherited", gold.id),
        (top.id, "here", gold.id),
        (lonely.id, "default", 1),
    ):
        organization = db.session.get(Organization, organization_id)
        applied = applied_sla(organization)
        assert (applied.source, applied.sla_id) == (source, sla_id)
        assert resolve_sla(organization, None, None).id == sla_id
    db.session.get(Organization, middle.id).sla_id = silver.id
    db.session.flush()
    applied = applied_sla(db.session.get(Organization, bottom.id))
    assert (applied.sla_name, applied.from_name) == ("Silver", "Middle")
    facts = service.onboarding(
        db.session.get(Organization, bottom.id), applied_sla(db.session.get(Organization, bottom.id))
    )
    assert facts.sla_chosen and facts.done == 1
    assert (
        service.onboarding(
            db.session.get(Organization, lonely.id), applied_sla(db.session.get(Organization, lonely.id))
        ).done
        == 0
    )
