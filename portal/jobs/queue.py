"""Enqueue, claim and run jobs: a table in the app database, claimed per row with a lease.

Why a table and not a job library's own store: a job is written in the same
transaction as the change that causes it (as the outbox does for mail), so a change
that rolls back leaves no job, and a committed change never lacks its job. The claim
is ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers never wait on each other) and a
conditional UPDATE on every engine (the claim itself; on SQLite writers take turns).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.jobs.models import Job, JobStatus
from portal.jobs.registry import HANDLERS, ON_DEAD, SCHEDULE

logger = logging.getLogger("portal.jobs")

EPOCH = datetime(1970, 1, 1)
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 8


def lease() -> timedelta:
    return timedelta(seconds=current_app.config.get("JOBS_LEASE_SECONDS", DEFAULT_LEASE.total_seconds()))


def max_attempts() -> int:
    return int(current_app.config.get("JOBS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def enqueue(name: str, key: str | None = None, run_at: datetime | None = None, **payload) -> None:
    """Add a job to the current transaction; a second job with the same ``key`` is
    ignored (the idempotency key). It runs once the transaction commits."""
    values = dict(
        name=name,
        key=(key or f"{name}:{uuid.uuid4().hex}")[:200],
        payload=json.dumps(payload, sort_keys=True, default=str),
        status=JobStatus.PENDING,
        attempts=0,
        run_at=run_at or utcnow(),
        created_at=utcnow(),
    )
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(Job).values(**values).on_conflict_do_nothing(index_elements=["key"]))


def schedule_periodic(now: datetime | None = None) -> None:
    """Enqueue the current slot of every periodic job. The key is (name, slot), so
    however many workers schedule at once, a slot is one job and runs once."""
    now = now or utcnow()
    elapsed = (now - EPOCH).total_seconds()
    for item in SCHEDULE.values():
        seconds = max(int(item.every.total_seconds()), 1)
        slot = int(elapsed // seconds)
        enqueue(item.name, key=f"{item.name}@{slot}", run_at=EPOCH + timedelta(seconds=slot * seconds))
    db.session.commit()


def _due(now: datetime) -> list:
    return [
        Job.status == JobStatus.PENDING,
        Job.run_at <= now,
        or_(Job.claimed_until.is_(None), Job.claimed_until < now),
    ]


def claim_next(worker_id: str) -> int | None:
    """Claim the next due job for ``worker_id`` and commit the claim; its id, or None."""
    while True:
        now = utcnow()
        # A job whose lease ran out after its last allowed claim killed every worker
        # that ran it: give up on it rather than take it again forever.
        abandoned = db.session.scalars(
            select(Job)
            .where(*_due(now), Job.claimed_until.is_not(None), Job.attempts >= max_attempts())
            .with_for_update(skip_locked=True)
        ).all()
        for dead in abandoned:
            dead.status = JobStatus.DEAD
            dead.claimed_until = None
            dead.finished_at = now
            dead.last_error = "gave up: the worker running it stopped before it finished, every time"
            _give_up(dead)
        job_id = db.session.scalar(
            select(Job.id)
            .where(*_due(now))
            .order_by(Job.run_at, Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it
        )
        if job_id is None:
            db.session.commit()
            return None
        result = db.session.execute(
            update(Job)
            .where(Job.id == job_id, *_due(now))
            .values(claimed_until=now + lease(), claimed_by=worker_id, attempts=Job.attempts + 1)
        )
        db.session.commit()
        if result.rowcount == 1:
            return job_id
        # another worker took it between our read and our update: look again


class Heartbeat:
    """Renews a running job's lease every third of the lease, from a thread with its
    own session, so a long job keeps its claim and a dead worker's runs out."""

    def __init__(self, job_id: int, worker_id: str):
        self.app = current_app._get_current_object()
        self.job_id = job_id
        self.worker_id = worker_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.stopped.set()
        self.thread.join(timeout=30)

    def _beat(self) -> None:
        with self.app.app_context():
            every = lease().total_seconds() / 3
            while not self.stopped.wait(every):
                try:
                    db.session.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.claimed_by == self.worker_id)
                        .values(claimed_until=utcnow() + lease())
                    )
                    db.session.commit()
                except Exception:  # the database is away: try again at the next beat
                    logger.warning("job %s: could not renew its lease", self.job_id, exc_info=True)
                    db.session.rollback()
            db.session.remove()


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def run_claimed(job_id: int, worker_id: str) -> str:
    """Run a claimed job: "done", "retry" or "dead".

    The handler's own changes and the job's "done" are one commit, so work that lives in
    the database is never done twice; a handler with outside effects (mail goes through
    the outbox) must be idempotent, since a killed worker's job runs again.
    """
    job = db.session.get(Job, job_id)
    name, payload = job.name, json.loads(job.payload or "{}")
    handler = HANDLERS.get(name)
    try:
        if handler is None:
            raise LookupError(f"no handler registered for job {name!r}")
        with Heartbeat(job_id, worker_id):
            handler(**payload)
    except Exception as exc:
        db.session.rollback()
        logger.warning("job %s (%s) failed", job_id, name, exc_info=True)
        return _record_failure(job_id, worker_id, repr(exc))
    finished = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.claimed_by == worker_id, Job.status == JobStatus.PENDING)
        .values(status=JobStatus.DONE, finished_at=utcnow(), claimed_until=None, last_error=None)
    )
    if finished.rowcount != 1:  # our lease ran out and another worker has it: leave it theirs
        db.session.rollback()
        logger.warning("job %s (%s) lost its lease; its result was not kept", job_id, name)
        return "retry"
    db.session.commit()
    return "done"


def _record_failure(job_id: int, worker_id: str, error: str) -> str:
    job = db.session.get(Job, job_id)
    if job is None or job.claimed_by != worker_id or job.status != JobStatus.PENDING:
        db.session.commit()
        return "retry"
    job.claimed_until = None
    job.last_error = error[:2000]
    if job.attempts >= max_attempts():
        job.status = JobStatus.DEAD
        job.finished_at = utcnow()
        _give_up(job)
        outcome = "dead"
    else:
        job.run_at = utcnow() + backoff(job.attempts)
        outcome = "retry"
    db.session.commit()
    return outcome


def _give_up(job: Job) -> None:
    """The job's ``on_dead`` (see ``registry``), in a savepoint of the transaction that
    marks it dead: a hook that fails is logged and the job is given up all the same."""
    hook = ON_DEAD.get(job.name)
    if hook is None:
        return
    try:
        with db.session.begin_nested():
            hook(**json.loads(job.payload or "{}"))
    except Exception:
        logger.exception("job %s (%s): its on_dead hook failed", job.id, job.name)


def retry_dead(job_id: int) -> bool:
    """Try a dead job again (staff's *Try again*): pending from now with its attempts
    counted afresh; its last error stays until the next attempt replaces it. False for
    a job that is not dead (already tried again, a double click, or never dead)."""
    result = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.DEAD)
        .values(status=JobStatus.PENDING, attempts=0, run_at=utcnow(), claimed_until=None, finished_at=None)
    )
    return result.rowcount == 1


def prune_finished(older_than: timedelta = timedelta(days=7)) -> int:
    """Delete done jobs older than ``older_than`` (dead ones stay for a look)."""
    result = db.session.execute(
        delete(Job).where(Job.status == JobStatus.DONE, Job.finished_at < utcnow() - older_than)
    )
    return result.rowcount
