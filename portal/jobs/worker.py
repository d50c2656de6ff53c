"""The worker loop: schedule periodic jobs, run due jobs, deliver due mail, repeat.

It survives the database going away (a PostgreSQL restart, a failover): an error
from the database is logged, the session thrown away, and the loop waits (longer
each time, up to 30 s) and goes on. Jobs hold a lease renewed by a heartbeat, so a
killed worker's job is taken again once its lease runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import DBAPIError

from portal.core.extensions import db
from portal.jobs import queue
from portal.jobs.registry import job, periodic
from portal.mail import outbox

logger = logging.getLogger("portal.jobs")


@job("mail.deliver")
def deliver_mail() -> None:
    """Deliver all due mail now (the Outbox page's button enqueues this)."""
    outbox.deliver_due()


@periodic("jobs.prune", every=timedelta(days=1))
def prune_jobs() -> None:
    queue.prune_finished()


@dataclass
class PassReport:
    jobs: int = 0
    failed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        return self.jobs + self.failed + self.sent + self.retried + self.dead

    def __str__(self) -> str:
        return f"jobs={self.jobs} failed={self.failed} sent={self.sent} retry={self.retried} dead={self.dead}"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_pass(me: str, stop: threading.Event | None = None) -> PassReport:
    """Everything due now: this slot of each periodic job, every due job, all due mail."""
    report = PassReport()
    queue.schedule_periodic()
    while stop is None or not stop.is_set():
        job_id = queue.claim_next(me)
        if job_id is None:
            break
        if queue.run_claimed(job_id, me) == "done":
            report.jobs += 1
        else:
            report.failed += 1
        db.session.remove()
    mail = outbox.deliver_due()
    report.sent, report.retried, report.dead = mail.sent, mail.retried, mail.dead
    return report


def work(
    once: bool = False,
    idle: float = 2.0,
    stop: threading.Event | None = None,
    retry_wait: float = 1.0,
    echo=None,
) -> None:
    """Run passes until ``stop`` is set (or one pass with ``once``)."""
    stop = stop or threading.Event()
    me = worker_id()
    outages = 0
    while not stop.is_set():
        try:
            report = run_pass(me, stop)
        except Exception as exc:
            # OperationalError, InterfaceError...: the database restarted or is away.
            # Anything else is a bug to fix, but must not stop mail and jobs either.
            outages += 1
            wait = min(retry_wait * 2 ** (outages - 1), 30.0)
            if isinstance(exc, DBAPIError):
                logger.warning("database unavailable (%s); trying again in %.1f s", exc.orig or exc, wait)
            else:
                logger.exception("worker pass failed; trying again in %.1f s", wait)
            _discard_session()
            if once and (outages >= 5 or not isinstance(exc, DBAPIError)):
                raise
            stop.wait(wait)
            continue
        finally:
            db.session.remove()
        outages = 0
        if echo and (report.handled or once):
            echo(str(report))
        if once:
            return
        if not report.handled:
            stop.wait(idle)


def _discard_session() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; removing the session is enough
        pass
    db.session.remove()
