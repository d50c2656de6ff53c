"""Behind a load balancer: ``TRUSTED_PROXY_HOPS`` decides whose address a request has.

With no trusted hop (the default) ``X-Forwarded-For`` is ignored, since anyone can
send it; with one, the address the proxy appended is the client's, for the rate
limiter's key and for the signature's evidence alike.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.extensions import db, limiter
from portal.domains.proposals.models import Signature
from tests.conftest import make_app
from tests.factories import page_form, sign_form


@pytest.fixture
def proxied(app, tmp_path_factory):
    """``proxied(hops, limits=False)``: a second app on the test database behind ``hops`` proxies."""
    made = []

    def build(hops: int, limits: bool = False):
        other = make_app(
            tmp_path_factory,
            TRUSTED_PROXY_HOPS=hops,
            RATELIMIT_ENABLED=limits,
            SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        )
        made.append(other)
        if limits:
            limiter.reset()
        return other

    yield build
    if limiter.enabled:
        limiter.reset()
        limiter.enabled = False
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _sign_through(app, client, make, forwarded_for: str) -> str:
    delivered = make.delivered()
    opened = client.get(f"/l/{delivered.token}")
    page = client.get(opened.headers["Location"])
    form = page_form(page.get_data(as_text=True))
    response = client.post(
        f"/p/proposals/{delivered.proposal.id}/sign",
        data=sign_form(delivered.proposal, seen_hash=form["seen_hash"]),
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert response.status_code in (303, 200), response.status_code
    with app.app_context():
        return db.session.scalar(select(Signature.ip).where(Signature.proposal_id == delivered.proposal.id))


def test_with_one_trusted_hop_the_signature_records_the_forwarded_client(app, make, proxied):
    other = proxied(1)
    assert _sign_through(app, other.test_client(), make, "203.0.113.7") == "203.0.113.7"


def test_with_no_trusted_hop_the_forwarded_header_is_ignored(app, make, proxied):
    other = proxied(0)
    assert _sign_through(app, other.test_client(), make, "203.0.113.7") == "10.0.0.9"


def _sign_in_requests(client, forwarded_for: str, count: int, start: int = 0) -> list[int]:
    return [
        client.post(
            "/sign-in",
            data={"email": f"nobody{start + i}@example.test"},
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
        ).status_code
        for i in range(count)
    ]


def test_with_one_trusted_hop_each_client_has_its_own_rate_limit(proxied):
    client = proxied(1, limits=True).test_client()
    assert _sign_in_requests(client, "203.0.113.7", 21)[-1] == 429
    assert _sign_in_requests(client, "198.51.100.3", 1, start=100) == [200]


def test_with_no_trusted_hop_the_limit_is_the_connecting_address(proxied):
    client = proxied(0, limits=True).test_client()
    assert _sign_in_requests(client, "203.0.113.7", 21)[-1] == 429
    assert _sign_in_requests(client, "198.51.100.3", 1, start=100) == [429]
