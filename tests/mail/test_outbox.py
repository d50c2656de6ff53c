"""Outbox delivery over a real SMTP server on loopback (aiosmtpd): once, retried, dead, bounded."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta
from email import message_from_bytes

import pytest
from sqlalchemy import select, update

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.mail.outbox import claim_due, deliver_due
from tests.factories import queued_mail, sign_form


def _message(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def _all(app) -> list[OutboxMessage]:
    with app.app_context():
        messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return messages


def _deliver(app, limit: int = 20):
    """One worker pass in its own app context, as the CLI worker runs it."""
    with app.app_context():
        try:
            return deliver_due(limit=limit)
        finally:
            db.session.remove()


def _make_due(app, *message_ids: int) -> None:
    """Pretend the backoff has passed."""
    with app.app_context():
        stmt = update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        if message_ids:
            stmt = stmt.where(OutboxMessage.id.in_(message_ids))
        db.session.execute(stmt)
        db.session.commit()


@pytest.fixture
def closed_port():
    """A port where nothing listens: bound but never listening, so a connection is
    refused, and held for the test so no other process (another xdist worker's live
    server or mail server) can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def _hook_data(mail_server, hook):
    """Wrap the server's DATA handler: ``hook(envelope)`` returns a reply to refuse, or None."""
    original = mail_server.handler.handle_DATA

    async def handle_DATA(server, session, envelope):
        reply = hook(envelope)
        if reply:
            return reply
        return await original(server, session, envelope)

    # aiosmtpd looks the hooks up on the handler instance for each new connection
    mail_server.handler.handle_DATA = handle_DATA


def test_deliver_due_sends_a_pending_message_once_and_marks_it_sent(app, mail_server):
    queued = queued_mail(app, to_addr="cora@example.test", subject="Your new link")
    report = _deliver(app)
    assert (report.sent, report.retried, report.dead) == (1, 0, 0)

    (received,) = mail_server.messages
    assert received["Message-ID"] == queued.message_id
    assert received["To"] == "cora@example.test"
    assert received["Subject"] == "Your new link"
    assert "https://portal.example.test/l/example-token" in received.get_body(("plain",)).get_content()

    stored = _message(app, queued.id)
    assert stored.status == OutboxStatus.SENT
    assert stored.sent_at is not None and stored.attempts == 1
    assert stored.claimed_until is None and stored.last_error is None

    assert _deliver(app).handled == 0
    _make_due(app)
    assert _deliver(app).handled == 0  # a sent message is never due again
    assert len(mail_server.messages) == 1


def test_message_id_is_the_same_on_a_retry(app, mail_server):
    queued = queued_mail(app)
    seen: list[str] = []

    def first_attempt_fails(envelope):
        seen.append(message_from_bytes(envelope.content)["Message-ID"])
        return "451 4.3.0 please try again later" if len(seen) == 1 else None

    _hook_data(mail_server, first_attempt_fails)
    assert _deliver(app).retried == 1
    waiting = _message(app, queued.id)
    assert waiting.status == OutboxStatus.PENDING and waiting.attempts == 1
    assert waiting.next_attempt_at > utcnow()
    assert "451" in waiting.last_error

    _make_due(app, queued.id)
    assert _deliver(app).sent == 1
    assert seen == [queued.message_id, queued.message_id]
    assert [m["Message-ID"] for m in mail_server.messages] == [queued.message_id]
    assert _message(app, queued.id).message_id == queued.message_id


def test_smtp_down_does_not_stop_delivering_or_signing_and_mail_goes_out_once_it_is_back(
    app, make, login, open_link, mail_server, monkeypatch, closed_port
):
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port)
    staff = make.staff(name="Sam Sales")
    proposal = make.proposal(rep=staff)
    staff_client = app.test_client()
    login(staff_client, staff)

    # delivering: a staff action that queues mail
    response = staff_client.post(
        f"/admin/proposals/{proposal.id}/deliver", data={"contact_id": str(proposal.contact_id)}
    )
    assert response.status_code == 303
    (delivered_mail,) = _all(app)
    token = re.search(r"/l/([A-Za-z0-9_\-]+)", delivered_mail.body_text).group(1)

    # signing: a customer action that queues mail
    portal = app.test_client()
    html = open_link(portal, token).get_data(as_text=True)
    seen = re.search(r'name="seen_hash" value="([0-9a-f]{64})"', html).group(1)
    response = portal.post(f"/p/proposals/{proposal.id}/sign", data=sign_form(proposal, [], seen_hash=seen))
    assert response.status_code == 303
    assert len(_all(app)) == 2

    before = utcnow()
    report = _deliver(app)
    assert (report.sent, report.retried, report.dead) == (0, 2, 0)
    for message in _all(app):
        assert message.status == OutboxStatus.PENDING
        assert message.attempts == 1
        assert message.next_attempt_at > before
        assert message.claimed_until is None
        assert message.last_error

    # the server is back, but nothing is due yet: the backoff holds
    monkeypatch.setitem(app.config, "MAIL_PORT", mail_server.port)
    assert _deliver(app).handled == 0
    assert mail_server.messages == []

    _make_due(app)
    assert _deliver(app).sent == 2
    assert _deliver(app).handled == 0
    _make_due(app)
    assert _deliver(app).handled == 0
    received = sorted(m["Message-ID"] for m in mail_server.messages)
    assert received == sorted(m.message_id for m in _all(app))  # each exactly once
    assert {m.status for m in _all(app)} == {OutboxStatus.SENT}


def test_backoff_grows_with_each_failed_attempt(app, mail_server, monkeypatch, closed_port):
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port)
    queued = queued_mail(app)
    delays = []
    for _ in range(3):
        _make_due(app)
        start = utcnow()
        _deliver(app)
        delays.append((_message(app, queued.id).next_attempt_at - start).total_seconds())
    assert delays[0] < delays[1] < delays[2]
    assert _message(app, queued.id).attempts == 3


def test_a_message_gives_up_after_the_maximum_attempts(app, mail_server, monkeypatch, closed_port):
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port)
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 2)
    queued = queued_mail(app)
    _deliver(app)
    _make_due(app)
    _deliver(app)
    stored = _message(app, queued.id)
    assert (stored.status, stored.attempts) == (OutboxStatus.DEAD, 2)
    assert stored.last_error.startswith("gave up after 2 attempts")


def test_a_5xx_rejection_moves_the_message_to_dead_letters_and_the_next_one_still_goes(app, mail_server):
    rejected = queued_mail(app, to_addr="nobody@example.test")
    mail_server.handler.reject_with = "550 5.1.1 no such user"
    report = _deliver(app)
    assert (report.sent, report.retried, report.dead) == (0, 0, 1)
    dead = _message(app, rejected.id)
    assert dead.status == OutboxStatus.DEAD and dead.attempts == 1
    assert "550" in dead.last_error and dead.claimed_until is None

    mail_server.handler.reject_with = None
    following = queued_mail(app, to_addr="cora@example.test")
    _make_due(app)
    assert _deliver(app).sent == 1
    assert [m["To"] for m in mail_server.messages] == ["cora@example.test"]
    assert _message(app, following.id).status == OutboxStatus.SENT
    assert _message(app, rejected.id).status == OutboxStatus.DEAD  # never retried on its own


def test_a_rejected_message_does_not_block_the_rest_of_its_batch(app, mail_server):
    first = queued_mail(app, to_addr="nobody@example.test")
    second = queued_mail(app, to_addr="cora@example.test")
    third = queued_mail(app, to_addr="omar@example.test")
    _hook_data(
        mail_server, lambda envelope: "550 5.1.1 no such user" if "nobody@example.test" in envelope.rcpt_tos else None
    )
    report = _deliver(app)
    assert (report.sent, report.retried, report.dead) == (2, 0, 1)
    assert _message(app, first.id).status == OutboxStatus.DEAD
    assert {_message(app, m.id).status for m in (second, third)} == {OutboxStatus.SENT}
    assert sorted(m["To"] for m in mail_server.messages) == ["cora@example.test", "omar@example.test"]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word (no SMTP greeting)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept_forever():
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()
    thread.join(timeout=5)


def test_a_server_that_never_answers_cannot_hold_the_worker_past_mail_timeout(app, silent_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", silent_server)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 1)
    queued = queued_mail(app)
    started = time.monotonic()
    report = _deliver(app)
    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed
    assert (report.sent, report.retried) == (0, 1)
    stored = _message(app, queued.id)
    assert stored.status == OutboxStatus.PENDING and stored.attempts == 1
    assert stored.next_attempt_at > utcnow() and stored.claimed_until is None


def test_without_mail_server_deliver_due_does_nothing(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    queued = queued_mail(app)
    report = _deliver(app)
    assert report.handled == 0
    stored = _message(app, queued.id)
    assert (stored.status, stored.attempts, stored.claimed_until) == (OutboxStatus.PENDING, 0, None)


def test_queued_mail_leaves_only_when_its_transaction_commits(app, mail_server):
    """Mail is written with the change: a rolled-back change sends nothing."""
    from datetime import datetime
    from types import SimpleNamespace

    from portal.mail.outbox import queue_mail

    with app.app_context():
        queue_mail(
            "cora@example.test",
            "Never sent",
            "link_renewed",
            kind="link_renewed",
            contact=SimpleNamespace(first_name="Cora"),
            url="https://x.test/",
            expires_at=datetime(2030, 1, 1),
        )
        db.session.rollback()
    assert _deliver(app).handled == 0
    assert mail_server.messages == [] and _all(app) == []


def _race(app, work, workers: int = 2) -> list:
    """Run ``work()`` in ``workers`` threads, each in its own app context, started together."""
    barrier = threading.Barrier(workers)
    results: list = [None] * workers
    errors: list = []

    def run(i):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results[i] = work()
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_two_workers_claiming_at_once_never_claim_the_same_message(app):
    ids = {queued_mail(app, to_addr=f"r{n}@example.test").id for n in range(30)}
    for _round in range(5):
        with app.app_context():
            db.session.execute(update(OutboxMessage).values(claimed_until=None))
            db.session.commit()
        first, second = _race(app, lambda: [m.id for m in claim_due(limit=30)])
        assert not set(first) & set(second)
        assert len(first) == len(set(first)) and len(second) == len(set(second))
        assert set(first) | set(second) == ids  # and every due message was claimed by someone


def test_a_claimed_message_is_not_claimed_again_until_its_lease_runs_out(app):
    queued = queued_mail(app)
    with app.app_context():
        assert [m.id for m in claim_due()] == [queued.id]
        assert claim_due() == []
        db.session.execute(update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert [m.id for m in claim_due()] == [queued.id]  # a crashed worker's lease expires


def test_two_workers_delivering_at_once_send_each_message_exactly_once(app, mail_server):
    queued = [queued_mail(app, to_addr=f"r{n}@example.test") for n in range(12)]
    reports = _race(app, lambda: deliver_due(limit=50))
    assert sum(r.sent for r in reports) == 12
    received = sorted(m["Message-ID"] for m in mail_server.messages)
    assert received == sorted(m.message_id for m in queued)
    assert {m.status for m in _all(app)} == {OutboxStatus.SENT}
