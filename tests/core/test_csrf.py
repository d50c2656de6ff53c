"""CSRF: a token's signature is verified once, and every other check still runs."""

from __future__ import annotations

from itsdangerous import URLSafeTimedSerializer

from tests.conftest import csrf_token_from
from tests.factories import page_form

HX = {"HX-Request": "true"}


def _count_token_checks(monkeypatch) -> list:
    calls = []
    original = URLSafeTimedSerializer.loads

    def loads(self, s, *args, **kwargs):
        if self.salt == b"wtf-csrf-token":
            calls.append(s)
        return original(self, s, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", loads)
    return calls


def _opened(app, make, open_link):
    delivered = make.delivered()
    client = app.test_client()
    html = open_link(client, delivered.token).get_data(as_text=True)
    url = f"/p/proposals/{delivered.proposal.id}/options"
    return client, url, csrf_token_from(html), page_form(html)["options"]


def test_a_token_is_verified_once_then_recognised(app, make, open_link, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client, url, token, options = _opened(app, make, open_link)
    calls = _count_token_checks(monkeypatch)
    for option in (options[:1], options[:2], []):
        response = client.post(url, data={"option": option}, headers={**HX, "X-CSRFToken": token})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert len(calls) == 1, calls


def test_a_verified_token_still_expires(app, make, open_link, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client, url, token, options = _opened(app, make, open_link)
    headers = {**HX, "X-CSRFToken": token}
    assert client.post(url, data={"option": options[:1]}, headers=headers).status_code == 200
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", -1)
    response = client.post(url, data={"option": options[:2]}, headers=headers)
    assert response.status_code == 422 and "HX-Redirect" in response.headers


def test_a_verified_token_opens_no_other_session(app, make, open_link, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client, url, token, options = _opened(app, make, open_link)
    assert client.post(url, data={"option": options[:1]}, headers={**HX, "X-CSRFToken": token}).status_code == 200
    other, other_url, _own_token, other_options = _opened(app, make, open_link)
    response = other.post(other_url, data={"option": other_options[:1]}, headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 422, response.status_code
