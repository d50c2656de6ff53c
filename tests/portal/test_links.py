"""Portal links over HTTP: opening, expiry and renewal, revocation, and who sees what."""

from __future__ import annotations

import re
from datetime import timedelta

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.identity import links as link_service
from portal.domains.identity.models import PortalLink
from tests.factories import PASSWORD, outbox, snapshot

URL_IN_BODY = re.compile(r"https?://\S+/l/([A-Za-z0-9_-]+)")


def _expire(app, link_id, **values):
    with app.app_context():
        link = db.session.get(PortalLink, link_id)
        for key, value in values.items():
            setattr(link, key, value)
        db.session.commit()


def _link_id(app, token):
    with app.app_context():
        return link_service.find_link(token).id


# --- opening -------------------------------------------------------------------


def test_opening_a_link_redirects_to_a_clean_url_without_the_token(client, make):
    delivered = make.delivered()
    response = client.get(f"/l/{delivered.token}")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.endswith(f"/p/proposals/{delivered.proposal.id}")
    assert delivered.token not in location
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = client.get(location)
    assert page.status_code == 200
    assert delivered.proposal.title in page.get_data(as_text=True)


def test_opening_a_link_changes_no_stored_data(app, client, make):
    """Mail scanners open links: a GET must not use up or extend anything. It is only
    written to the proposal's evidence log (link opened, page viewed once per version)."""
    delivered = make.delivered()
    before = snapshot(app)
    assert client.get(f"/l/{delivered.token}").status_code == 303
    assert client.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200
    assert client.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200
    assert client.get(f"/l/{delivered.token}").status_code == 303
    assert snapshot(app) == before
    with app.app_context():
        from portal.domains.proposals.evidence import entries_of

        kinds = [entry.kind for entry in entries_of(delivered.proposal.id)]
    assert kinds == ["delivered", "link_opened", "page_viewed", "link_opened"]


def test_the_same_link_can_be_opened_again_from_another_browser(app, make):
    delivered = make.delivered()
    for _ in range(3):
        browser = app.test_client()
        assert browser.get(f"/l/{delivered.token}").status_code == 303
        assert browser.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200


def test_an_unknown_token_shows_a_not_found_page(client, make):
    make.delivered()
    response = client.get("/l/not-a-real-token-at-all")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "This link is not valid" in html
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_proposal_page_without_an_opened_link_offers_sign_in_and_shows_nothing(client, make):
    # It was a bare 404; without a session the contact is offered sign-in instead.
    delivered = make.delivered()
    response = client.get(f"/p/proposals/{delivered.proposal.id}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/sign-in?next=/p/proposals/{delivered.proposal.id}"
    assert delivered.proposal.title not in response.get_data(as_text=True)


def test_a_link_of_a_contact_whose_portal_access_is_off_opens_nothing(app, client, make):
    delivered = make.delivered()
    with app.app_context():
        from portal.domains.customers.models import Contact

        db.session.get(Contact, delivered.contact.id).portal_enabled = False
        db.session.commit()
    response = client.get(f"/l/{delivered.token}")
    assert response.status_code == 403
    assert "Location" not in response.headers


# --- expiry and renewal -----------------------------------------------------------


def test_an_expired_link_shows_a_clear_page_with_a_button_to_get_a_new_one(app, client, make):
    delivered = make.delivered()
    _expire(app, delivered.link_id, expires_at=utcnow() - timedelta(minutes=1))
    response = client.get(f"/l/{delivered.token}")
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "This link has expired" in html
    assert re.search(r'<form method="post" action="/l/renew">', html)
    assert re.search(r'<button type="submit"[^>]*>Email me a new link</button>', html)
    assert 'name="ref" value="' in html
    assert delivered.token not in html


def test_an_expired_link_no_longer_opens_an_existing_session(app, client, make, open_link):
    delivered = make.delivered()
    assert open_link(client, delivered.token).status_code == 200
    _expire(app, delivered.link_id, expires_at=utcnow() - timedelta(seconds=1))
    response = client.get(f"/p/proposals/{delivered.proposal.id}")
    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)


def _renew_ref(html):
    return re.search(r'name="ref" value="([^"]+)"', html).group(1)


def test_renewing_mails_a_fresh_working_link_to_the_address_on_file(app, client, make):
    contact = make.contact(email="on.file@example.test")
    delivered = make.delivered(contact=contact)
    _expire(app, delivered.link_id, expires_at=utcnow() - timedelta(days=1))
    page = client.get(f"/l/{delivered.token}").get_data(as_text=True)
    mails_before = len(outbox(app))

    response = client.post(
        "/l/renew", data={"ref": _renew_ref(page), "email": "attacker@evil.example", "to_addr": "attacker@evil.example"}
    )
    assert response.status_code == 200
    assert "o•••@example.test" in response.get_data(as_text=True)

    mails = outbox(app)
    assert len(mails) == mails_before + 1
    renewed = mails[-1]
    assert renewed["to_addr"] == "on.file@example.test"
    assert renewed["kind"] == "link_renewed"
    assert "attacker" not in renewed["body_text"]
    assert all("evil.example" not in mail["to_addr"] for mail in mails)
    assert renewed["body_text"].count("https://portal.example.test/l/") == 1
    token = URL_IN_BODY.search(renewed["body_text"]).group(1)
    assert token != delivered.token

    fresh = app.test_client()
    opened = fresh.get(f"/l/{token}")
    assert opened.status_code == 303
    assert fresh.get(opened.headers["Location"]).status_code == 200
    assert client.get(f"/l/{delivered.token}").status_code == 410  # the old one stays expired


def test_renewing_with_a_forged_reference_sends_nothing(app, client, make):
    make.delivered()
    mails_before = len(outbox(app))
    response = client.post("/l/renew", data={"ref": "1.forged"})
    assert response.status_code == 404
    assert len(outbox(app)) == mails_before


def test_a_revoked_link_offers_no_renewal_but_a_way_forward(app, client, make):
    """Revocation is final: whoever holds a revoked link cannot get a new one mailed."""
    delivered = make.delivered()
    _expire(app, delivered.link_id, revoked_at=utcnow())
    response = client.get(f"/l/{delivered.token}")
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert "This link is no longer active" in html
    assert "/l/renew" not in html
    assert "Email me a new link" not in html
    assert 'href="/sign-in"' in html


def test_a_renewal_reference_of_a_link_revoked_since_sends_nothing(app, client, make):
    """A renew button kept from when the link had only expired stops working once it is revoked."""
    delivered = make.delivered()
    _expire(app, delivered.link_id, expires_at=utcnow() - timedelta(minutes=1))
    page = client.get(f"/l/{delivered.token}").get_data(as_text=True)
    ref = re.search(r'name="ref" value="([^"]+)"', page).group(1)
    _expire(app, delivered.link_id, revoked_at=utcnow())
    mails_before = len(outbox(app))
    response = client.post("/l/renew", data={"ref": ref})
    assert response.status_code == 410
    assert "This link is no longer active" in response.get_data(as_text=True)
    assert len(outbox(app)) == mails_before


def test_an_unknown_link_offers_a_way_forward(client):
    response = client.get("/l/not-a-real-token")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert 'href="/sign-in"' in html


def test_link_lifetime_follows_portal_link_days(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_LINK_DAYS", 2)
    before = utcnow()
    delivered = make.delivered()
    with app.app_context():
        link = db.session.get(PortalLink, delivered.link_id)
        assert before + timedelta(days=2) <= link.expires_at <= utcnow() + timedelta(days=2)
    body = outbox(app)[-1]["body_text"]
    assert "works until" in body
    # two days and a minute later the link no longer opens
    _expire(app, delivered.link_id, expires_at=link.expires_at - timedelta(days=2, minutes=1))
    assert client.get(f"/l/{delivered.token}").status_code == 410


# --- who sees what --------------------------------------------------------------


def test_a_link_for_one_proposal_never_opens_another(client, make, open_link):
    contact = make.contact()
    a = make.delivered(contact=contact)
    b = make.delivered(contact=contact, title="Hedge work for B")
    assert open_link(client, a.token).status_code == 200
    response = client.get(f"/p/proposals/{b.proposal.id}")
    assert response.status_code == 404
    assert "Hedge work for B" not in response.get_data(as_text=True)
    assert client.post(f"/p/proposals/{b.proposal.id}/options", data={}).status_code == 404
    assert client.post(f"/p/proposals/{b.proposal.id}/sign", data={}).status_code == 404
    assert client.get(f"/p/proposals/{b.proposal.id}/signature.png").status_code == 404


def test_a_contacts_link_does_not_open_another_contacts_proposal(app, client, make, open_link):
    x = make.delivered()
    y = make.delivered(title="Snow removal for Y")
    assert open_link(client, x.token).status_code == 200
    response = client.get(f"/p/proposals/{y.proposal.id}")
    assert response.status_code == 404
    assert "Snow removal for Y" not in response.get_data(as_text=True)


def test_a_link_to_a_proposal_of_another_organization_opens_nothing(client, make):
    x = make.contact()
    other = make.delivered(title="Other organization's deal")
    token = make.link(x, other.proposal)
    response = client.get(f"/l/{token}")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 404
    assert "Other organization" not in page.get_data(as_text=True)


def test_a_colleague_of_the_same_organization_needs_their_own_link(client, make, open_link):
    first = make.delivered()
    colleague = make.contact(organization=first.proposal.organization)
    theirs = make.delivered(contact=colleague)
    assert open_link(client, first.token).status_code == 200
    assert client.get(f"/p/proposals/{theirs.proposal.id}").status_code == 404


def test_opening_another_contacts_link_replaces_the_first_contacts_access(client, make, open_link):
    x = make.delivered()
    y = make.delivered()
    assert open_link(client, x.token).status_code == 200
    assert open_link(client, y.token).status_code == 200
    assert client.get(f"/p/proposals/{x.proposal.id}").status_code == 404


def test_delivering_to_a_second_contact_keeps_the_first_contacts_link_working(app, make, open_link):
    first = make.delivered()
    colleague = make.contact(organization=first.proposal.organization)
    second = make.delivered(proposal=first.proposal, contact=colleague)
    assert second.token != first.token
    assert open_link(app.test_client(), first.token).status_code == 200
    assert open_link(app.test_client(), second.token).status_code == 200


def test_revoking_a_link_ends_access_on_the_next_request(app, client, make, open_link, login):
    delivered = make.delivered()
    assert open_link(client, delivered.token).status_code == 200

    staff = app.test_client()
    rep = make.staff(role="admin")
    login(staff, rep)
    revoked = staff.post(f"/admin/proposals/{delivered.proposal.id}/links/{delivered.link_id}/revoke")
    assert revoked.status_code == 303

    response = client.get(f"/p/proposals/{delivered.proposal.id}")
    assert response.status_code == 410
    assert "This link is no longer active" in response.get_data(as_text=True)
    assert client.post(f"/p/proposals/{delivered.proposal.id}/options", data={}).status_code == 410


def test_revoking_one_link_leaves_a_second_link_of_the_same_contact_working(app, client, make, open_link):
    delivered = make.delivered()
    second = make.delivered(proposal=delivered.proposal, contact=delivered.contact)
    assert open_link(client, delivered.token).status_code == 200
    assert open_link(client, second.token).status_code == 200
    _expire(app, delivered.link_id, revoked_at=utcnow())
    assert client.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200


# --- links in email -------------------------------------------------------------


def test_email_links_come_from_base_url_not_the_host_header(app, make):
    proposal = make.proposal()
    rep = make.staff(role="admin")
    forged = {"Host": "evil.example.invalid"}
    staff = app.test_client()
    login = staff.post("/admin/login", data={"email": rep.email, "password": PASSWORD}, headers=forged)
    assert login.status_code == 303
    response = staff.post(
        f"/admin/proposals/{proposal.id}/deliver", data={"contact_id": str(proposal.contact_id)}, headers=forged
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    body = outbox(app)[-1]["body_text"]
    assert "https://portal.example.test/l/" in body
    assert "evil.example.invalid" not in body


def test_deactivating_the_organization_ends_its_contacts_portal_access_at_once(app, make, client, open_link):
    from sqlalchemy import update

    from portal.core.extensions import db
    from portal.domains.customers.models import Organization

    delivered = make.delivered()
    assert open_link(client, delivered.token).status_code == 200
    with app.app_context():
        db.session.execute(
            update(Organization).where(Organization.id == delivered.proposal.organization_id).values(is_active=False)
        )
        db.session.commit()
    # Sent to sign-in and told why (it was a bare 404; tests/portal/test_session_ended.py).
    response = client.get(f"/p/proposals/{delivered.proposal.id}")
    assert response.status_code == 303 and response.headers["Location"].startswith("/sign-in?next=")
    assert "Your portal access has ended." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get(f"/l/{delivered.token}").status_code == 403


# --- "Copy a link for this contact" ---------------------------------------------------

COPIED = re.compile(r'<input id="copied-link-url" type="text" readonly value="(https?://\S+/l/([A-Za-z0-9_-]+))"')


def _copy(staff_client, path: str):
    response = staff_client.post(path)
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    match = COPIED.search(html)
    assert match, html[:2000]
    return response, html, match.group(1), match.group(2)


def test_staff_copy_a_proposal_link_shown_once_and_recorded_as_issued_by_them(app, make, login, client, open_link):
    from portal.domains.timeline.models import Subject
    from portal.domains.timeline.operations import events_for

    delivered = make.delivered()
    staff = app.test_client()
    login(staff, make.staff(role="admin", name="Ada Admin"))
    show = staff.get(f"/admin/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert "Copy a link for this contact" in show
    response, html, url, token = _copy(staff, f"/admin/proposals/{delivered.proposal.id}/copy-link")
    assert url.startswith("https://portal.example.test/l/")
    assert response.headers["Cache-Control"] == "no-store"
    assert 'data-copy="#copied-link-url"' in html
    assert "<script>" not in html and "onclick" not in html  # CSP: no inline script
    # recorded: the link as issued by this staff member, the timeline as their action
    with app.app_context():
        link = link_service.find_link(token)
        assert link.issued_by_staff_id is not None and link.issued_by.name == "Ada Admin"
        assert link.contact_id == delivered.contact.id and link.target_id == delivered.proposal.id
        event = next(e for e in events_for(Subject.PROPOSAL, delivered.proposal.id) if e.kind == "link_copied")
        assert event.staff.name == "Ada Admin" and event.contact_id == delivered.contact.id
    # never shown again
    again = staff.get(f"/admin/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert token not in again and "Copied by staff" in again
    # and it works for the contact
    page = open_link(client, token)
    assert page.status_code == 200 and delivered.proposal.title in page.get_data(as_text=True)


def test_a_signature_through_a_copied_link_says_who_issued_it(app, make, login, client):
    from tests.factories import page_form, sign_form

    delivered = make.delivered()
    staff = app.test_client()
    login(staff, make.staff(role="admin", name="Ada Admin"))
    _response, _html, _url, token = _copy(staff, f"/admin/proposals/{delivered.proposal.id}/copy-link")
    opened = client.get(f"/l/{token}")
    page = client.get(opened.headers["Location"]).get_data(as_text=True)
    signed = client.post(
        f"/p/proposals/{delivered.proposal.id}/sign",
        data=sign_form(delivered.proposal, seen_hash=page_form(page)["seen_hash"]),
    )
    assert signed.status_code == 303
    evidence = staff.get(f"/admin/proposals/{delivered.proposal.id}/signature").get_data(as_text=True)
    assert "signed through a link issued by Ada Admin on" in evidence


def test_a_signature_through_a_mailed_link_says_it_was_sent(app, make, login, client):
    from tests.factories import page_form, sign_form

    delivered = make.delivered()
    opened = client.get(f"/l/{delivered.token}")
    page = client.get(opened.headers["Location"]).get_data(as_text=True)
    client.post(
        f"/p/proposals/{delivered.proposal.id}/sign",
        data=sign_form(delivered.proposal, seen_hash=page_form(page)["seen_hash"]),
    )
    staff = app.test_client()
    login(staff, make.staff(role="admin"))
    evidence = staff.get(f"/admin/proposals/{delivered.proposal.id}/signature").get_data(as_text=True)
    assert "issued by" not in evidence and "sent " in evidence


def test_a_draft_has_no_link_to_copy(app, make, login):
    proposal = make.proposal()
    staff = app.test_client()
    login(staff, make.staff(role="admin"))
    assert "Copy a link for this contact" not in staff.get(f"/admin/proposals/{proposal.id}").get_data(as_text=True)
    before = snapshot(app)
    response = staff.post(f"/admin/proposals/{proposal.id}/copy-link")
    assert response.status_code == 409
    assert "Deliver the proposal first" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_technicians_copy_no_proposal_link_but_do_copy_their_customers_ticket_links(app, make, login, client):

    tech = make.staff(role="technician", name="Tess Tech")
    org = make.organization_with("Teamed Co", billing_address="x", team=[tech])
    contact = make.contact(org)
    delivered = make.delivered(contact=contact)
    ticket = make.ticket(contact)
    staff = app.test_client()
    login(staff, tech)
    assert staff.post(f"/admin/proposals/{delivered.proposal.id}/copy-link").status_code == 404
    assert "Copy a link for this contact" in staff.get(f"/admin/tickets/{ticket.id}").get_data(as_text=True)
    _response, _html, _url, token = _copy(staff, f"/admin/tickets/{ticket.id}/copy-link")
    with app.app_context():
        from portal.domains.timeline.models import Subject
        from portal.domains.timeline.operations import events_for

        event = events_for(Subject.TICKET, ticket.id)[0]  # the newest
        assert event.staff_id == tech.id and "copied" in event.detail
        assert link_service.find_link(token).issued_by_staff_id == tech.id
    opened = client.get(f"/l/{token}")
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/tickets/{ticket.id}")
    assert client.get(opened.headers["Location"]).status_code == 200


def test_staff_who_may_not_see_the_customer_copy_nothing(app, make, login):
    stranger = make.staff(role="technician")
    delivered = make.delivered()
    ticket = make.ticket(delivered.contact)
    staff = app.test_client()
    login(staff, stranger)
    before = snapshot(app)
    assert staff.post(f"/admin/tickets/{ticket.id}/copy-link").status_code == 404
    assert staff.post(f"/admin/proposals/{delivered.proposal.id}/copy-link").status_code == 404
    assert snapshot(app) == before
