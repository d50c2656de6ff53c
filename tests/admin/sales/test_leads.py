"""The staff lead pages over HTTP: typing a lead (bad input kept), the list and its query
count, the lead page's possible duplicates (links only where the reader may go), and
conversion through the page: what was reused, a double submit, a second tab."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from portal.domains.sales.models import Lead, Opportunity
from portal.domains.timeline.models import Subject, TimelineEntry


def _add_lead(app, **kw) -> int:
    kw.setdefault("name", "Lena Lead")
    with app.app_context():
        lead = Lead(**kw)
        db.session.add(lead)
        db.session.commit()
        return lead.id


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_staff_types_a_lead(app, staff_client, staff):
    response = staff_client.post(
        "/admin/sales/leads/new",
        data={"name": "Ann Lee", "company": "Lee Farms", "email": "ann@lee.example", "phone": "555", "notes": "Hedges"},
    )
    assert response.status_code == 303
    lead_id = int(re.search(r"/admin/sales/leads/(\d+)$", response.headers["Location"]).group(1))
    page = staff_client.get(f"/admin/sales/leads/{lead_id}").get_data(as_text=True)
    assert "Ann Lee" in page and "Lee Farms" in page and "Hedges" in page and "Typed by staff" in page
    with app.app_context():
        entries = db.session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.subject_type == Subject.LEAD, TimelineEntry.subject_id == lead_id)
            .order_by(TimelineEntry.id)
        ).all()
        # Created by the staff member; no assignment rule exists, so the rules flag it unassigned.
        assert [(e.kind, e.staff_id) for e in entries][0] == ("created", staff.id)
        assert [e.kind for e in entries] == ["created", "unassigned"]


def test_bad_input_is_422_and_nothing_typed_is_lost(app, staff_client):
    data = {
        "name": "",
        "company": "Kept Company",
        "email": "not-an-email",
        "phone": "",
        "notes": "Kept notes",
        "source_id": "²",
        "rep_id": "99999999999999999999",
    }
    response = staff_client.post("/admin/sales/leads/new", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a name." in body and "valid email" in body
    assert 'value="Kept Company"' in body and "Kept notes" in body and 'value="not-an-email"' in body
    assert _count(app, Lead) == 0
    partial = staff_client.post("/admin/sales/leads/new", data=data, headers={"HX-Request": "true"})
    assert partial.status_code == 422 and "<html" not in partial.get_data(as_text=True)
    assert 'id="lead-form"' in partial.get_data(as_text=True)


def test_list_search_and_filters(app, staff_client, staff):
    _add_lead(app, name="Mine Lead", rep_id=staff.id, company="Ştefan Gardens")
    _add_lead(app, name="Free Lead")
    page = staff_client.get("/admin/sales/leads/?q=ŞTEFAN").get_data(as_text=True)
    assert "Mine Lead" in page and "Free Lead" not in page
    page = staff_client.get("/admin/sales/leads/?rep=none").get_data(as_text=True)
    assert "Free Lead" in page and "Mine Lead" not in page
    partial = staff_client.get("/admin/sales/leads/?rep=me", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert 'id="results"' in body and "<html" not in body and "Mine Lead" in body
    assert staff_client.get("/admin/sales/leads/?status=nonsense&rep=x&source_id=-1&after=%00").status_code == 200


def test_list_queries_do_not_grow_with_rows(app, staff_client, staff, make, count_queries):
    source_org = make.organization_with("Listed Co", team=[staff])

    def add(n):
        with app.app_context():
            for i in range(n):
                db.session.add(Lead(name=f"L{i}", rep_id=staff.id if i % 2 else None, organization_id=source_org.id))
            db.session.commit()

    add(3)
    staff_client.get("/admin/sales/leads/")
    with count_queries() as few:
        assert staff_client.get("/admin/sales/leads/").status_code == 200
    add(30)
    with count_queries() as many:
        assert staff_client.get("/admin/sales/leads/").status_code == 200
    assert many.count == few.count


def test_lead_page_queries_do_not_grow_with_duplicates(app, staff_client, staff, make, count_queries):
    lead_id = _add_lead(app, name="Dup", email="dup@dup.example", company="Dup Co", rep_id=staff.id)
    make.contact(make.organization_with("Dup Co", team=[staff]), email="dup@dup.example")
    with count_queries() as few:
        assert staff_client.get(f"/admin/sales/leads/{lead_id}").status_code == 200
    for _ in range(3):
        make.organization_with("DUP CO", team=[staff])
    with count_queries() as many:
        assert staff_client.get(f"/admin/sales/leads/{lead_id}").status_code == 200
    assert many.count == few.count


def test_duplicates_link_only_what_the_reader_may_open(app, make, login, staff):
    seen = make.organization_with("Seen Gardens", team=[staff])
    make.contact(seen, email="pat@seen.example")
    hidden = make.organization_with("Hidden Holdings")
    lead_id = _add_lead(app, name="Pat", email="pat@seen.example", company="HIDDEN holdings", rep_id=staff.id)
    client = app.test_client()
    login(client, staff)
    body = client.get(f"/admin/sales/leads/{lead_id}").get_data(as_text=True)
    assert 'id="duplicates"' in body and "Possible duplicate" in body
    assert f"/admin/organizations/{hidden.id}" not in body and "an organization you cannot open" in body
    assert "Hidden Holdings" not in body
    assert re.search(r"/admin/contacts/\d+", body)  # the contact at Seen Gardens, which they may open
    admin = make.staff(role="admin")
    other = app.test_client()
    login(other, admin)
    assert f"/admin/organizations/{hidden.id}" in other.get(f"/admin/sales/leads/{lead_id}").get_data(as_text=True)


def test_convert_into_a_customer_says_what_was_reused(app, staff_client, staff, make):
    org = make.organization_with("Reused Co", billing_address="1 Main St", team=[staff])
    lead_id = _add_lead(app, name="Rita Reuse", email="rita@reused.example", company="reused co", rep_id=staff.id)
    data = {
        "organization_name": "Reused Co",
        "first_name": "Rita",
        "last_name": "Reuse",
        "email": "rita@reused.example",
    }
    response = staff_client.post(f"/admin/sales/leads/{lead_id}/convert/customer", data=data)
    assert response.status_code == 303
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "an existing organization, reused" in page and "a new contact" in page
    assert 'id="converted-into"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organization)) == 1
        contact = db.session.scalars(select(Contact)).one()
        assert contact.organization_id == org.id
    # The same submit again (a double tap, or a second tab): nothing twice, a clear message.
    again = staff_client.post(f"/admin/sales/leads/{lead_id}/convert/customer", data=data)
    assert again.status_code == 409 and "already converted" in again.get_data(as_text=True)
    assert _count(app, Contact) == 1
    tab = staff_client.post(f"/admin/sales/leads/{lead_id}/convert/opportunity")
    assert tab.status_code == 409 and "already converted" in tab.get_data(as_text=True)
    assert _count(app, Opportunity) == 0


def test_convert_with_missing_details_is_422_and_keeps_them(app, staff_client, staff):
    lead_id = _add_lead(app, name="Nia", email="nia@new.example", company="Nia Co", rep_id=staff.id)
    data = {"organization_name": "Nia Co", "billing_address": "", "first_name": "Nia", "email": "nia@new.example"}
    response = staff_client.post(f"/admin/sales/leads/{lead_id}/convert/customer", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "billing address" in body and 'value="Nia Co"' in body
    with app.app_context():
        assert db.session.get(Lead, lead_id).status == "open"
    assert _count(app, Organization) == 0


def test_convert_into_an_opportunity_through_the_page(app, staff_client, staff):
    lead_id = _add_lead(app, name="Olga", email="olga@opp.example", company="Opp Co", rep_id=staff.id)
    response = staff_client.post(f"/admin/sales/leads/{lead_id}/convert/opportunity")
    assert response.status_code == 303
    with app.app_context():
        opportunity = db.session.scalars(select(Opportunity)).one()
        assert (opportunity.lead_id, opportunity.rep_id) == (lead_id, staff.id)
    assert staff_client.post(f"/admin/sales/leads/{lead_id}/convert/opportunity").status_code == 409
    assert _count(app, Opportunity) == 1


@pytest.mark.parametrize("round_", range(3))
def test_two_simultaneous_conversions_convert_once(app, make, login, staff, round_):
    """Two tabs (or a double tap) submitting at the same instant, each request in its
    own thread and connection: one conversion, one organization and contact; the other
    is told the lead was already converted."""
    from tests.portal.test_concurrency import _run_together

    lead_id = _add_lead(
        app, name="Cleo Race", email="cleo@race.example", company="Race Co", address="9 Track Rd", rep_id=staff.id
    )
    first, second = app.test_client(), app.test_client()
    login(first, staff)
    login(second, staff)
    data = {
        "organization_name": "Race Co",
        "billing_address": "9 Track Rd",
        "first_name": "Cleo",
        "last_name": "Race",
        "email": "cleo@race.example",
    }
    url = f"/admin/sales/leads/{lead_id}/convert/customer"
    results = _run_together(lambda: first.post(url, data=data), lambda: second.post(url, data=data))
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results)
    assert statuses == [303, 409], statuses
    assert (_count(app, Organization), _count(app, Contact)) == (1, 1)
    with app.app_context():
        converted = db.session.scalars(
            select(TimelineEntry).where(TimelineEntry.subject_type == Subject.LEAD, TimelineEntry.kind == "converted")
        ).all()
        assert len(converted) == 1


def test_an_unassigned_lead_is_taken_once(app, make, login, staff):
    lead_id = _add_lead(app, name="Free Fran", email="fran@free.example")
    page = app.test_client()
    login(page, staff)
    assert 'id="take-lead"' in page.get(f"/admin/sales/leads/{lead_id}").get_data(as_text=True)
    assert page.post(f"/admin/sales/leads/{lead_id}/take").status_code == 303
    # Another rep no longer sees it (it is someone's now); a manager is told it is taken.
    late = app.test_client()
    login(late, make.staff(name="Late Larry"))
    assert late.post(f"/admin/sales/leads/{lead_id}/take").status_code == 404
    manager = app.test_client()
    login(manager, make.staff(role="manager", name="Mia Manager"))
    refused = manager.post(f"/admin/sales/leads/{lead_id}/take")
    assert refused.status_code == 409 and "Someone else took this lead first" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Lead, lead_id).rep_id == staff.id
        kinds = db.session.scalars(
            select(TimelineEntry.kind).where(
                TimelineEntry.subject_type == Subject.LEAD, TimelineEntry.subject_id == lead_id
            )
        ).all()
        assert kinds == ["assigned"]
