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
from sqlalchemy import false, or_, select, true

# Leads: their rule lives in ``portal.access.staff.leads`` (one copy), re-exported here.
from portal.access.staff.leads import lead_filter, staff_lead, staff_may_see_lead, staff_may_work_lead  # noqa: F401
from portal.access.staff.organizations import sees_everything, staff_may_see_organization, visible_organization_ids
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Opportunity

# Up to this many visible organizations are inlined in the filter as a list of ids; more
# (an unusual account-team load) keep the subquery form.
INLINE_ORGANIZATIONS = 500


def _visible_organization_list(user: StaffUser) -> list[int] | None:
    """The ids of the organizations the user sees through sight lines, read once (one
    small statement), or None when there are more than ``INLINE_ORGANIZATIONS``."""
    ids = list(db.session.scalars(visible_organization_ids(user).limit(INLINE_ORGANIZATIONS + 1)))
    return ids if len(ids) <= INLINE_ORGANIZATIONS else None


def opportunity_filter_parts(user: StaffUser) -> list:
    """The rule as a list of WHERE clauses, an opportunity is seen when any one holds
    (an empty list: none): all of them for admins and managers; their own and those of
    the organizations they see for sales; those organizations for technicians.

    The organizations' ids are read first and inlined, so each part is an index range
    (``rep_id = 7``; ``organization_id IN (28, 29, 30)``) that a query can combine
    with a stage or a sort: the board takes each column's newest cards per part (two
    index ranges of 50), the rest OR them (``opportunity_filter``). An IN over the
    sight-line subquery made PostgreSQL hash it and scan the whole table, and the
    earlier ``id IN (a UNION of the two)`` ran again for each board column (a rep's
    board: 177 ms at 100,000 rows, scripts/bench_sales.py)."""
    if not user.is_enabled:
        return []
    if sees_everything(user):
        return [true()]
    organizations = _visible_organization_list(user)
    if organizations is None:  # too many to inline
        theirs = Opportunity.organization_id.in_(visible_organization_ids(user))
    else:
        theirs = Opportunity.organization_id.in_(organizations) if organizations else None
    parts = [Opportunity.rep_id == user.id] if user.role == "sales" else []
    return parts + ([theirs] if theirs is not None else [])


def opportunity_filter(user: StaffUser, parts: list | None = None):
    """A WHERE clause restricting opportunities to what the user may see (the OR of
    ``opportunity_filter_parts``, which a caller that has them passes)."""
    parts = opportunity_filter_parts(user) if parts is None else parts
    if not parts:
        return false()
    return parts[0] if len(parts) == 1 else or_(*parts)


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
