"""The jobs table: enqueue in the change's transaction, one job per key, claims with a
lease renewed while a job runs, retries with backoff, then the dead state."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.jobs import enqueue, queue
from portal.jobs.models import Job, JobStatus
from portal.jobs.registry import SCHEDULE, periodic
from portal.jobs.worker import run_pass
from tests.factories import make_jobs_due
from tests.jobs import handlers


@pytest.fixture(autouse=True)
def _calls():
    """No calls recorded, and no periodic job on the schedule but the test's own."""
    handlers.CALLS.clear()
    saved = dict(SCHEDULE)
    SCHEDULE.clear()
    yield
    SCHEDULE.clear()
    SCHEDULE.update(saved)
    handlers.CALLS.clear()


def _jobs(app) -> list[Job]:
    with app.app_context():
        rows = list(db.session.scalars(select(Job).order_by(Job.id)))
        db.session.expunge_all()
        db.session.remove()
        return rows


def _enqueue(app, name: str, key: str | None = None, **payload) -> None:
    with app.app_context():
        enqueue(name, key=key, **payload)
        db.session.commit()
        db.session.remove()


def _pass(app, me: str = "w1"):
    with app.app_context():
        try:
            return run_pass(me)
        finally:
            db.session.remove()


def test_the_same_key_enqueued_twice_is_one_job_run_once(app):
    _enqueue(app, "test.record", key="invoice:7", label="a")
    _enqueue(app, "test.record", key="invoice:7", label="a")
    assert len(_jobs(app)) == 1
    assert _pass(app).jobs == 1
    assert _pass(app).jobs == 0
    assert handlers.CALLS == ["a"]
    (job,) = _jobs(app)
    assert (job.status, job.attempts, job.claimed_until) == (JobStatus.DONE, 1, None)


def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(app):
    with app.app_context():
        enqueue("test.record", label="never")
        db.session.rollback()
        db.session.remove()
    assert _jobs(app) == []


def test_a_failing_job_is_retried_with_growing_backoff_then_dead(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_MAX_ATTEMPTS", 3)
    _enqueue(app, "test.fail", label="x")
    delays = []
    for _ in range(3):
        make_jobs_due(app)
        started = utcnow()
        assert _pass(app).failed == 1
        (job,) = _jobs(app)
        delays.append((job.run_at - started).total_seconds())
    (job,) = _jobs(app)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 3)
    assert "x broke" in job.last_error
    assert delays[0] < delays[1]  # the third is the dead state: run_at no longer moves
    assert handlers.CALLS == ["x", "x", "x"]


def test_a_long_job_keeps_its_lease_so_a_second_worker_never_takes_it(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_LEASE_SECONDS", 0.6)
    _enqueue(app, "test.sleep", label="long", seconds=2.0)
    taken_by_second: list = []

    def second_worker():
        with app.app_context():
            end = time.monotonic() + 2.5
            while time.monotonic() < end:
                taken_by_second.append(queue.claim_next("w2"))
                db.session.remove()
                time.sleep(0.1)

    first = threading.Thread(target=_pass, args=(app, "w1"))
    first.start()
    time.sleep(0.2)
    second = threading.Thread(target=second_worker)
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)
    assert set(taken_by_second) == {None}
    assert handlers.CALLS == ["start long", "end long"]
    (job,) = _jobs(app)
    assert (job.status, job.attempts, job.claimed_by) == (JobStatus.DONE, 1, "w1")


def test_two_workers_scheduling_the_same_slot_make_one_job(app, monkeypatch):
    periodic("test.periodic", every=timedelta(hours=1))(lambda: handlers.CALLS.append("tick"))
    try:
        barrier = threading.Barrier(2)

        def schedule():
            with app.app_context():
                barrier.wait(timeout=10)
                queue.schedule_periodic()
                db.session.remove()

        threads = [threading.Thread(target=schedule) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        with app.app_context():
            count = db.session.scalar(select(func.count()).select_from(Job).where(Job.name == "test.periodic"))
        assert count == 1
        _pass(app, "w1")
        _pass(app, "w2")
        assert handlers.CALLS.count("tick") == 1
    finally:
        SCHEDULE.pop("test.periodic", None)


def test_a_job_whose_workers_keep_dying_goes_dead_once_instead_of_looping(app, monkeypatch):
    """A job that kills its worker (out of memory, say) is not taken again forever; it is
    given up once, and its on_dead hook runs once."""
    monkeypatch.setitem(app.config, "JOBS_MAX_ATTEMPTS", 2)
    _enqueue(app, "test.record_noted", key="killer", label="never again")
    with app.app_context():
        db.session.execute(
            update(Job).values(attempts=2, claimed_by="gone", claimed_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert queue.claim_next("w1") is None
        assert queue.claim_next("w1") is None
        db.session.remove()
    (job,) = _jobs(app)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)
    assert "stopped" in job.last_error
    assert handlers.CALLS == ["dead never again"]  # the hook, once; never the handler


def test_a_job_given_up_after_its_last_failure_calls_its_on_dead_hook_once(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_MAX_ATTEMPTS", 2)
    _enqueue(app, "test.fail_noted", label="x")
    for _ in range(3):  # two attempts, then nothing is due any more
        make_jobs_due(app)
        _pass(app)
    (job,) = _jobs(app)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)
    assert handlers.CALLS == ["x", "x", "dead x"]


def test_an_on_dead_hook_that_fails_is_logged_and_the_job_is_given_up_all_the_same(app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "JOBS_MAX_ATTEMPTS", 1)
    _enqueue(app, "test.fail_bad_hook", label="y")
    _pass(app)
    (job,) = _jobs(app)
    assert job.status == JobStatus.DEAD and "y broke" in job.last_error
    assert handlers.CALLS == ["hook y"]
    assert "its on_dead hook failed" in caplog.text
