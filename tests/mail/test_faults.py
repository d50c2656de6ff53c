"""Mail under faults, over the real SMTP server fixture: slow, stalling, many due."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from sqlalchemy import select

from portal.core.extensions import db
from portal.mail import outbox
from portal.mail.models import OutboxMessage, OutboxStatus
from tests.factories import queued_mail


def _all(app) -> list[OutboxMessage]:
    with app.app_context():
        messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        db.session.remove()
        return messages


def _wrap_data(mail_server, before):
    """Run ``await before(envelope)`` ahead of the recording handler; it may return a reply."""
    original = mail_server.handler.handle_DATA

    async def handle_DATA(server, session, envelope):
        reply = await before(envelope)
        if reply:
            return reply
        return await original(server, session, envelope)

    mail_server.handler.handle_DATA = handle_DATA


def test_a_slow_server_never_makes_two_workers_send_the_same_mail(app, mail_server, monkeypatch):
    """A pass that outlasts the lease: claims are per message, so nobody takes one twice."""
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=1))
    queued = [queued_mail(app, to_addr=f"r{n}@example.test") for n in range(8)]

    async def slow(_envelope):
        await asyncio.sleep(0.4)
        return None

    _wrap_data(mail_server, slow)
    barrier = threading.Barrier(2)
    reports: list = []

    def work():
        # each worker polls as the real loop does, for longer than the whole pass takes
        with app.app_context():
            barrier.wait(timeout=10)
            end = time.monotonic() + 5
            while time.monotonic() < end:
                reports.append(outbox.deliver_due(limit=50))
                db.session.remove()
                time.sleep(0.1)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    received = sorted(m["Message-ID"] for m in mail_server.messages)
    assert received == sorted(m.message_id for m in queued)  # each exactly once
    assert sum(r.sent for r in reports) == 8
    assert [(m.status, m.attempts) for m in _all(app)] == [(OutboxStatus.SENT, 1)] * 8


def test_after_a_server_stalls_mid_message_the_rest_of_the_pass_is_delivered(app, mail_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 1)
    first, *rest = [queued_mail(app, to_addr=f"r{n}@example.test") for n in range(4)]
    calls = {"n": 0}

    async def stall_once(_envelope):
        calls["n"] += 1
        if calls["n"] == 1:
            await asyncio.sleep(2.5)  # longer than the client's timeout
            return "451 4.3.0 too late"
        return None

    _wrap_data(mail_server, stall_once)
    with app.app_context():
        report = outbox.deliver_due()
        db.session.remove()
    assert (report.sent, report.retried, report.dead) == (3, 1, 0)
    stored = {m.id: m for m in _all(app)}
    assert stored[first.id].status == OutboxStatus.PENDING and stored[first.id].attempts == 1
    for message in rest:
        assert (stored[message.id].status, stored[message.id].attempts) == (OutboxStatus.SENT, 1)
    assert sorted(m["To"] for m in mail_server.messages) == ["r1@example.test", "r2@example.test", "r3@example.test"]


def test_outbox_work_once_delivers_everything_due_not_just_one_batch(app, mail_server):
    for n in range(7):
        queued_mail(app, to_addr=f"r{n}@example.test")
    result = app.test_cli_runner().invoke(args=["outbox", "work", "--once", "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert len(mail_server.messages) == 7
    assert {m.status for m in _all(app)} == {OutboxStatus.SENT}
