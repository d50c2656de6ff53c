"""The mail that tickets cause, all through the outbox.

Contacts get a portal link to the ticket (a fresh link each time, bound to them and
to that ticket); staff get the admin URL. Internal notes never come here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.customers.languages import mail_for_contact
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity import links
from portal.domains.identity.models import StaffUser
from portal.domains.identity.staff import mail_for_staff
from portal.domains.service_desk.models import Ticket, TicketMessage
from portal.mail.outbox import queue_mail


def _contact_link(ticket: Ticket, contact: Contact) -> str | None:
    """A fresh portal link to the ticket, or None for a contact without portal access
    (a customer who calls in rather than uses the portal): their mail says so."""
    if not contact.has_portal_access:
        return None
    issued = links.issue_link(contact, "ticket", ticket.id)
    return external_url("links.open", token=issued.token)


def _staff_url(ticket: Ticket) -> str:
    return external_url("admin.tickets.show", ticket_id=ticket.id)


def _watchers(ticket: Ticket) -> list[StaffUser]:
    """Who hears of the customer's side: the assignee, else the account manager."""
    staff_id = ticket.assignee_id
    if staff_id is None:
        staff_id = db.session.get(Organization, ticket.organization_id).account_manager_id
    user = db.session.get(StaffUser, staff_id) if staff_id else None
    return [user] if user is not None and user.is_enabled else []


def ticket_opened(
    ticket: Ticket, contact: Contact, organization: Organization, opened_by: StaffUser | None = None
) -> None:
    """The contact's receipt (with a portal link when they have portal access), and
    word to the assignee or account manager, unless they opened it themselves."""
    url = _contact_link(ticket, contact)
    queue_mail(
        contact.email,
        _l("We received your ticket %(number)s: %(title)s", number=ticket.number, title=ticket.title),
        "ticket_opened",
        kind="ticket_opened",
        **mail_for_contact(contact),
        ticket=ticket,
        contact=contact,
        url=url,
    )
    for user in _watchers(ticket):
        if opened_by is not None and user.id == opened_by.id:
            continue
        queue_mail(
            user.email,
            _l(
                "New ticket %(number)s from %(organization)s: %(title)s",
                number=ticket.number,
                organization=organization.name,
                title=ticket.title,
            ),
            "ticket_new_for_staff",
            kind="ticket_new",
            **mail_for_staff(user),
            ticket=ticket,
            contact=contact,
            organization=organization,
            user=user,
            url=_staff_url(ticket),
        )


def staff_replied(ticket: Ticket, message: TicketMessage) -> None:
    """A public staff reply, mailed to the ticket's contact (never called for notes)."""
    assert message.is_public, "internal notes are never mailed to a contact"
    contact = db.session.get(Contact, ticket.contact_id)
    if not contact.is_active:
        return
    author = db.session.get(StaffUser, message.author_staff_id)
    queue_mail(
        contact.email,
        _l("Re: %(title)s [%(number)s]", title=ticket.title, number=ticket.number),
        "ticket_staff_reply",
        kind="ticket_reply",
        **mail_for_contact(contact),
        ticket=ticket,
        contact=contact,
        author=author,
        message=message,
        url=_contact_link(ticket, contact),
    )


def contact_replied(ticket: Ticket, contact: Contact, message: TicketMessage) -> None:
    for user in _watchers(ticket):
        queue_mail(
            user.email,
            _l(
                "%(name)s replied on %(number)s: %(title)s",
                name=contact.full_name,
                number=ticket.number,
                title=ticket.title,
            ),
            "ticket_contact_reply",
            kind="ticket_contact_reply",
            **mail_for_staff(user),
            ticket=ticket,
            contact=contact,
            message=message,
            user=user,
            url=_staff_url(ticket),
        )


def contact_reopened(ticket: Ticket, contact: Contact) -> None:
    for user in _watchers(ticket):
        queue_mail(
            user.email,
            _l(
                "%(name)s reopened %(number)s: %(title)s",
                name=contact.full_name,
                number=ticket.number,
                title=ticket.title,
            ),
            "ticket_reopened",
            kind="ticket_reopened",
            **mail_for_staff(user),
            ticket=ticket,
            contact=contact,
            user=user,
            url=_staff_url(ticket),
        )


def ticket_assigned(ticket: Ticket, assignee: StaffUser, by: StaffUser) -> None:
    queue_mail(
        assignee.email,
        _l("%(name)s assigned you %(number)s: %(title)s", name=by.name, number=ticket.number, title=ticket.title),
        "ticket_assigned",
        kind="ticket_assigned",
        **mail_for_staff(assignee),
        ticket=ticket,
        user=assignee,
        by=by,
        url=_staff_url(ticket),
    )
