"""Staff: a proposal's evidence log (with its check) and the certificate download."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from portal.access import staff_proposal
from portal.core.htmx import render_page
from portal.domains.proposals import evidence
from portal.domains.proposals.certificates import EVENT_LABELS, certificate_of
from portal.proposals.views import certificate_download

bp = Blueprint("evidence", __name__, url_prefix="/proposals")


@bp.get("/<int:proposal_id>/evidence")
def show(proposal_id: int):
    """The chain as stored, oldest first, and whether it is intact."""
    proposal = staff_proposal(current_user, proposal_id)
    certificate = certificate_of(proposal.id)
    return render_page(
        "admin/evidence/show.html",
        proposal=proposal,
        entries=evidence.entries_of(proposal.id),
        report=evidence.check_chain(proposal.id, certificate),
        certificate=certificate,
        labels=EVENT_LABELS,
    )


@bp.get("/<int:proposal_id>/certificate.pdf")
def certificate(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id)
    found = certificate_of(proposal.id)
    if found is None:
        return render_page("admin/evidence/no_certificate.html", status=404, proposal=proposal)
    return certificate_download(found.pdf, f"{proposal.label} certificate {found.public_id}.pdf")
