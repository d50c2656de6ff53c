"""Which customers a staff member sees: the sight lines (account team, account
manager, a sales rep's own proposals), the organization filter every list uses, and
the organizations and contacts loaded through it.

- admin, manager: every organization and everything in it;
- technician, sales: the organizations of their sight lines; technicians only read
  organizations and contacts.

Sub-organizations are separate customers: a team on the parent does not open the
children.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import and_, or_, select, true, union

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization, organization_team
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal

SEE_ALL = ("admin", "manager")


def sees_everything(user: StaffUser) -> bool:
    return user.role in SEE_ALL


def _sight_lines():
    """Every (staff id, organization id) pair of "this person sees this customer" short
    of seeing everything: account team, account manager, and a sales rep's own
    proposals. The one statement of the rule; both directions read it."""
    return union(
        select(
            organization_team.c.staff_id.label("staff_id"), organization_team.c.organization_id.label("organization_id")
        ),
        select(Organization.account_manager_id, Organization.id).where(Organization.account_manager_id.is_not(None)),
        select(Proposal.sales_rep_id, Proposal.organization_id)
        .join(StaffUser, StaffUser.id == Proposal.sales_rep_id)
        .where(StaffUser.role == "sales"),
    ).subquery("sight_lines")


def visible_organization_ids(user: StaffUser):
    """A subquery of the organization ids this staff member may see (for ``in_``)."""
    lines = _sight_lines()
    return select(lines.c.organization_id).where(lines.c.staff_id == user.id)


def staff_seeing_organization(organization_id: int, keep_id: int | None = None) -> list[StaffUser]:
    """Enabled staff who may see the organization (and so work its tickets), by name,
    plus ``keep_id`` (a current assignee) whoever it is: the rule above, read from the
    organization's side."""
    lines = _sight_lines()
    condition = and_(
        StaffUser.is_enabled.is_(True),
        or_(
            StaffUser.role.in_(SEE_ALL),
            StaffUser.id.in_(select(lines.c.staff_id).where(lines.c.organization_id == organization_id)),
        ),
    )
    if keep_id is not None:
        condition = or_(condition, StaffUser.id == keep_id)
    return list(db.session.scalars(select(StaffUser).where(condition).order_by(StaffUser.name, StaffUser.id)))


def organization_filter(user: StaffUser, column=Organization.id):
    """A WHERE clause restricting ``column`` (an organization id) to what the user may see."""
    if sees_everything(user):
        return true()
    return column.in_(visible_organization_ids(user))


def staff_may_see_organization(user: StaffUser, organization_id: int) -> bool:
    if sees_everything(user):
        return True
    return (
        db.session.scalar(
            select(true()).where(organization_filter(user, Organization.id), Organization.id == organization_id)
        )
        is not None
    )


def staff_organizations_query(user: StaffUser):
    """The base query of organizations this staff member may list."""
    return select(Organization).where(organization_filter(user))


def staff_organization(user: StaffUser, organization_id: int, options=()) -> Organization:
    """An organization the staff member may see, or 404."""
    organization = db.session.get(Organization, organization_id, options=list(options))
    if organization is None or not staff_may_see_organization(user, organization_id):
        abort(404)
    return organization


def staff_visible_organization_ids(user: StaffUser, organization_ids) -> set[int]:
    """Which of these organizations the staff member may see (one query; none for
    those who see everything): for list columns that name another organization."""
    ids = {i for i in organization_ids if i}
    if not ids or sees_everything(user):
        return ids
    return set(db.session.scalars(select(Organization.id).where(Organization.id.in_(ids), organization_filter(user))))


def staff_may_create_organization(user: StaffUser) -> bool:
    """Adding customers is sales work: admins, managers and sales; technicians do not."""
    return user.is_enabled and user.role != "technician"


def staff_may_edit_organization(user: StaffUser, organization: Organization) -> bool:
    """Whether a staff member may change an organization (details, parent, billing,
    account team, active or not): anyone who may see it, except technicians, who only
    read. A view answers 404 when this is false, as for what one may not see."""
    if not user.is_enabled or user.role == "technician":
        return False
    return staff_may_see_organization(user, organization.id)


def staff_contacts_query(user: StaffUser):
    """The base query of contacts this staff member may list (those of visible organizations)."""
    return select(Contact).where(organization_filter(user, Contact.organization_id))


def staff_contact(user: StaffUser, contact_id: int, options=()) -> Contact:
    """A contact of an organization the staff member may see, or 404."""
    contact = db.session.get(Contact, contact_id, options=list(options))
    if contact is None or not staff_may_see_organization(user, contact.organization_id):
        abort(404)
    return contact


def staff_may_edit_contacts(user: StaffUser, organization: Organization) -> bool:
    """Whether a staff member may change the contacts of an organization: technicians
    only read; everyone else who may see the organization may edit."""
    if not user.is_enabled or user.role == "technician":
        return False
    return staff_may_see_organization(user, organization.id)
