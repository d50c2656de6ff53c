"""What a staff member may see in the admin area, decided here and nowhere else.

- admin, manager: every organization and everything in it;
- technician: the organizations whose account team includes them (or that they
  manage as account manager). Technicians only read sales work and customer records
  (proposals, organizations, contacts) and work the tickets of the customers they see
  (reply, internal note, status, priority, assignment): ``staff_may_work_ticket``;
- sales: the same, plus the organizations of their own proposals (the proposals
  stand in for opportunities until those exist), and their own proposals.

Anything else is a 404, with no hint that it exists. Sub-organizations are separate
customers: a team on the parent does not open the children.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import and_, false, or_, select, true, union

from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization, organization_team
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.proposals.operations import load_proposal
from portal.domains.service_desk.models import Ticket

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


def staff_contact(user: StaffUser, contact_id: int, options=()) -> Contact:
    """A contact of an organization the staff member may see, or 404."""
    contact = db.session.get(Contact, contact_id, options=list(options))
    if contact is None or not staff_may_see_organization(user, contact.organization_id):
        abort(404)
    return contact


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


def staff_contacts_query(user: StaffUser):
    """The base query of contacts this staff member may list (those of visible organizations)."""
    return select(Contact).where(organization_filter(user, Contact.organization_id))


def staff_may_edit_contacts(user: StaffUser, organization: Organization) -> bool:
    """Whether a staff member may change the contacts of an organization: technicians
    only read; everyone else who may see the organization may edit."""
    if not user.is_enabled or user.role == "technician":
        return False
    return staff_may_see_organization(user, organization.id)


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


# --- tickets: everyone who may see a customer works its tickets (technicians too) ---


def ticket_filter(user: StaffUser):
    """A WHERE clause restricting tickets to the organizations the user may see."""
    return organization_filter(user, Ticket.organization_id)


def staff_tickets_query(user: StaffUser):
    """The base query of the ticket queue for this staff member."""
    return select(Ticket).where(ticket_filter(user))


def staff_workable_tickets_query(user: StaffUser):
    """The tickets this staff member may change, as a query (bulk actions): the list form
    of ``staff_may_work_ticket``."""
    return select(Ticket).where(ticket_filter(user)) if user.is_enabled else select(Ticket).where(false())


def staff_may_see_ticket(user: StaffUser, ticket: Ticket) -> bool:
    return user.is_enabled and staff_may_see_organization(user, ticket.organization_id)


def staff_may_work_ticket(user: StaffUser, ticket: Ticket) -> bool:
    """Whether a staff member may change a ticket: reply, add an internal note, change its
    status or priority, take it or assign it. Everyone who may see the customer works
    its tickets, technicians included (the desk is their job); what technicians may not
    change is sales work and customer records (``staff_may_sell``,
    ``staff_may_edit_organization``, ``staff_may_edit_contacts``)."""
    return staff_may_see_ticket(user, ticket)


def staff_ticket(user: StaffUser, ticket_id: int, options=(), work: bool = False) -> Ticket:
    """A ticket the staff member may see (and with ``work``, change), or 404."""
    ticket = db.session.get(Ticket, ticket_id, options=list(options))
    if ticket is None or not staff_may_see_ticket(user, ticket):
        abort(404)
    if work and not staff_may_work_ticket(user, ticket):
        abort(404)
    return ticket


def staff_visible_organization_ids(user: StaffUser, organization_ids) -> set[int]:
    """Which of these organizations the staff member may see (one query; none for
    those who see everything): for list columns that name another organization."""
    ids = {i for i in organization_ids if i}
    if not ids or sees_everything(user):
        return ids
    return set(db.session.scalars(select(Organization.id).where(Organization.id.in_(ids), organization_filter(user))))


def staff_may_configure_service(user: StaffUser) -> bool:
    """SLAs, calendars, statuses and issue types are set up by admins and managers."""
    return user.is_enabled and sees_everything(user)


# --- what templates ask: ``can("configure_service")`` instead of comparing roles ---


def staff_may_see_outbox(user: StaffUser) -> bool:
    return user.is_enabled and sees_everything(user)


def staff_may_see_reports(user: StaffUser) -> bool:
    return user.is_enabled and sees_everything(user)


_ABILITIES = {
    "sell": lambda user, _obj: staff_may_sell(user),
    "see_outbox": lambda user, _obj: staff_may_see_outbox(user),
    "see_reports": lambda user, _obj: staff_may_see_reports(user),
    "configure_service": lambda user, _obj: staff_may_configure_service(user),
    "create_organization": lambda user, _obj: staff_may_create_organization(user),
    "edit_organization": lambda user, obj: staff_may_edit_organization(user, obj),
    "edit_contacts": lambda user, obj: staff_may_edit_contacts(user, obj),
    "see_organization": lambda user, obj: staff_may_see_organization(user, obj.id),
    "work_ticket": lambda user, obj: staff_may_work_ticket(user, obj),
}


def staff_can(user: StaffUser, ability: str, obj=None) -> bool:
    """The one entry point templates use (as ``can``); an unknown ability is a bug."""
    return bool(user.is_authenticated and _ABILITIES[ability](user, obj))
