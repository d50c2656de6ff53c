"""The session cookie: an unchanged cookie is verified once, and still expires."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeTimedSerializer


def _count_session_loads(monkeypatch) -> list:
    calls = []
    original = URLSafeTimedSerializer.loads

    def loads(self, s, *args, **kwargs):
        if self.salt == b"cookie-session":
            calls.append(s)
        return original(self, s, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", loads)
    return calls


def _client_with_session(app, **data):
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(data)
    return client


def test_an_unchanged_session_cookie_is_verified_once(app, monkeypatch):
    client = _client_with_session(app, note="kept")
    calls = _count_session_loads(monkeypatch)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    with client.session_transaction() as session:
        assert session["note"] == "kept"
    assert len(calls) == 1, calls


def test_a_session_changed_in_a_request_does_not_change_the_kept_copy(app):
    client = _client_with_session(app, portal={"links": [1]})
    with client.session_transaction() as session:
        session["portal"]["links"].append(2)  # in place, not saved (not marked modified)
    with client.session_transaction() as session:
        assert session["portal"]["links"] == [1]


def test_a_kept_cookie_still_expires(app, monkeypatch):
    client = _client_with_session(app, note="kept")
    assert client.get("/healthz").status_code == 200
    monkeypatch.setattr(app, "permanent_session_lifetime", timedelta(seconds=-1))
    with client.session_transaction() as session:
        assert "note" not in session


def test_a_tampered_cookie_opens_an_empty_session(app):
    client = _client_with_session(app, note="kept")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie.value[:-2] + "xx")
    with client.session_transaction() as session:
        assert "note" not in session
