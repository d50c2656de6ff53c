"""Real concurrency: simultaneous submits end with one signature, on SQLite and PostgreSQL.

Nothing here wraps a transaction: every request commits for real, in its own thread
and database connection, released together by a barrier.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from portal.core.errors import NotAllowed
from portal.domains.proposals import operations as proposals
from tests.factories import outbox, page_form, sign_form, signature_rows, staff_add_line

ROUNDS = 4


def _run_together(*jobs):
    """Run the jobs in threads released at the same instant; returns results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait(timeout=10)
            results[index] = job()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return results


def _twin_clients(app, open_link, token):
    """Two test clients sharing one session cookie: one browser, two tabs."""
    first = app.test_client()
    page = open_link(first, token)
    assert page.status_code == 200
    second = app.test_client()
    cookie = first.get_cookie(app.config["SESSION_COOKIE_NAME"])
    second.set_cookie(cookie.key, cookie.value)
    return first, second, page_form(page.get_data(as_text=True))


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_simultaneous_sign_submits_make_exactly_one_signature(app, make, open_link, round_):
    delivered = make.delivered()
    first, second, form = _twin_clients(app, open_link, delivered.token)
    url = f"/p/proposals/{delivered.proposal.id}/sign"

    def submit(client, name):
        return lambda: client.post(
            url, data=sign_form(delivered.proposal, form["options"][:1], seen_hash=form["seen_hash"], signer_name=name)
        )

    results = _run_together(submit(first, "Tab One"), submit(second, "Tab Two"))
    for result in results:
        assert not isinstance(result, BaseException), repr(result)
        assert result.status_code < 500, result.get_data(as_text=True)[:500]
    # The loser is a stale tab: told plainly that the proposal was already signed (409).
    assert sorted(r.status_code for r in results) == [303, 409]
    winner = next(r for r in results if r.status_code == 303)
    assert winner.headers["Location"].endswith("?signed=1")
    loser = next(r for r in results if r.status_code == 409)
    assert "This proposal was already signed on " in loser.get_data(as_text=True)

    (signature,) = signature_rows(app)
    assert signature.signer_name == ("Tab One" if winner is results[0] else "Tab Two")
    assert signature.signed_total == Decimal("310.00")
    assert len([m for m in outbox(app) if m["kind"] == "proposal_signed"]) == 1
    assert "Signed by " + signature.signer_name in first.get(f"/p/proposals/{delivered.proposal.id}").get_data(
        as_text=True
    )


def test_many_simultaneous_submits_make_exactly_one_signature(app, make, open_link):
    delivered = make.delivered()
    first, second, form = _twin_clients(app, open_link, delivered.token)
    url = f"/p/proposals/{delivered.proposal.id}/sign"
    clients = [first, second, *(_twin_clients(app, open_link, delivered.token)[0] for _ in range(2))]
    jobs = [
        lambda c=c, i=i: c.post(
            url, data=sign_form(delivered.proposal, [], seen_hash=form["seen_hash"], signer_name=f"Signer {i}")
        )
        for i, c in enumerate(clients)
    ]
    results = _run_together(*jobs)
    assert all(not isinstance(r, BaseException) for r in results), results
    assert sorted(r.status_code for r in results) == [303, 409, 409, 409], results  # the others are told
    assert len(signature_rows(app)) == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_staff_edit_racing_a_signature_never_changes_signed_content(app, make, open_link, round_):
    delivered = make.delivered()
    client, _twin, form = _twin_clients(app, open_link, delivered.token)
    url = f"/p/proposals/{delivered.proposal.id}/sign"

    def sign():
        return client.post(url, data=sign_form(delivered.proposal, [], seen_hash=form["seen_hash"]))

    def edit():
        try:
            staff_add_line(app, delivered.proposal.id, description="Raced line")
        except NotAllowed:
            return "refused"
        return "edited"

    signed, edited = _run_together(sign, edit)
    assert not isinstance(signed, BaseException), repr(signed)
    assert not isinstance(edited, BaseException), repr(edited)
    assert signed.status_code in (303, 409), signed.get_data(as_text=True)[:500]

    rows = signature_rows(app)
    with app.app_context():
        proposal = proposals.load_proposal(delivered.proposal.id)
        descriptions = [line.description for line in proposal.lines]
        if signed.status_code == 303:
            assert edited == "refused"
            assert "Raced line" not in descriptions
            (signature,) = rows
            assert proposals.signature_intact(signature, proposal)
        else:
            assert edited == "edited"
            assert "Raced line" in descriptions
            assert rows == []
            assert proposal.signed_at is None
