"""Who gets the background jobs page and its Try again: admins and managers; sales,
technicians and disabled staff get a 404 that says nothing; a visitor is sent to
sign in."""

from __future__ import annotations

import pytest

from tests.admin.test_jobs import dead_job

CLASSIFIED = {("admin.jobs.index", "GET"), ("admin.jobs.retry", "POST")}


@pytest.mark.parametrize(
    ("role", "allowed"), [("admin", True), ("manager", True), ("sales", False), ("technician", False)]
)
def test_each_role_gets_the_jobs_page_or_a_404(app, make, client, login, role, allowed):
    job_id = dead_job(app, error="RuntimeError('the disk is full')")
    login(client, make.staff(role=role))
    page = client.get("/admin/jobs/")
    assert page.status_code == (200 if allowed else 404)
    assert ("the disk is full" in page.get_data(as_text=True)) == allowed
    assert ('href="/admin/jobs/"' in client.get("/admin/proposals/").get_data(as_text=True)) == allowed  # the nav
    retried = client.post(f"/admin/jobs/{job_id}/retry")
    assert retried.status_code == (303 if allowed else 404)


def test_a_disabled_manager_and_a_visitor_get_nothing(app, make, client, login):
    from portal.core.extensions import db
    from portal.domains.identity.models import StaffUser

    job_id = dead_job(app)
    manager = make.staff(role="manager")
    login(client, manager)
    with app.app_context():
        db.session.get(StaffUser, manager.id).is_enabled = False
        db.session.commit()
    for test_client in (client, app.test_client()):  # the disabled manager, a visitor
        response = test_client.get("/admin/jobs/")
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
        refused = test_client.post(f"/admin/jobs/{job_id}/retry")
        assert refused.status_code in (302, 400) and b"gave" not in refused.data
    with app.app_context():
        from portal.jobs.models import Job

        assert db.session.get(Job, job_id).status == "dead"  # nobody tried it again
