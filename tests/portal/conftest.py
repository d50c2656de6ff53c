"""Portal fixtures: sign a contact in through the real sign-in pages."""

from __future__ import annotations

import re

import pytest

from tests.factories import outbox

SIGN_IN_URL = re.compile(r"^(https?://\S+)/sign-in/([A-Za-z0-9_-]{20,})$", re.M)
CODE_LINE = re.compile(r"^(\d{6})$", re.M)


def sign_in_mail(app, address: str) -> tuple[str, str, str]:
    """The newest sign-in email to ``address``: (base URL, token, code)."""
    mails = [m for m in outbox(app) if m["to_addr"] == address and m["kind"] == "portal_sign_in"]
    assert mails, f"no sign-in email to {address}"
    body = mails[-1]["body_text"]
    link, code = SIGN_IN_URL.search(body), CODE_LINE.search(body)
    assert link and code, body
    return link.group(1), link.group(2), code.group(1)


@pytest.fixture
def ask_sign_in(app):
    """``ask_sign_in(client, email)``: post the sign-in form; returns (token, code) of the mail."""

    def ask(client, email: str) -> tuple[str, str]:
        response = client.post("/sign-in", data={"email": email})
        assert response.status_code == 200, response.status_code
        _base, token, code = sign_in_mail(app, email.strip().lower())
        return token, code

    return ask


@pytest.fixture
def portal_sign_in(ask_sign_in):
    """``portal_sign_in(client, contact)``: sign a contact in with the emailed code."""

    def sign_in(client, contact) -> None:
        _token, code = ask_sign_in(client, contact.email)
        response = client.post("/sign-in/code", data={"email": contact.email, "code": code})
        assert response.status_code == 303, response.get_data(as_text=True)[:1000]
        assert response.headers["Location"].endswith("/home")

    return sign_in
