"""Which opportunities (and leads) a staff member sees and changes.

- admin, manager: all;
- sales: their own (``rep_id``) plus those of the organizations they see (account
  team, account manager: ``organizations.visible_organization_ids``); they change
  what they see;
- technician: only those of organizations whose account team includes them, and
  only to read.

Anything else is a 404, with no hint that it exists. An opportunity from a lead (no
organization yet) is seen by its rep and by those who see everything.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import false, or_, select, true, union
from sqlalchemy.orm import aliased

from portal.access.staff.organizations import sees_everything, staff_may_see_organization, visible_organization_ids
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Lead, Opportunity


def opportunity_filter(user: StaffUser):
    """A WHERE clause restricting opportunities to what the user may see."""
    if not user.is_enabled:
        return false()
    if sees_everything(user):
        return true()
    if user.role != "sales":
        return Opportunity.organization_id.in_(visible_organization_ids(user))
    # Own or of a customer they see, as a union of two index lookups: an OR of the two
    # made both engines scan the table at 100,000 rows (scripts/bench_sales.py).
    mine, theirs = aliased(Opportunity), aliased(Opportunity)
    return Opportunity.id.in_(
        union(
            select(mine.id).where(mine.rep_id == user.id),
            select(theirs.id).where(theirs.organization_id.in_(visible_organization_ids(user))),
        )
    )


def staff_opportunities_query(user: StaffUser):
    """The base query of opportunities this staff member may list (board, list, CSV)."""
    return select(Opportunity).where(opportunity_filter(user))


def staff_may_see_opportunity(user: StaffUser, opportunity: Opportunity) -> bool:
    if not user.is_enabled:
        return False
    if sees_everything(user) or (user.role == "sales" and opportunity.rep_id == user.id):
        return True
    return opportunity.organization_id is not None and staff_may_see_organization(user, opportunity.organization_id)


def staff_may_work_opportunity(user: StaffUser, opportunity: Opportunity) -> bool:
    """Change it (edit, move on the board, make a proposal, mark lost, reopen): anyone
    who sees it except technicians, who only read."""
    return user.role != "technician" and staff_may_see_opportunity(user, opportunity)


def staff_may_create_opportunity(user: StaffUser) -> bool:
    """Opening opportunities (and leads) is sales work: everyone but technicians."""
    return user.is_enabled and user.role != "technician"


def staff_may_edit_sales_lists(user: StaffUser) -> bool:
    """Stages, types, sources, lost reasons and competitors: admins edit them."""
    return user.is_enabled and user.role == "admin"


def staff_may_see_sales_lists(user: StaffUser) -> bool:
    """Managers read the lists' setup pages; admins edit them."""
    return user.is_enabled and sees_everything(user)


def staff_opportunity(user: StaffUser, opportunity_id: int, options=(), work: bool = False) -> Opportunity:
    """An opportunity the staff member may see (and with ``work``, change), or 404."""
    opportunity = db.session.get(Opportunity, opportunity_id, options=list(options))
    if opportunity is None or not staff_may_see_opportunity(user, opportunity):
        abort(404)
    if work and not staff_may_work_opportunity(user, opportunity):
        abort(404)
    return opportunity


# --- leads: the same rule, a lead's organization being the one it converted into ---


def lead_filter(user: StaffUser):
    """A WHERE clause restricting leads: all for admins and managers; for sales their
    own, unassigned open ones (someone has to pick them up) and those converted into an
    organization they see; technicians none but the ones of their organizations."""
    if not user.is_enabled:
        return false()
    if sees_everything(user):
        return true()
    clause = Lead.organization_id.in_(visible_organization_ids(user))
    if user.role == "sales":
        clause = or_(clause, Lead.rep_id == user.id, Lead.rep_id.is_(None))
    return clause


def staff_may_see_lead(user: StaffUser, lead: Lead) -> bool:
    if not user.is_enabled:
        return False
    if sees_everything(user) or (user.role == "sales" and lead.rep_id in (None, user.id)):
        return True
    return lead.organization_id is not None and staff_may_see_organization(user, lead.organization_id)


def staff_may_work_lead(user: StaffUser, lead: Lead) -> bool:
    return user.role != "technician" and staff_may_see_lead(user, lead)


def staff_lead(user: StaffUser, lead_id: int, options=(), work: bool = False) -> Lead:
    """A lead the staff member may see (and with ``work``, change), or 404."""
    lead = db.session.get(Lead, lead_id, options=list(options))
    if lead is None or not staff_may_see_lead(user, lead):
        abort(404)
    if work and not staff_may_work_lead(user, lead):
        abort(404)
    return lead
