"""Staff set a contact's preferred language and an organization's default; the contact's
page says which language the contact gets, and why (also when a preference has no catalog)."""

from __future__ import annotations

import pytest

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from tests.admin.test_contacts import _form as contact_form
from tests.admin.test_organizations import _form as organization_form
from tests.factories import contact_state, stored


@pytest.fixture
def admin_client(app, make, login):
    client = app.test_client()
    login(client, make.staff(role="admin", name="Ada Admin"))
    return client


def test_staff_set_a_contacts_language_and_the_portal_follows_it(app, make, admin_client, open_link):
    delivered = make.delivered()
    contact = contact_state(app, delivered.contact.id)
    page = admin_client.get(f"/admin/contacts/{contact.id}").get_data(as_text=True)
    assert 'name="preferred_language"' in page and 'value="ro"' in page and "Romanian (ro)" in page
    response = admin_client.post(f"/admin/contacts/{contact.id}", data=contact_form(contact, preferred_language="it"))
    assert response.status_code == 303
    assert contact_state(app, contact.id).preferred_language == "it"
    shown = admin_client.get(f"/admin/contacts/{contact.id}").get_data(as_text=True)
    assert "Italian" in shown and "their preference" in shown
    html = open_link(app.test_client(), delivered.token).get_data(as_text=True)
    assert "Firma la proposta" in html
    # an edit from a page without the field (an older form) keeps the preference
    admin_client.post(f"/admin/contacts/{contact.id}", data=contact_form(contact, title="Owner"))
    assert contact_state(app, contact.id).preferred_language == "it"
    # and choosing none hands the choice back to the organization and the browser
    admin_client.post(f"/admin/contacts/{contact.id}", data=contact_form(contact, preferred_language=""))
    assert contact_state(app, contact.id).preferred_language is None


def test_a_language_that_is_no_language_is_refused_with_a_message(app, make, admin_client):
    contact = make.contact(preferred_language="es")
    response = admin_client.post(f"/admin/contacts/{contact.id}", data=contact_form(contact, preferred_language="<b>"))
    assert response.status_code == 422
    assert "Choose a language from the list." in response.get_data(as_text=True)
    assert contact_state(app, contact.id).preferred_language == "es"


def test_the_contact_page_says_why_a_preference_without_a_catalog_falls_back(app, make, admin_client):
    organization = make.organization()
    with app.app_context():
        db.session.get(Organization, organization.id).default_language = "es"
        db.session.commit()
    contact = make.contact(organization, preferred_language="de")
    html = admin_client.get(f"/admin/contacts/{contact.id}").get_data(as_text=True)
    assert "Their preferred language, de, has no catalog: they get Spanish instead." in html
    assert "the organization&#39;s default" in html
    # the form still shows what is stored, so saving the page keeps it
    assert '<option selected value="de">' in html or 'value="de" selected' in html


def test_staff_set_an_organizations_default_language(app, make, admin_client):
    organization = make.organization()
    response = admin_client.post(
        f"/admin/organizations/{organization.id}/edit", data=organization_form(default_language="ro")
    )
    assert response.status_code == 303
    assert stored(app, Organization, organization.id).default_language == "ro"
    contact = make.contact(organization)
    html = admin_client.get(f"/admin/contacts/{contact.id}").get_data(as_text=True)
    assert "Romanian" in html and "the organization&#39;s default" in html
    form = admin_client.get(f"/admin/organizations/{organization.id}/edit").get_data(as_text=True)
    assert 'name="default_language"' in form
    # a page without the field keeps it; an unknown tag is a message on the form
    admin_client.post(f"/admin/organizations/{organization.id}/edit", data=organization_form(name="Renamed"))
    assert stored(app, Organization, organization.id).default_language == "ro"
    refused = admin_client.post(
        f"/admin/organizations/{organization.id}/edit", data=organization_form(default_language="12345")
    )
    assert refused.status_code == 422 and "Choose a language from the list." in refused.get_data(as_text=True)


def test_a_new_contact_gets_the_language_staff_chose(app, make, admin_client):
    organization = make.organization()
    response = admin_client.post(
        f"/admin/organizations/{organization.id}/contacts/new",
        data={
            "first_name": "Ioana",
            "last_name": "Pop",
            "email": "ioana@example.test",
            "timezone": "Europe/Bucharest",
            "portal_level": "requester",
            "portal_enabled": "y",
            "preferred_language": "ro",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.query(Contact).filter_by(email="ioana@example.test").one().preferred_language == "ro"
