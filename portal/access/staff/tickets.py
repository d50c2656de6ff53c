"""Which tickets a staff member sees and works: everyone who may see a customer works
its tickets (technicians too)."""

from __future__ import annotations

from flask import abort
from sqlalchemy import false, select

from portal.access.staff.organizations import organization_filter, staff_may_see_organization
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk.models import Ticket


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
