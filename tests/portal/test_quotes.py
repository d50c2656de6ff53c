"""Asking for a quote over HTTP: the public page (receipt mail, honeypot, bad input kept,
rate limits per IP and per email with a clear 429) and a signed-in portal contact's
request (tied to them, confirmed, linked from the portal home)."""

from __future__ import annotations

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.sales.models import Lead
from tests.factories import forge_signed_in_session, outbox, snapshot

GOOD = {
    "name": "Vera Visitor",
    "email": "Vera@Visitor.example",
    "phone": "+1 555 0100",
    "address": "12 Elm Street",
    "need": "Weekly mowing from April",
}


def _leads(app) -> list[Lead]:
    with app.app_context():
        leads = list(db.session.scalars(select(Lead).order_by(Lead.id)))
        for lead in leads:
            db.session.expunge(lead)
        return leads


def test_a_visitor_requests_a_quote_and_gets_a_receipt(app, client):
    page = client.get("/quote")
    assert page.status_code == 200 and 'name="website"' in page.get_data(as_text=True)
    response = client.post("/quote", data=GOOD)
    assert response.status_code == 303 and response.headers["Location"].endswith("/quote/thanks")
    thanks = client.get("/quote/thanks").get_data(as_text=True)
    assert "A receipt is on its way to v•••@visitor.example" in thanks
    [lead] = _leads(app)
    assert (lead.name, lead.email, lead.phone, lead.address, lead.notes, lead.origin) == (
        "Vera Visitor",
        "vera@visitor.example",
        "+1 555 0100",
        "12 Elm Street",
        "Weekly mowing from April",
        "quote_page",
    )
    [mail] = outbox(app)
    assert mail["to_addr"] == "vera@visitor.example" and "Weekly mowing from April" in mail["body_text"]


def test_a_filled_honeypot_is_thanked_and_stores_nothing(app, client):
    before = snapshot(app)
    response = client.post("/quote", data={**GOOD, "website": "http://spam.example"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/quote/thanks")
    assert "A receipt is on its way" in client.get("/quote/thanks").get_data(as_text=True)
    assert snapshot(app) == before


def test_bad_input_is_422_with_everything_typed_kept(app, client):
    data = {**GOOD, "email": "vera@", "need": ""}
    response = client.post("/quote", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "valid email" in body and "Tell us what you need" in body
    assert 'value="vera@"' in body and "12 Elm Street" in body and 'value="+1 555 0100"' in body
    assert _leads(app) == [] and outbox(app) == []
    partial = client.post("/quote", data=data, headers={"HX-Request": "true"})
    assert partial.status_code == 422 and "<html" not in partial.get_data(as_text=True)
    assert 'id="quote-form"' in partial.get_data(as_text=True)
    long = client.post("/quote", data={**GOOD, "need": "x" * 6000, "name": "y" * 300})
    assert long.status_code == 422 and "at most" in long.get_data(as_text=True)


def test_a_flood_from_one_address_gets_a_clear_429(rate_limited_app):
    client = rate_limited_app.test_client()
    statuses = [client.post("/quote", data={**GOOD, "email": f"v{i}@visitor.example"}).status_code for i in range(10)]
    assert statuses == [303] * 10
    response = client.post("/quote", data={**GOOD, "email": "v99@visitor.example"})
    assert response.status_code == 429
    assert "We already received several requests from you" in response.get_data(as_text=True)
    assert len(_leads(rate_limited_app)) == 10
    assert client.get("/quote").status_code == 200  # the page itself still opens


def test_one_email_is_limited_whatever_the_address(rate_limited_app):
    for i in range(3):
        response = rate_limited_app.test_client().post(
            "/quote", data=GOOD, environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"}
        )
        assert response.status_code == 303
    response = rate_limited_app.test_client().post("/quote", data=GOOD, environ_base={"REMOTE_ADDR": "198.51.100.99"})
    assert response.status_code == 429
    assert len(_leads(rate_limited_app)) == 3


def test_a_signed_in_contact_asks_for_a_quote_from_the_portal(app, make):
    org = make.organization_with("Harbor Dental")
    contact = make.contact(org, first_name="Hal", last_name="Harbor", email="hal@harbor.example")
    client = app.test_client()
    forge_signed_in_session(app, client, contact)
    home = client.get("/home").get_data(as_text=True)
    assert 'id="ask-for-quote"' in home and "/quotes/new" in home
    bad = client.post("/quotes/new", data={"need": "   "})
    assert bad.status_code == 422 and "Tell us what you need" in bad.get_data(as_text=True)
    response = client.post("/quotes/new", data={"need": "Snow removal this winter"})
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"])
    assert confirmation.status_code == 200
    assert "We have your request" in confirmation.get_data(as_text=True)
    [lead] = _leads(app)
    assert (lead.origin, lead.organization_id, lead.contact_id, lead.company, lead.email) == (
        "portal",
        org.id,
        contact.id,
        "Harbor Dental",
        "hal@harbor.example",
    )
    assert lead.notes == "Snow removal this winter"
