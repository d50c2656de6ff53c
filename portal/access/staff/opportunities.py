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
from sqlalchemy import false, select, true, union
from sqlalchemy.orm import aliased

# Leads: their rule lives in ``portal.access.staff.leads`` (one copy), re-exported here.
from portal.access.staff.leads import lead_filter, staff_lead, staff_may_see_lead, staff_may_work_lead  # noqa: F401
from portal.access.staff.organizations import sees_everything, staff_may_see_organization, visible_organization_ids
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Opportunity


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
