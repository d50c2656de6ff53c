"""Faults: the database going away under the worker and under a request, and a worker
killed with SIGKILL in the middle of a job."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from portal.core.extensions import db
from portal.jobs import enqueue
from portal.jobs.models import Job, JobStatus
from portal.jobs.registry import SCHEDULE
from portal.jobs.worker import work
from tests.jobs import handlers

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def database_down(app, statements: int | None = None):
    """Every statement (or the next ``statements``) fails as when the server restarts."""
    with app.app_context():
        engine = db.engine
    left = {"n": statements}

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if left["n"] is None or left["n"] > 0:
            if left["n"] is not None:
                left["n"] -= 1
            raise OperationalError(statement, parameters, Exception("server closed the connection unexpectedly"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def _wait_for(predicate, timeout: float = 30.0, every: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def _job(app, name: str) -> Job | None:
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.name == name))
        if job is not None:
            db.session.expunge(job)
        db.session.remove()
        return job


def test_the_worker_logs_a_database_outage_waits_and_goes_on(app, caplog, monkeypatch):
    monkeypatch.setattr("portal.jobs.queue.SCHEDULE", {})
    handlers.CALLS.clear()
    with app.app_context():
        enqueue("test.record", label="after the outage")
        db.session.commit()
        db.session.remove()
    stop = threading.Event()
    caplog.set_level(logging.WARNING, logger="portal.jobs")

    def run():
        with app.app_context():
            work(stop=stop, idle=0.05, retry_wait=0.05)

    with database_down(app, statements=3):
        worker = threading.Thread(target=run)
        worker.start()
        try:
            assert _wait_for(lambda: "after the outage" in handlers.CALLS)
        finally:
            stop.set()
            worker.join(timeout=30)
    assert not worker.is_alive()
    assert "database unavailable" in caplog.text
    assert "server closed the connection unexpectedly" in caplog.text
    assert _job(app, "test.record").status == JobStatus.DONE
    handlers.CALLS.clear()


def test_a_request_during_a_database_restart_gets_503_with_a_retry_page(app, client, make, login):
    staff = make.staff(role="admin")
    staff_client = app.test_client()
    login(staff_client, staff)
    with database_down(app):
        for test_client, url in ((client, "/l/some-link-token"), (staff_client, "/admin/tickets/")):
            response = test_client.get(url)
            assert response.status_code == 503, url
            assert response.headers["Retry-After"] == "5"
            assert "try again in a few seconds" in response.get_data(as_text=True)
    assert staff_client.get("/admin/tickets/").status_code == 200  # and once it is back, all is well


def _start_worker(app, log: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        PORCHLIGHT_TEST_DB=app.config["SQLALCHEMY_DATABASE_URI"],
        PORCHLIGHT_TEST_LEASE="2",
        PYTHONPATH=str(ROOT),
    )
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tests.jobs.worker_app:create", "worker", "--idle", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _stop(process: subprocess.Popen, log: Path) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return log.read_text(errors="replace")


def test_a_job_of_a_worker_killed_mid_run_is_done_once_by_the_next_worker(app, tmp_path):
    """A real ``flask worker`` process, SIGKILLed inside a job: after the lease runs out
    the next worker takes the job again, and the (idempotent) handler finishes it once."""
    assert SCHEDULE  # the real schedule runs too, as in production
    with app.app_context():
        enqueue("test.slow_once", key="slow-once", folder=str(tmp_path), seconds=120)
        db.session.commit()
        db.session.remove()
    log = tmp_path / "worker.log"
    first = _start_worker(app, log)
    try:
        assert _wait_for(lambda: (tmp_path / "starts").exists(), timeout=60), _stop(first, log)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    claimed = _job(app, "test.slow_once")
    assert (claimed.status, claimed.attempts) == (JobStatus.PENDING, 1)
    assert not (tmp_path / "done").exists()

    second = _start_worker(app, log)
    try:
        finished = _wait_for(lambda: _job(app, "test.slow_once").status == JobStatus.DONE, timeout=60)
    finally:
        output = _stop(second, log)
    assert finished, output
    job = _job(app, "test.slow_once")
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert (tmp_path / "starts").read_text().count("start") == 2
    assert (tmp_path / "done").read_text().count("done") == 1
    assert second.returncode == 0, output  # SIGTERM: the worker finished its pass and left


def test_an_unexpected_error_in_a_pass_is_logged_and_the_worker_goes_on(app, caplog, monkeypatch):
    from portal.jobs import worker as worker_module

    real_pass = worker_module.run_pass
    calls = {"n": 0}
    stop = threading.Event()

    def flaky_pass(me, stop_event=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in one pass")
        stop.set()
        return real_pass(me, stop_event)

    monkeypatch.setattr(worker_module, "run_pass", flaky_pass)
    monkeypatch.setattr("portal.jobs.queue.SCHEDULE", {})
    caplog.set_level(logging.WARNING, logger="portal.jobs")
    with app.app_context():
        work(stop=stop, idle=0.05, retry_wait=0.05)
    assert calls["n"] == 2
    assert "worker pass failed" in caplog.text and "a bug in one pass" in caplog.text
