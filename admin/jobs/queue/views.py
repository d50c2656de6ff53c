"""The worker's jobs: what failed and waits for its next attempt, what the queue gave
up, and *Try again* for those. Admins and managers, as for the Outbox.

A job's payload names records (a campaign, a proposal); its last error is the
exception as the worker caught it, shown to staff only here (the pages the job serves
say in words what happened: a campaign's failed properties, its retry notice).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.access.staff import staff_may_see_jobs
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import parse_page
from portal.jobs import queue
from portal.jobs.models import Job, JobStatus

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
PAGE_SIZE = 30
# What the list shows: the jobs that need a look first (failed at least once and not
# done), then each status.
VIEWS = ("trouble", JobStatus.PENDING, JobStatus.DEAD, JobStatus.DONE)


@bp.before_request
def only_admins_and_managers():
    if not staff_may_see_jobs(current_user):
        abort(404)


def _filtered(view: str):
    stmt = select(Job).order_by(Job.id.desc())
    if view == "trouble":
        return stmt.where(Job.status != JobStatus.DONE, Job.last_error.is_not(None))
    return stmt.where(Job.status == view)


@bp.get("/")
def index():
    view = request.args.get("status") or "trouble"
    if view not in VIEWS:
        view = "trouble"
    page = parse_page(request.args.get("page"))
    rows = db.session.scalars(_filtered(view).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return render_page(
        "admin/jobs/index.html",
        jobs=rows[:PAGE_SIZE],
        has_next=len(rows) > PAGE_SIZE,
        page=page,
        view=view,
        views=VIEWS,
        max_attempts=queue.max_attempts(),
    )


@bp.post("/<int:job_id>/retry")
def retry(job_id: int):
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404)
    if not queue.retry_dead(job_id):
        db.session.rollback()
        flash(_("Job #%(id)s is not given up (it was tried again already, or is still on its way).", id=job_id), "info")
        return redirect_after_post(url_for(".index", status=JobStatus.DEAD))
    db.session.commit()
    flash(_("Job #%(id)s is tried again now.", id=job_id), "success")
    return redirect_after_post(url_for(".index", status=JobStatus.DEAD))
