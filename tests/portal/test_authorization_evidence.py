"""Who may fetch a certificate or see an evidence log (the authorization matrix reads
``CLASSIFIED``): the signer's own portal access, staff who may see the proposal; the
verify page is public. Everyone else gets a 404 that names nothing."""

from __future__ import annotations

import pytest

from tests.evidence_helpers import run_worker, sign_through_portal

CLASSIFIED = {
    ("verify.index", "GET"),
    ("verify.check", "POST"),
    ("proposals.certificate", "GET"),
    ("admin.evidence.show", "GET"),
    ("admin.evidence.certificate", "GET"),
}


@pytest.fixture
def signed(app, client, make):
    result = sign_through_portal(app, client, make)
    run_worker(app)
    return result


def test_another_contact_gets_a_404_for_the_certificate(app, make, open_link, signed):
    stranger = make.delivered()
    other = app.test_client()
    open_link(other, stranger.token)
    response = other.get(f"/p/proposals/{signed.proposal_id}/certificate.pdf")
    assert response.status_code == 404
    assert "Grounds care" not in response.get_data(as_text=True)
    assert response.mimetype != "application/pdf"


def test_a_browser_without_a_link_is_sent_to_sign_in(app, signed):
    response = app.test_client().get(f"/p/proposals/{signed.proposal_id}/certificate.pdf")
    assert response.status_code in (302, 303) and "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("path", ["certificate.pdf", "evidence"])
def test_staff_who_may_not_see_the_proposal_get_a_404(app, make, login, signed, path):
    outsider = make.staff(role="technician")
    staff_client = app.test_client()
    login(staff_client, outsider)
    response = staff_client.get(f"/admin/proposals/{signed.proposal_id}/{path}")
    assert response.status_code == 404
    assert signed.label not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["certificate.pdf", "evidence"])
def test_staff_routes_need_a_login(app, signed, path):
    response = app.test_client().get(f"/admin/proposals/{signed.proposal_id}/{path}")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]


def test_the_sales_rep_sees_the_evidence_log(app, make, login, signed):
    from portal.core.extensions import db
    from portal.domains.identity.models import StaffUser
    from portal.domains.proposals.models import Proposal

    with app.app_context():
        rep = db.session.get(StaffUser, db.session.get(Proposal, signed.proposal_id).sales_rep_id)
        db.session.expunge(rep)
    staff_client = app.test_client()
    login(staff_client, rep)
    response = staff_client.get(f"/admin/proposals/{signed.proposal_id}/evidence")
    assert response.status_code == 200 and "Intact" in response.get_data(as_text=True)
