"""Portal sign-in over HTTP: same answer for every address, a link that a GET never uses
up, a code that expires and locks, rate limits, and sign-out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.links import hash_token
from portal.domains.identity.models import PortalSignIn
from tests.factories import outbox, snapshot
from tests.portal.conftest import sign_in_mail

SENT = "If that address has portal access, we sent a link and a code. They work for 10 minutes."
HX = {"HX-Request": "true"}


def _normalised(html: str, email: str) -> str:
    """The page without what differs per session or per typed address."""
    html = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', '"X-CSRFToken": ""', html)
    return html.replace(email, "EMAIL")


def _sign_ins(app) -> list[PortalSignIn]:
    with app.app_context():
        rows = list(db.session.scalars(select(PortalSignIn).order_by(PortalSignIn.id)))
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return rows


def _update_sign_ins(app, **values) -> None:
    with app.app_context():
        for row in db.session.scalars(select(PortalSignIn)):
            for key, value in values.items():
                setattr(row, key, value)
        db.session.commit()


def _update_contact(app, contact_id: int, **values) -> None:
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        for key, value in values.items():
            setattr(contact, key, value)
        db.session.commit()


def _signed_in_as(client, contact) -> bool:
    response = client.get("/home")
    return response.status_code == 200 and contact.last_name in response.get_data(as_text=True)


@pytest.fixture
def cora(make):
    """A requester with portal access."""
    return make.contact(first_name="Cora", last_name="Lindqvist", email="cora@greenleaf.example")


# --- asking for a sign-in email -------------------------------------------------------


def test_the_answer_is_the_same_for_known_unknown_and_refused_addresses(app, make, cora):
    disabled = make.contact(email="off@greenleaf.example", portal_enabled=False)
    inactive = make.contact(email="gone@greenleaf.example", is_active=False)
    pages = {}
    for address in (cora.email, "nobody@greenleaf.example", disabled.email, inactive.email):
        response = app.test_client().post("/sign-in", data={"email": address})
        html = response.get_data(as_text=True)
        assert SENT in html
        assert f'name="email" value="{address}"' in html  # carried to the code form
        pages[address] = (response.status_code, _normalised(html, address))
    assert len(set(pages.values())) == 1, "the page tells the addresses apart"
    assert pages[cora.email][0] == 200
    assert [m["to_addr"] for m in outbox(app)] == [cora.email]  # only the contact with access gets mail
    assert [row.contact_id for row in _sign_ins(app)] == [cora.id]


def test_the_email_holds_a_link_built_from_base_url_and_a_six_digit_code(app, client, cora):
    response = client.post("/sign-in", data={"email": cora.email}, headers={"Host": "evil.example"})
    assert response.status_code == 200
    [mail] = outbox(app)
    assert mail["kind"] == "portal_sign_in" and mail["subject"] == "Your sign-in link for Porchlight"
    base, token, code = sign_in_mail(app, cora.email)
    assert base == "https://portal.example.test"
    assert "evil.example" not in mail["body_text"]
    assert re.fullmatch(r"\d{6}", code)
    assert "10 minutes" in mail["body_text"]
    [row] = _sign_ins(app)
    # only hashes are stored; the code's is keyed, so the table alone cannot be brute-forced
    assert row.token_hash == hash_token(token)
    assert token not in (row.token_hash, row.code_hash) and code not in row.code_hash
    assert row.code_hash not in {hash_token(code), hash_token(code + row.token_hash)}
    assert timedelta(minutes=9) < row.expires_at - utcnow() <= timedelta(minutes=10)
    assert row.used_at is None and row.failed_attempts == 0 and row.ip == "127.0.0.1"


def test_the_typed_address_is_matched_without_case_or_spaces(app, client, cora):
    client.post("/sign-in", data={"email": "  Cora@GreenLeaf.Example "})
    assert [m["to_addr"] for m in outbox(app)] == [cora.email]


@pytest.mark.parametrize("typed", ["", "not an address", "a" * 250 + "@example.test"])
def test_an_invalid_address_answers_422_with_the_input_kept(app, client, typed):
    response = client.post("/sign-in", data={"email": typed})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="error"' in html and SENT not in html
    if typed:
        assert f'value="{typed}"' in html
    assert outbox(app) == [] and _sign_ins(app) == []


def test_the_sign_in_page_is_reachable_from_the_site_root(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/sign-in"' in html
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert 'name="email"' in page.get_data(as_text=True)


# --- the link ------------------------------------------------------------------------


def test_opening_the_link_changes_nothing_and_does_not_sign_in(app, client, cora, ask_sign_in):
    """Mail scanners open links: the GET shows a Continue button and nothing more."""
    token, _code = ask_sign_in(app.test_client(), cora.email)
    before = snapshot(app)
    for _ in range(2):
        response = client.get(f"/sign-in/{token}")
        assert response.status_code == 200
        assert response.headers["Referrer-Policy"] == "no-referrer"
        html = response.get_data(as_text=True)
        assert "Continue" in html and "c•••@greenleaf.example" in html
        assert f'action="/sign-in/{token}"' in html
    assert snapshot(app) == before
    assert not _signed_in_as(client, cora)


def test_continue_signs_in_once_and_the_link_cannot_be_used_again(app, client, cora, ask_sign_in):
    token, _code = ask_sign_in(app.test_client(), cora.email)
    response = client.post(f"/sign-in/{token}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/home"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert _signed_in_as(client, cora)
    [row] = _sign_ins(app)
    assert row.used_at is not None

    other = app.test_client()
    again = other.post(f"/sign-in/{token}")
    assert again.status_code == 410
    assert "already used" in again.get_data(as_text=True)
    assert not _signed_in_as(other, cora)
    page = other.get(f"/sign-in/{token}")
    assert page.status_code == 410
    assert 'href="/sign-in"' in page.get_data(as_text=True)  # a way to ask for a new one
    # the code from the same email was used up with it
    assert other.post("/sign-in/code", data={"email": cora.email, "code": _code}).status_code == 422


def test_a_double_tap_on_continue_lands_on_the_home_page(app, client, cora, ask_sign_in):
    token, _code = ask_sign_in(client, cora.email)
    assert client.post(f"/sign-in/{token}").status_code == 303
    second = client.post(f"/sign-in/{token}")
    assert second.status_code == 303 and second.headers["Location"] == "/home"


def test_an_expired_link_shows_a_clear_page_and_signs_nobody_in(app, client, cora, ask_sign_in):
    token, _code = ask_sign_in(client, cora.email)
    _update_sign_ins(app, expires_at=utcnow() - timedelta(seconds=1))
    page = client.get(f"/sign-in/{token}")
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "This sign-in link has expired. Links work for 10 minutes." in html
    assert 'href="/sign-in"' in html and "Continue" not in html
    response = client.post(f"/sign-in/{token}")
    assert response.status_code == 410
    assert "has expired" in response.get_data(as_text=True)
    assert not _signed_in_as(client, cora)
    assert _sign_ins(app)[0].used_at is None


def test_an_unknown_link_says_it_is_not_valid(client):
    for response in (client.get("/sign-in/not-a-real-token"), client.post("/sign-in/not-a-real-token")):
        assert response.status_code == 404
        assert "This sign-in link is not valid" in response.get_data(as_text=True)


def test_a_link_stops_working_when_access_is_switched_off_after_the_email(app, client, cora, ask_sign_in):
    token, code = ask_sign_in(client, cora.email)
    _update_contact(app, cora.id, portal_enabled=False)
    assert client.get(f"/sign-in/{token}").status_code == 410
    response = client.post(f"/sign-in/{token}")
    assert response.status_code == 410
    assert "Portal access for this address is not active" in response.get_data(as_text=True)
    assert client.post("/sign-in/code", data={"email": cora.email, "code": code}).status_code == 422
    assert client.get("/home").status_code == 303


# --- the code ------------------------------------------------------------------------


def test_the_code_signs_in_on_another_device(app, cora, ask_sign_in):
    token, code = ask_sign_in(app.test_client(), cora.email)
    phone = app.test_client()
    response = phone.post("/sign-in/code", data={"email": cora.email, "code": f"{code[:3]} {code[3:]}"})
    assert response.status_code == 303 and response.headers["Location"] == "/home"
    assert _signed_in_as(phone, cora)
    [row] = _sign_ins(app)
    assert row.used_at is not None and row.failed_attempts == 0
    assert app.test_client().get(f"/sign-in/{token}").status_code == 410  # the link went with it


def test_an_expired_code_is_refused_with_a_clear_message(app, client, cora, ask_sign_in):
    _token, code = ask_sign_in(client, cora.email)
    _update_sign_ins(app, expires_at=utcnow() - timedelta(seconds=1))
    response = client.post("/sign-in/code", data={"email": cora.email, "code": code})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "That code did not work" in html and "codes work for 10 minutes" in html
    assert 'href="/sign-in"' in html  # ask for a new email
    assert f'value="{cora.email}"' in html  # the form keeps the address
    assert not _signed_in_as(client, cora)


def test_the_code_locks_after_five_wrong_tries_even_for_the_right_code(app, client, cora, ask_sign_in):
    token, code = ask_sign_in(client, cora.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = []
    for _ in range(5):
        response = client.post("/sign-in/code", data={"email": cora.email, "code": wrong})
        assert response.status_code == 422
        answers.append(response.get_data(as_text=True))
    assert all("That code did not work" in html for html in answers[:4])
    assert "this code is now locked" in answers[4]
    response = client.post("/sign-in/code", data={"email": cora.email, "code": code})
    assert response.status_code == 422
    assert "this code is now locked" in response.get_data(as_text=True)
    assert not _signed_in_as(client, cora)
    [row] = _sign_ins(app)
    assert row.failed_attempts == 5 and row.used_at is None
    # a fresh email brings a fresh code
    _token, fresh = ask_sign_in(client, cora.email)
    assert client.post("/sign-in/code", data={"email": cora.email, "code": fresh}).status_code == 303


def test_a_right_code_after_a_few_wrong_ones_still_signs_in(app, client, cora, ask_sign_in):
    _token, code = ask_sign_in(client, cora.email)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    for _ in range(2):
        assert client.post("/sign-in/code", data={"email": cora.email, "code": wrong}).status_code == 422
    assert client.post("/sign-in/code", data={"email": cora.email, "code": code}).status_code == 303
    [row] = _sign_ins(app)
    assert row.failed_attempts == 2 and row.used_at is not None


def test_a_wrong_code_reads_the_same_as_an_unknown_address(app, cora, ask_sign_in):
    _token, code = ask_sign_in(app.test_client(), cora.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    known = app.test_client().post("/sign-in/code", data={"email": cora.email, "code": wrong})
    unknown = app.test_client().post("/sign-in/code", data={"email": "nobody@greenleaf.example", "code": wrong})
    assert known.status_code == unknown.status_code == 422
    assert _normalised(known.get_data(as_text=True), cora.email) == _normalised(
        unknown.get_data(as_text=True), "nobody@greenleaf.example"
    )


def test_only_the_newest_emails_code_counts(app, client, cora, ask_sign_in):
    _t1, first = ask_sign_in(client, cora.email)
    _t2, second = ask_sign_in(client, cora.email)
    if first != second:  # one chance in a million that they match
        assert client.post("/sign-in/code", data={"email": cora.email, "code": first}).status_code == 422
    assert client.post("/sign-in/code", data={"email": cora.email, "code": second}).status_code == 303


def test_a_malformed_code_answers_422_without_costing_a_try(app, client, cora, ask_sign_in):
    ask_sign_in(client, cora.email)
    response = client.post("/sign-in/code", data={"email": cora.email, "code": "12ab"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The code is 6 digits" in html and 'value="12ab"' in html
    assert _sign_ins(app)[0].failed_attempts == 0


def test_the_code_form_swaps_itself_for_htmx_and_redirects_on_success(app, client, cora, ask_sign_in):
    _token, code = ask_sign_in(client, cora.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client.post("/sign-in/code", data={"email": cora.email, "code": wrong}, headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<form id="code-form"')
    assert "HX-Request" in response.headers.get("Vary", "")
    response = client.post("/sign-in/code", data={"email": cora.email, "code": code}, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/home"


# --- the session ---------------------------------------------------------------------


def test_sign_out_ends_the_portal_session(app, client, make, cora, portal_sign_in):
    delivered = make.delivered(contact=cora)
    portal_sign_in(client, cora)
    assert client.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200
    page = client.get("/sign-out")
    assert page.status_code == 200 and 'action="/sign-out"' in page.get_data(as_text=True)
    response = client.post("/sign-out")
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    home = client.get("/home")
    assert home.status_code == 303 and home.headers["Location"] == "/sign-in"
    after = client.get(f"/p/proposals/{delivered.proposal.id}")  # offered sign-in, not a bare 404
    assert after.status_code == 303 and after.headers["Location"].startswith("/sign-in?next=")


COOKIE = "porchlight"


def _portal_sessions(app) -> int:
    from portal.domains.identity.models import PortalSession

    with app.app_context():
        return db.session.scalar(select(db.func.count()).select_from(PortalSession))


def _offered_sign_in(response, path: str) -> bool:
    """The session is over: no page, but the offer to sign in and come back to it."""
    return response.status_code == 303 and response.headers["Location"] == f"/sign-in?next={path}"


def test_sign_out_ends_the_session_on_the_server_so_a_copied_cookie_stops_working(
    app, client, make, cora, portal_sign_in
):
    delivered = make.delivered(contact=cora)
    portal_sign_in(client, cora)
    copied = client.get_cookie(COOKIE).value
    assert _portal_sessions(app) == 1
    replay = app.test_client()
    replay.set_cookie(COOKIE, copied)
    assert replay.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200  # while signed in
    assert client.post("/sign-out").status_code == 303
    assert _portal_sessions(app) == 0
    replay = app.test_client()
    replay.set_cookie(COOKIE, copied)
    assert _offered_sign_in(
        replay.get(f"/p/proposals/{delivered.proposal.id}"), f"/p/proposals/{delivered.proposal.id}"
    )
    home = replay.get("/home")
    assert home.status_code == 303 and home.headers["Location"] == "/sign-in"


def test_a_signed_in_session_keeps_its_record_when_a_link_is_opened(app, client, make, cora, portal_sign_in):
    """Opening a link after signing in writes nothing and keeps the session's record, so
    signing out still ends every way in of that cookie."""
    delivered = make.delivered(contact=cora)
    portal_sign_in(client, cora)
    assert client.get(f"/l/{delivered.token}").status_code == 303
    copied = client.get_cookie(COOKIE).value
    assert _portal_sessions(app) == 1
    client.post("/sign-out")
    replay = app.test_client()
    replay.set_cookie(COOKIE, copied)
    assert _offered_sign_in(
        replay.get(f"/p/proposals/{delivered.proposal.id}"), f"/p/proposals/{delivered.proposal.id}"
    )


def test_sign_out_ends_only_this_browsers_session(app, make, cora, portal_sign_in):
    delivered = make.delivered(contact=cora)
    laptop, phone = app.test_client(), app.test_client()
    portal_sign_in(laptop, cora)
    portal_sign_in(phone, cora)
    assert _portal_sessions(app) == 2
    laptop.post("/sign-out")
    assert phone.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200
    assert _offered_sign_in(
        laptop.get(f"/p/proposals/{delivered.proposal.id}"), f"/p/proposals/{delivered.proposal.id}"
    )


def test_a_session_cookie_without_a_server_record_opens_nothing(app, client, make, cora):
    """A cookie made by the app before session records existed (or forged with the key)."""
    delivered = make.delivered(contact=cora)
    with client.session_transaction() as session:
        session["portal"] = {"contact": cora.id, "epoch": 1, "links": [], "signed_in": True}
    assert _offered_sign_in(
        client.get(f"/p/proposals/{delivered.proposal.id}"), f"/p/proposals/{delivered.proposal.id}"
    )
    assert client.get("/home").status_code == 303


def test_a_proposal_page_checks_the_session_record_in_the_query_that_reads_the_contact(
    app, client, make, cora, portal_sign_in, count_queries
):
    """The record costs no extra round trip: signed in or by link, the same count as before."""
    delivered = make.delivered(contact=cora)
    portal_sign_in(client, cora)
    path = f"/p/proposals/{delivered.proposal.id}"
    assert client.get(path).status_code == 200
    with count_queries() as counter:
        assert client.get(path).status_code == 200
    checked = [s for s in counter.statements if "portal_sessions" in s]
    assert checked and all("contacts" in s for s in checked)


@pytest.mark.parametrize("change", [{"portal_enabled": False}, {"is_active": False}, {"portal_epoch": 2}])
def test_revoked_access_ends_an_open_session_on_its_next_request(app, client, cora, portal_sign_in, change):
    portal_sign_in(client, cora)
    assert _signed_in_as(client, cora)
    _update_contact(app, cora.id, **change)
    response = client.get("/home")
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    _update_contact(app, cora.id, portal_enabled=True, is_active=True)
    assert client.get("/home").status_code == 303  # the session was forgotten, not paused


def test_a_signed_in_contact_opening_the_sign_in_page_goes_home(client, cora, portal_sign_in):
    portal_sign_in(client, cora)
    response = client.get("/sign-in")
    assert response.status_code == 302 and response.headers["Location"] == "/home"


# --- rate limits ---------------------------------------------------------------------


def test_sign_in_requests_are_rate_limited_per_address_whatever_the_ip(rate_limited_app, cora):
    for address in (cora.email, "nobody@greenleaf.example"):  # known or not, the same limit
        statuses = [
            rate_limited_app.test_client()
            .post("/sign-in", data={"email": address.upper()}, environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"})
            .status_code
            for i in range(6)
        ]
        assert statuses == [200] * 5 + [429], (address, statuses)
    page = rate_limited_app.test_client().post(
        "/sign-in", data={"email": cora.email}, environ_base={"REMOTE_ADDR": "198.51.100.77"}
    )
    assert page.status_code == 429
    assert "Too many attempts" in page.get_data(as_text=True)
    assert len(outbox(rate_limited_app)) == 5


def test_sign_in_requests_are_rate_limited_per_ip(rate_limited_app):
    client = rate_limited_app.test_client()
    statuses = [client.post("/sign-in", data={"email": f"someone{i}@greenleaf.example"}).status_code for i in range(21)]
    assert statuses == [200] * 20 + [429]


def test_code_tries_are_rate_limited_per_address(rate_limited_app, cora):
    statuses = [
        rate_limited_app.test_client()
        .post(
            "/sign-in/code",
            data={"email": cora.email, "code": "000000"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
        )
        .status_code
        for i in range(11)
    ]
    assert statuses == [422] * 10 + [429]


def test_rate_limits_are_off_again_after_the_rate_limited_app(app, client, cora):
    # Guards the fixture above: the session app must not inherit the limits.
    for _ in range(7):
        assert client.post("/sign-in", data={"email": cora.email}).status_code == 200


def test_an_expired_form_comes_back_filled_in_instead_of_a_bare_error(app, client, cora, monkeypatch):
    from tests.conftest import csrf_token_from

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post("/sign-in", data={"email": cora.email})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please send it again." in html and f'value="{cora.email}"' in html
    assert outbox(app) == []
    response = client.post("/sign-in", data={"email": cora.email, "csrf_token": csrf_token_from(html)})
    assert response.status_code == 200 and SENT in response.get_data(as_text=True)
    response = client.post("/sign-in/code", data={"email": cora.email, "code": "123456"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please press Sign in once more." in html and 'value="123456"' in html
    assert _sign_ins(app)[0].failed_attempts == 0


def test_the_signature_image_is_never_stored_by_the_browser(make, client, open_link):
    """A shared phone must not keep the customer's signature after they sign out."""
    delivered = make.signed(make.delivered())
    open_link(client, delivered.token)
    response = client.get(f"/p/proposals/{delivered.proposal.id}/signature.png")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert "max-age" not in response.headers["Cache-Control"]
