"""Staff sign-in: hashes, refusals, deny-by-default, server-side logout, rate limit, redirects."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from sqlalchemy import func, select

from admin import PUBLIC_ENDPOINTS
from portal.core.extensions import db
from portal.domains.identity.models import StaffSession, StaffUser
from tests.factories import PASSWORD

COOKIE = "porchlight"


def _staff_row(app, user_id: int) -> StaffUser:
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        db.session.expunge(user)
        return user


def _session_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(StaffSession))


def test_staff_passwords_are_stored_as_argon2id_hashes(app, make):
    user = make.staff(password="a long staff password")
    stored = _staff_row(app, user.id).password_hash
    assert stored.startswith("$argon2id$")
    assert "a long staff password" not in stored


def test_wrong_password_answers_422_with_a_message_and_keeps_the_typed_email(client, make):
    user = make.staff()
    response = client.post("/admin/login", data={"email": user.email, "password": "not the password"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "That email and password do not match an active staff account." in html
    assert f'value="{user.email}"' in html
    assert "not the password" not in html  # the password is never echoed back


def test_unknown_email_is_refused_like_a_wrong_password(client):
    response = client.post("/admin/login", data={"email": "nobody@example.test", "password": PASSWORD})
    assert response.status_code == 422
    assert "do not match an active staff account" in response.get_data(as_text=True)


def test_disabled_staff_user_cannot_sign_in(app, client, make):
    user = make.staff()
    with app.app_context():
        db.session.get(StaffUser, user.id).is_enabled = False
        db.session.commit()
    response = client.post("/admin/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 422
    assert "do not match an active staff account" in response.get_data(as_text=True)
    assert _session_count(app) == 0
    assert client.get("/admin/proposals/").status_code == 302


def test_disabling_a_signed_in_user_ends_their_access(app, client, make, login):
    user = make.staff()
    login(client, user)
    assert client.get("/admin/proposals/").status_code == 200
    with app.app_context():
        db.session.get(StaffUser, user.id).is_enabled = False
        db.session.commit()
    assert client.get("/admin/proposals/").status_code == 302


def _admin_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")]


def test_only_the_login_page_and_the_calendar_feed_are_open_without_a_staff_login():
    # The feed is fetched by a calendar app, with no session: its private token is the
    # credential (admin/sales/people/views.py; tests/admin/sales/test_authorization_rules.py).
    assert {"admin.auth.login", "admin.sales_people.calendar_feed"} == PUBLIC_ENDPOINTS


def test_every_admin_page_redirects_to_login_when_signed_out(app, client):
    checked = []
    for rule in _admin_rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **{arg: 1 for arg in rule.arguments})
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url, response.status_code)
        location = urlsplit(response.headers["Location"])
        assert location.path == "/admin/login", (method, url)
        assert parse_qs(location.query)["next"] == [url]
        checked.append(rule.endpoint)
    # the staff area has more than a handful of views: make sure we walked them
    assert len(checked) >= 15, checked
    assert client.get("/admin/login").status_code == 200


def test_logout_deletes_the_server_side_session_so_a_copied_cookie_stops_working(app, client, make, login):
    user = make.staff()
    login(client, user)
    copied = client.get_cookie(COOKIE).value
    assert _session_count(app) == 1

    replay = app.test_client()
    replay.set_cookie(COOKIE, copied)
    assert replay.get("/admin/proposals/").status_code == 200  # the copy works while signed in

    response = client.post("/admin/logout")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/admin/login"
    assert _session_count(app) == 0

    replay = app.test_client()
    replay.set_cookie(COOKIE, copied)
    response = replay.get("/admin/proposals/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/login"
    assert client.get("/admin/proposals/").status_code == 302


def test_logout_ends_only_its_own_session(app, make, login):
    user = make.staff()
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    assert _session_count(app) == 2
    laptop.post("/admin/logout")
    assert _session_count(app) == 1
    assert phone.get("/admin/proposals/").status_code == 200


def test_repeated_failed_logins_are_rate_limited_with_a_clear_429_page(rate_limited_app, make):
    user = make.staff()
    client = rate_limited_app.test_client()
    statuses = [
        client.post("/admin/login", data={"email": user.email, "password": "guess %d" % i}).status_code
        for i in range(5)
    ]
    assert statuses == [422] * 5
    response = client.post("/admin/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many attempts" in html
    assert "Please wait a few minutes, then try again." in html
    assert _session_count(rate_limited_app) == 0  # even the right password waits


def test_login_rate_limit_counts_per_email_not_only_per_client(rate_limited_app, make):
    """Rotating client addresses does not buy more guesses at one account."""
    user = make.staff()
    for i in range(5):
        client = rate_limited_app.test_client()
        response = client.post(
            "/admin/login",
            data={"email": user.email, "password": "guess"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
        )
        assert response.status_code == 422
    response = rate_limited_app.test_client().post(
        "/admin/login", data={"email": user.email, "password": "guess"}, environ_base={"REMOTE_ADDR": "198.51.100.99"}
    )
    assert response.status_code == 429


def test_rate_limit_is_off_again_after_the_rate_limited_app(app, client, make, login):
    # Guards the fixture above: the session app must not inherit the limits.
    user = make.staff()
    for _ in range(7):
        assert client.post("/admin/login", data={"email": user.email, "password": "wrong"}).status_code == 422
    login(client, user)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/admin/proposals/",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "\\\\evil.example",
    ],
)
def test_login_never_redirects_to_another_host(client, make, target):
    user = make.staff()
    response = client.post(
        "/admin/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location
    # already signed in: the GET redirect is guarded the same way
    again = client.get("/admin/login", query_string={"next": target})
    assert again.status_code == 302
    assert not urlsplit(again.headers["Location"]).netloc
    assert not again.headers["Location"].startswith("//")


def test_login_follows_a_local_next_path(client, make):
    user = make.staff()
    response = client.post(
        "/admin/login", query_string={"next": "/admin/outbox/"}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/outbox/"


# --- session expiry: idle and absolute ----------------------------------------------------


def _age_session(app, **ago) -> None:
    """Move the newest staff session's ``created_at`` / ``last_seen_at`` back by these timedeltas."""
    from portal.core.db import utcnow

    with app.app_context():
        record = db.session.scalar(select(StaffSession).order_by(StaffSession.created_at.desc()).limit(1))
        for column, delta in ago.items():
            setattr(record, column, utcnow() - delta)
        db.session.commit()


def _last_seen(app):
    with app.app_context():
        return db.session.scalar(select(StaffSession.last_seen_at))


def _signed_out(client) -> bool:
    response = client.get("/admin/proposals/")
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/admin/login"


def test_a_staff_session_idle_longer_than_the_limit_ends(app, client, make, login):
    from datetime import timedelta

    login(client, make.staff())
    _age_session(app, last_seen_at=timedelta(minutes=479))
    assert not _signed_out(client)
    _age_session(app, last_seen_at=timedelta(minutes=481))
    assert _signed_out(client)


def test_a_staff_session_ends_after_its_absolute_lifetime_however_busy(app, client, make, login):
    from datetime import timedelta

    login(client, make.staff())
    _age_session(app, created_at=timedelta(days=6, hours=23), last_seen_at=timedelta(seconds=5))
    assert not _signed_out(client)
    _age_session(app, created_at=timedelta(days=7, minutes=1), last_seen_at=timedelta(seconds=5))
    assert _signed_out(client)


def test_the_session_limits_are_configurable(app, client, make, login, monkeypatch):
    from datetime import timedelta

    monkeypatch.setitem(app.config, "STAFF_SESSION_IDLE_MINUTES", 5)
    login(client, make.staff())
    _age_session(app, last_seen_at=timedelta(minutes=6))
    assert _signed_out(client)
    login(client, make.staff())
    monkeypatch.setitem(app.config, "STAFF_SESSION_MAX_DAYS", 1)
    _age_session(app, created_at=timedelta(days=1, minutes=1), last_seen_at=timedelta(seconds=5))
    assert _signed_out(client)


def test_last_seen_is_written_at_most_once_a_minute(app, client, make, login):
    from datetime import timedelta

    login(client, make.staff())
    first = _last_seen(app)
    assert first is not None
    assert not _signed_out(client)
    assert _last_seen(app) == first  # a request seconds later writes nothing
    _age_session(app, last_seen_at=timedelta(minutes=2))
    aged = _last_seen(app)
    assert not _signed_out(client)
    assert _last_seen(app) > aged + timedelta(minutes=1)  # a minute later it is moved on
