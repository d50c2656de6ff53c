"""Which proposals a staff member sees and changes: those of the customers they see,
and a sales rep's own; technicians follow sales work but do not change it."""

from __future__ import annotations

from flask import abort
from sqlalchemy import or_, select, true

from portal.access.staff.organizations import sees_everything, staff_may_see_organization, visible_organization_ids
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.proposals.operations import load_proposal


def proposal_filter(user: StaffUser):
    if sees_everything(user):
        return true()
    clause = Proposal.organization_id.in_(visible_organization_ids(user))
    if user.role == "sales":
        clause = or_(clause, Proposal.sales_rep_id == user.id)
    return clause


def staff_may_see_proposal(user: StaffUser, proposal: Proposal) -> bool:
    if not user.is_enabled:
        return False
    if sees_everything(user) or (user.role == "sales" and proposal.sales_rep_id == user.id):
        return True
    return staff_may_see_organization(user, proposal.organization_id)


def staff_proposals_query(user: StaffUser):
    """The base query of proposals this staff member may list."""
    return select(Proposal).where(proposal_filter(user))


def staff_may_sell(user: StaffUser) -> bool:
    """Creating and changing proposals is sales work: everyone but technicians."""
    return user.is_enabled and user.role != "technician"


def staff_proposal(user: StaffUser, proposal_id: int, edit: bool = False) -> Proposal:
    """A proposal the staff member may see (and with ``edit``, change), or 404.

    Technicians follow the sales work of their customers but do not change it.
    """
    proposal = load_proposal(proposal_id)
    if proposal is None or not staff_may_see_proposal(user, proposal):
        abort(404)
    if edit and not staff_may_sell(user):
        abort(404)
    return proposal
