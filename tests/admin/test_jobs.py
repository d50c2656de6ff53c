"""The background jobs page: what needs a look first (failed and not done), each status,
and Try again for a job the queue gave up (once, however often it is pressed)."""

from __future__ import annotations

from sqlalchemy import update

from portal.core.extensions import db
from portal.jobs import enqueue
from portal.jobs.models import Job, JobStatus
from tests.campaign_factories import jobs_named, work_off

HX = {"HX-Request": "true"}


def dead_job(app, name: str = "test.record", error: str = "RuntimeError('broke')", **payload) -> int:
    """A committed job the queue gave up, with ``error`` as its last error; its id."""
    import tests.jobs.handlers  # noqa: F401 (registers the test.* handlers)

    with app.app_context():
        enqueue(name, **(payload or {"label": "from the jobs page"}))
        db.session.flush()
        job = db.session.query(Job).order_by(Job.id.desc()).first()
        db.session.execute(
            update(Job).where(Job.id == job.id).values(status=JobStatus.DEAD, attempts=8, last_error=error)
        )
        db.session.commit()
        return job.id


def _admin(client, make, login):
    login(client, make.staff(role="admin"))
    return client


def test_the_page_shows_what_needs_a_look_first_then_each_status(app, make, client, login):
    _admin(client, make, login)
    dead = dead_job(app, error="RuntimeError('the disk is full')")
    with app.app_context():
        enqueue("test.record", label="fine")
        db.session.commit()
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert f'id="job-{dead}"' in page and "the disk is full" in page and f'id="retry-{dead}"' in page
    assert page.count('<tr id="job-') == 1  # the waiting job without an error is not trouble
    assert client.get("/admin/jobs/?status=pending").get_data(as_text=True).count('<tr id="job-') == 1
    assert "No jobs here." in client.get("/admin/jobs/?status=done").get_data(as_text=True)
    for odd in ("?status=nonsense", "?page=x", "?page=99999999999", "?status=%00"):
        assert client.get(f"/admin/jobs/{odd}").status_code == 200


def test_try_again_runs_a_given_up_job_once(app, make, client, login):
    from tests.jobs import handlers

    _admin(client, make, login)
    job_id = dead_job(app)
    handlers.CALLS.clear()
    first, second = (client.post(f"/admin/jobs/{job_id}/retry", follow_redirects=True) for _ in range(2))
    assert f"Job #{job_id} is tried again now." in first.get_data(as_text=True)
    assert f"Job #{job_id} is not given up" in second.get_data(as_text=True)  # a double click: once
    (job,) = [j for j in jobs_named(app, "test.record") if j.id == job_id]
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    work_off(app)
    assert handlers.CALLS == ["from the jobs page"]
    (job,) = [j for j in jobs_named(app, "test.record") if j.id == job_id]
    assert job.status == JobStatus.DONE
    again = client.post(f"/admin/jobs/{job_id}/retry", follow_redirects=True)
    assert "is not given up" in again.get_data(as_text=True)
    assert client.post("/admin/jobs/999999/retry").status_code == 404
    handlers.CALLS.clear()
