"""Which leads a staff member sees and works (issue 9, Access).

- admin, manager: every lead;
- sales: the leads they own, the unassigned ones (so that anyone in sales can pick a
  new request up), and those of organizations on their sight lines (account team,
  account manager: ``visible_organization_ids``);
- technician: none (leads are sales work before they are customers).

Anything else is a 404, with no hint that it exists.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import false, or_, select, true

from portal.access.staff.organizations import sees_everything, visible_organization_ids
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Lead


def staff_may_work_leads(user: StaffUser) -> bool:
    """Typing, listing and converting leads: everyone but technicians."""
    return bool(user.is_authenticated and user.is_enabled and user.role != "technician")


def lead_filter(user: StaffUser):
    """A WHERE clause restricting leads to those the user may see."""
    if not staff_may_work_leads(user):
        return false()
    if sees_everything(user):
        return true()
    return or_(
        Lead.rep_id == user.id,
        Lead.rep_id.is_(None),
        Lead.organization_id.in_(visible_organization_ids(user)),
    )


def staff_leads_query(user: StaffUser):
    """The base query of the leads list for this staff member."""
    return select(Lead).where(lead_filter(user))


def staff_may_see_lead(user: StaffUser, lead: Lead) -> bool:
    if not staff_may_work_leads(user):
        return False
    if sees_everything(user) or lead.rep_id in (None, user.id):
        return True
    if lead.organization_id is None:
        return False
    return (
        db.session.scalar(select(true()).where(Lead.id == lead.id, lead_filter(user))) is not None  # the one rule
    )


def staff_may_work_lead(user: StaffUser, lead: Lead) -> bool:
    """Convert or discard it: whoever may see it (technicians see none)."""
    return staff_may_see_lead(user, lead)


def staff_lead(user: StaffUser, lead_id: int, options=(), work: bool = False) -> Lead:
    """A lead the staff member may see (and so work: ``work`` changes nothing, as
    everyone who sees a lead may work it), or 404."""
    if not staff_may_work_leads(user):
        abort(404)
    lead = db.session.get(Lead, lead_id, options=list(options))
    if lead is None or not staff_may_see_lead(user, lead):
        abort(404)
    return lead
