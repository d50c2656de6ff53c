"""A contact without a portal session (never signed in, or the session ended) asking
for a portal page is offered sign-in and brought back there after; one pushed out by
a change of access is told why."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from portal.core.extensions import db
from portal.domains.customers.models import Contact
from tests.portal.test_tickets import signed_in

HX = {"HX-Request": "true"}


def _sign_in_target(response) -> str | None:
    """The ``next`` of a redirect to the sign-in page (asserting it is one)."""
    location = response.headers.get("Location") or response.headers.get("HX-Redirect")
    parts = urlsplit(location)
    assert parts.path == "/sign-in", location
    return parse_qs(parts.query).get("next", [None])[0]


def _set(app, contact_id: int, **values) -> None:
    with app.app_context():
        db.session.execute(update(Contact).where(Contact.id == contact_id).values(**values))
        db.session.commit()


@pytest.mark.parametrize("path", ["/tickets/{ticket}", "/p/proposals/{proposal}", "/p/proposals/987654"])
def test_without_a_session_a_portal_page_offers_sign_in_and_the_way_back(app, make, client, path):
    contact = make.contact()
    path = path.format(ticket=make.ticket(contact).id, proposal=make.delivered(contact=contact).proposal.id)
    response = client.get(path)
    # It was a "Page not found" with no way on. Whether the object exists is not told:
    # the answer is the same for an id that does not exist.
    assert response.status_code == 303
    assert _sign_in_target(response) == path
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Please sign in to see that page." in page


def test_after_signing_in_the_contact_lands_on_the_page_they_asked_for(app, make, client, ask_sign_in):
    contact = make.contact()
    ticket = make.ticket(contact)
    response = client.get(f"/tickets/{ticket.id}")
    client.get(response.headers["Location"])
    _token, code = ask_sign_in(client, contact.email)
    signed = client.post("/sign-in/code", data={"email": contact.email, "code": code})
    assert signed.status_code == 303 and signed.headers["Location"] == f"/tickets/{ticket.id}"
    assert client.get(signed.headers["Location"]).status_code == 200


def test_the_emailed_link_also_returns_to_the_page(app, make, client, ask_sign_in):
    contact = make.contact()
    delivered = make.delivered(contact=contact)
    client.get(f"/sign-in?next=/p/proposals/{delivered.proposal.id}")
    token, _code = ask_sign_in(client, contact.email)
    response = client.post(f"/sign-in/{token}")
    assert response.status_code == 303 and response.headers["Location"] == f"/p/proposals/{delivered.proposal.id}"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_next_is_only_ever_a_path_on_this_site(app, make, client, ask_sign_in, target):
    contact = make.contact()
    client.get("/sign-in", query_string={"next": target})
    _token, code = ask_sign_in(client, contact.email)
    response = client.post("/sign-in/code", data={"email": contact.email, "code": code})
    assert response.headers["Location"] == "/home"


def test_a_contact_pushed_out_by_an_access_change_is_told_why(app, make):
    contact = make.contact()
    ticket = make.ticket(contact)
    client = signed_in(app, contact)
    assert client.get(f"/tickets/{ticket.id}").status_code == 200
    _set(app, contact.id, portal_epoch=Contact.portal_epoch + 1)  # e.g. their level was lowered
    response = client.get(f"/tickets/{ticket.id}")
    assert response.status_code == 303 and _sign_in_target(response) == f"/tickets/{ticket.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your access to the portal was changed by Porchlight; please sign in again." in page
    again = client.get("/sign-in").get_data(as_text=True)  # said once
    assert "was changed by" not in again


def test_a_contact_whose_access_ended_is_told_so(app, make):
    contact = make.contact()
    delivered = make.delivered(contact=contact)
    client = signed_in(app, contact)
    url = f"/p/proposals/{delivered.proposal.id}"
    assert client.get(url).status_code == 200
    _set(app, contact.id, is_active=False)
    response = client.get(url)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your portal access has ended." in page


def test_the_home_page_redirect_also_says_why(app, make):
    contact = make.contact()
    client = signed_in(app, contact)
    _set(app, contact.id, portal_epoch=Contact.portal_epoch + 1)
    response = client.get("/home")
    assert response.status_code == 303
    assert "was changed by Porchlight" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_htmx_request_is_sent_to_sign_in_with_hx_redirect(app, make, client):
    contact = make.contact()
    ticket = make.ticket(contact)
    response = client.get(f"/tickets/{ticket.id}", headers=HX)
    assert response.status_code == 200 and _sign_in_target(response) == f"/tickets/{ticket.id}"


def test_a_signed_in_contact_still_gets_404_for_what_they_may_not_see(app, make):
    contact = make.contact()
    stranger_ticket = make.ticket(make.contact())
    response = signed_in(app, contact).get(f"/tickets/{stranger_ticket.id}")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
