"""The cached page's per-request shortcuts (issue 8, performance) answer as Flask would."""

from __future__ import annotations

import gzip
import inspect
from datetime import datetime

import pytest
from flask import Flask

from portal.core import flask_app
from portal.core.i18n import babel_locale, babel_zone
from portal.core.sessions import _copy

HX = {"HX-Request": "true"}


def _names(response) -> list[str]:
    return [key for key, _value in response.headers]


@pytest.mark.parametrize("encoding", ["gzip", None])
def test_a_cached_page_answers_with_the_headers_of_a_rendered_one(make, client, open_link, encoding):
    delivered = make.delivered()
    open_link(client, delivered.token)
    headers = {"Accept-Encoding": encoding} if encoding else {}
    response = client.get(f"/p/proposals/{delivered.proposal.id}", headers=headers)
    raw = response.get_data()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Length"] == str(len(raw))
    assert response.headers["Vary"] == "HX-Request, Accept-Encoding, Cookie"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Frame-Options"] == "DENY"
    names = ["Content-Type", "Content-Length", "Content-Encoding", "Vary"] if encoding else []
    names = names or ["Content-Type", "Content-Length", "Vary"]
    assert _names(response)[: len(names)] == names  # the order make_response gave
    html = gzip.decompress(raw).decode() if encoding else raw.decode()
    assert html.startswith("<!doctype html>") or "<html" in html[:200]
    assert "__porchlight_csrf_token__" not in html


def test_a_cached_toggle_answers_with_the_headers_of_a_rendered_one(make, client, open_link):
    delivered = make.delivered()
    open_link(client, delivered.token)
    option = next(line.id for line in delivered.proposal.lines if line.is_optional)
    response = client.post(f"/p/proposals/{delivered.proposal.id}/options", data={"option": [option]}, headers=HX)
    assert response.status_code == 200
    assert _names(response)[:3] == ["Content-Type", "Content-Length", "Vary"]
    assert response.headers["Content-Length"] == str(len(response.get_data()))
    assert response.headers["Vary"] == "HX-Request, Accept-Encoding, Cookie"
    assert "<html" not in response.get_data(as_text=True)


def test_ensure_sync_asks_about_a_function_once(monkeypatch):
    calls = []
    original = inspect.iscoroutinefunction

    def counting(func):
        calls.append(func)
        return original(func)

    monkeypatch.setattr("flask.app.iscoroutinefunction", counting)
    app = flask_app.PortalFlask(__name__)

    def view():
        return "ok"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view
    assert calls == [view]


def test_ensure_sync_still_wraps_a_coroutine_function(monkeypatch):
    app = flask_app.PortalFlask(__name__)
    wrapped = []
    monkeypatch.setattr(Flask, "async_to_sync", lambda self, func: wrapped.append(func) or "sync")

    async def view():
        return "ok"

    assert app.ensure_sync(view) == "sync"
    assert app.ensure_sync(view) == "sync"
    assert wrapped == [view]


def test_ensure_sync_keeps_a_bounded_table(monkeypatch):
    monkeypatch.setattr(flask_app, "SYNC_CACHE_SIZE", 2)
    app = flask_app.PortalFlask(__name__)
    for _ in range(5):
        app.ensure_sync(lambda: None)
    assert len(app._sync_callables) == 2


def test_a_kept_session_is_copied_deeply():
    kept = {"portal": {"links": [1, 2], "contact": 3}, "seen": ["1:2:3"], "at": datetime(2026, 1, 1), "t": ([1],)}
    copy = _copy(kept)
    assert copy == kept
    copy["portal"]["links"].append(9)
    copy["seen"].append("x")
    copy["t"][0].append(2)
    assert kept == {
        "portal": {"links": [1, 2], "contact": 3},
        "seen": ["1:2:3"],
        "at": datetime(2026, 1, 1),
        "t": ([1],),
    }


def test_locales_and_zones_are_made_once_per_name():
    assert babel_locale("es") is babel_locale("es")
    assert str(babel_locale("es")) == "es"
    assert babel_zone("Europe/Rome") is babel_zone("Europe/Rome")
    assert str(babel_zone("Europe/Rome")) == "Europe/Rome"


def test_the_browser_language_is_read_per_request(client):
    # The choice is kept per header value, not per client: each request gets its own.
    assert 'lang="it"' in client.get("/sign-in", headers={"Accept-Language": "it"}).get_data(as_text=True)
    assert 'lang="es"' in client.get("/sign-in", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert 'lang="en"' in client.get("/sign-in").get_data(as_text=True)


# --- hooks that have nothing to do on most requests ------------------------------------


def test_a_limited_request_still_has_flask_limiters_context_under_the_name_we_check(rate_limited_app):
    # ``skip_idle_limiter_hooks`` runs Flask-Limiter's hooks only where this attribute
    # exists: a Flask-Limiter that renamed it would skip them everywhere.
    seen = []

    @rate_limited_app.after_request
    def look(response):
        from flask.globals import request_ctx

        seen.append(hasattr(request_ctx, flask_app.LIMITER_CONTEXT))
        return response

    client = rate_limited_app.test_client()
    client.post("/sign-in", data={"email": "someone@greenleaf.example"})  # a limited view
    client.get("/healthz")  # no limit
    assert seen == [True, False]


def test_limit_headers_still_come_with_a_limited_view_when_enabled(rate_limited_app, monkeypatch):
    from portal.core.extensions import limiter

    monkeypatch.setattr(limiter, "_headers_enabled", True)
    response = rate_limited_app.test_client().post("/sign-in", data={"email": "someone@greenleaf.example"})
    assert response.headers["X-RateLimit-Limit"]
    assert "X-RateLimit-Limit" not in rate_limited_app.test_client().get("/healthz").headers


def test_compression_still_applies_to_a_page_not_from_the_cache(client):
    response = client.get("/sign-in", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert "<html" in gzip.decompress(response.get_data()).decode()


def test_a_small_answer_is_not_compressed_but_varies_on_accept_encoding(client):
    response = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"].startswith("Accept-Encoding")


@pytest.fixture
def fresh_app(app, tmp_path_factory):
    """An app of its own on the same database, to add test routes to."""
    from tests.conftest import make_app

    fresh = make_app(tmp_path_factory, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    yield fresh
    with fresh.app_context():
        from portal.core.extensions import db

        db.engine.dispose()


def test_security_headers_keep_a_views_own_values(fresh_app):
    app = fresh_app

    @app.get("/_test/own-headers")
    def own():
        return "x", 200, {"Cache-Control": "private", "X-Frame-Options": "SAMEORIGIN"}

    response = app.test_client().get("/_test/own-headers")
    assert response.headers.getlist("Cache-Control") == ["private"]
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_security_headers_on_a_response_with_a_headers_subclass(fresh_app):
    app = fresh_app
    from werkzeug.datastructures import Headers

    class MyHeaders(Headers):
        pass

    @app.get("/_test/subclass-headers")
    def subclass():
        response = app.response_class("x", mimetype="text/html")
        response.headers = MyHeaders(response.headers)
        return response

    response = app.test_client().get("/_test/subclass-headers")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_get_skips_the_csrf_check_before_any_exemption_lookup(app, monkeypatch):
    from portal.core.extensions import csrf

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    looked = []
    monkeypatch.setattr(csrf, "_is_exempt", lambda: looked.append(1) or False)
    assert app.test_client().get("/healthz").status_code == 200
    assert looked == []
    assert app.test_client().post("/sign-in", data={"email": "a@b.example"}).status_code in (400, 422)  # refused
    assert looked == [1]


# --- small urlencoded forms, read the short way --------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from werkzeug.exceptions import ClientDisconnected  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402


def _forms(app, body: bytes, content_type: str = "application/x-www-form-urlencoded", **environ):
    """(the app's request form, Werkzeug's own parse of the same request) as item lists."""
    from flask.wrappers import Request as FlaskRequest

    from portal.core.parsing import NulFreeMultiDict

    reference = type("Reference", (FlaskRequest,), {"parameter_storage_class": NulFreeMultiDict})
    results = []
    for request_class in (app.request_class, reference):
        builder = EnvironBuilder(method="POST", data=body, content_type=content_type)
        env = builder.get_environ()
        env.update(environ)
        with app.test_request_context(environ_overrides=env):
            request = request_class(env)
            results.append((list(request.form.items(multi=True)), list(request.files.items(multi=True))))
    return results


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(alphabet="ab=&%+;\x00é2F0", max_size=60).map(str.encode))
def test_a_small_form_parses_as_werkzeug_parses_it(app, body):
    ours, werkzeugs = _forms(app, body)
    assert ours == werkzeugs


def test_the_toggles_form_comes_out_as_sent(app):
    (ours, _files), _ = _forms(app, b"option=3&option=5&csrf_token=x%2By")
    assert ours == [("option", "3"), ("option", "5"), ("csrf_token", "x+y")]


def test_a_body_cut_short_is_a_client_disconnect(app):
    builder = EnvironBuilder(method="POST", data=b"option=3", content_type="application/x-www-form-urlencoded")
    env = builder.get_environ()
    env["CONTENT_LENGTH"] = "20"
    with app.test_request_context(environ_overrides=env), pytest.raises(ClientDisconnected):
        _ = app.request_class(env).form


def test_a_body_cut_short_by_a_terminating_server_is_what_arrived(app):
    (ours, _), (werkzeugs, _) = _forms(app, b"option=3", CONTENT_LENGTH="20", **{"wsgi.input_terminated": True})
    assert ours == werkzeugs == [("option", "3")]


def test_other_forms_take_werkzeugs_way(app, monkeypatch):
    from portal.core import parsing

    monkeypatch.setattr(parsing, "SMALL_FORM_BYTES", 4)
    for body, content_type in (
        (b"option=3&option=5", "application/x-www-form-urlencoded"),  # over the small size
        (b"option=3", "application/x-www-form-urlencoded; charset=utf-8"),
        (b"option=3", "text/plain"),
    ):
        ours, werkzeugs = _forms(app, body, content_type)
        assert ours == werkzeugs


def test_a_small_form_over_the_content_limit_is_refused(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 8)
    response = client.post("/sign-in", data={"email": "someone@greenleaf.example"})
    assert response.status_code == 413
