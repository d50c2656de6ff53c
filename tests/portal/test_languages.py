"""The portal in the reader's language: the footer switch, staff-set preferences, the
organization's default, the browser's Accept-Language; dates and money in that locale."""

from __future__ import annotations

import re
from datetime import UTC
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency

from portal.core.extensions import db
from portal.core.i18n import COOKIE
from portal.domains.customers.models import Contact, Organization
from portal.domains.service_desk.models import Ticket
from tests.factories import contact_state

SIGN = {"es": "Firmar la propuesta", "it": "Firma la proposta", "ro": "Semnați oferta", "en": "Sign proposal"}
SIGN_IN = {  # the sign-in page's button
    "es": "Enviarme un enlace de acceso por correo electrónico",
    "it": "Ricevere il link di accesso per e-mail",
    "ro": "Trimiteți-mi un link de autentificare pe e-mail",
    "en": "Email me a sign-in link",
}


def _set(app, model, object_id: int, **values) -> None:
    with app.app_context():
        row = db.session.get(model, object_id)
        for name, value in values.items():
            setattr(row, name, value)
        db.session.commit()


def _html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def test_a_proposal_page_is_in_the_contacts_language_with_its_money(app, make, open_link):
    for language in ("es", "it", "ro"):
        delivered = make.delivered()
        _set(app, Contact, delivered.contact.id, preferred_language=language)
        html = open_link(app.test_client(), delivered.token).get_data(as_text=True)
        assert _html_lang(html) == language
        assert SIGN[language] in html and "Sign proposal" not in html
        # the included total (4 x 45.00) in that locale's format, e.g. "180,00 US$" in Spanish
        assert format_currency(180, "USD", locale=language) in html
        assert format_currency(180, "USD", locale="en") not in html


def test_a_ticket_page_shows_dates_in_the_contacts_language_and_zone(app, make, portal_sign_in):
    contact = make.contact(timezone="Pacific/Auckland", preferred_language="it")
    ticket = make.ticket(contact=contact)
    client = app.test_client()
    portal_sign_in(client, contact)
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    with app.app_context():
        created = db.session.get(Ticket, ticket.id).created_at
    local = created.replace(tzinfo=UTC).astimezone(ZoneInfo("Pacific/Auckland"))
    assert f"aperta il {format_date(local, 'medium', locale='it')}" in html
    assert "Richiesta" in html


def test_the_organizations_default_applies_to_contacts_without_a_preference(app, make, open_link):
    organization = make.organization()
    _set(app, Organization, organization.id, default_language="ro")
    delivered = make.delivered(contact=make.contact(organization))
    client = app.test_client()
    html = open_link(client, delivered.token).get_data(as_text=True)
    assert SIGN["ro"] in html
    # the contact's own preference wins over it
    _set(app, Contact, delivered.contact.id, preferred_language="es")
    assert SIGN["es"] in client.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True)


def test_accept_language_decides_for_a_visitor_the_portal_does_not_know(client):
    html = client.get("/sign-in", headers={"Accept-Language": "de-DE,de;q=0.9,it;q=0.8,en;q=0.1"}).get_data(
        as_text=True
    )
    assert SIGN_IN["it"] in html and _html_lang(html) == "it"


def test_a_4kb_or_nonsense_accept_language_header_gets_a_page(client):
    for header in ("q" * 4096, "ro;q=NaN,;;,*;q=abc," * 200, "\x7f,,;q=", "zz-ZZ-" + "x" * 4000):
        response = client.get("/sign-in", headers={"Accept-Language": header[:4096]})
        assert response.status_code == 200
        assert SIGN_IN["en"] in response.get_data(as_text=True)


def test_the_footer_switch_is_remembered_by_a_visitors_browser(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'action="/language"' in page and 'value="ro"' in page and "Română" in page
    response = client.post("/language", data={"language": "ro", "next": "/sign-in"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/sign-in")
    assert client.get_cookie(COOKIE).value == "ro"
    html = client.get("/sign-in", headers={"Accept-Language": "it"}).get_data(as_text=True)
    assert SIGN_IN["ro"] in html  # the choice beats the browser's header
    assert 'aria-current="true">Română' in html


def test_the_footer_switch_stores_the_choice_on_a_signed_in_contact(app, make, portal_sign_in):
    contact = make.contact()
    client = app.test_client()
    portal_sign_in(client, contact)
    response = client.post("/language", data={"language": "it", "next": "/home"})
    assert response.status_code == 303
    assert contact_state(app, contact.id).preferred_language == "it"
    assert "Le Sue proposte" in client.get("/home").get_data(as_text=True)
    # another browser of the same contact, without the cookie, follows the stored choice
    other = app.test_client()
    portal_sign_in(other, contact)
    assert "Le Sue proposte" in other.get("/home", headers={"Accept-Language": "es"}).get_data(as_text=True)


def test_the_footer_switch_stores_the_choice_of_a_contact_known_from_a_link(app, make, open_link):
    delivered = make.delivered()
    client = app.test_client()
    open_link(client, delivered.token)
    back = f"/p/proposals/{delivered.proposal.id}"
    response = client.post("/language", data={"language": "es", "next": back})
    assert response.status_code == 303 and response.headers["Location"].endswith(back)
    assert contact_state(app, delivered.contact.id).preferred_language == "es"
    assert SIGN["es"] in client.get(back).get_data(as_text=True)


def test_the_footer_switch_refuses_a_language_it_does_not_offer(app, make, portal_sign_in):
    contact = make.contact(preferred_language="ro")
    client = app.test_client()
    portal_sign_in(client, contact)
    for value in ("de", "", "x" * 5000, "ES-es"):
        response = client.post("/language", data={"language": value, "next": "/home"})
        assert response.status_code == 422
        assert "Alegeți una dintre limbile disponibile." in response.get_data(as_text=True)
    assert contact_state(app, contact.id).preferred_language == "ro"
    assert client.get_cookie(COOKIE) is None


def test_the_footer_switch_goes_back_only_to_a_page_of_this_site(client):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = client.post("/language", data={"language": "es", "next": target})
        assert response.status_code == 303
        assert response.headers["Location"] in ("/", "http://localhost/")


def test_the_switch_is_a_post_only(client):
    assert client.get("/language?language=es").status_code == 405
    assert client.get_cookie(COOKIE) is None


def test_the_admin_area_stays_english(app, make, login):
    staff = make.staff(role="admin")
    client = app.test_client()
    client.set_cookie(COOKIE, "es")
    login(client, staff)
    html = client.get("/admin/proposals/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _html_lang(html) == "en" and 'action="/language"' not in html
