"""What the portal's ticket pages read: the list rows, the public conversation, the
attachments a contact may download (the SLA clocks are ``clocks.py``'s).

The rules that keep staff-only things away from a contact live here, not in the
templates: the conversation is the ticket's public replies only (never an internal
note, never a timeline event), and an attachment is served only when its message is
one of those replies. List rows are built from an allow-list of columns, so the list
costs the same few queries for 3 or 3,000 tickets and cannot lazy-load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from portal.core.extensions import db
from portal.core.queries import keyset
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import PortalLink
from portal.domains.service_desk.models import (
    MessageKind,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketState,
    TicketStatus,
)

LIST_LIMIT = 50
SHOWS = ("open", "closed", "all")


# --- the list ----------------------------------------------------------------------


@dataclass(frozen=True)
class TicketRow:
    """One ticket as the portal list shows it (the page's allow-list)."""

    id: int
    title: str
    status_name: str
    state: str
    priority: str
    updated_at: datetime
    contact_id: int
    contact_name: str
    organization_name: str

    @property
    def number(self) -> str:  # the same words as Ticket.number, from a plain column
        return f"T-{self.id:06d}"


@dataclass(frozen=True)
class TicketList:
    rows: list[TicketRow]
    show: str
    older_than: int | None  # the keyset cursor of the next (older) page, if there is one
    limit: int


def list_tickets(base: Select, show: str = "open", before: int | None = None, limit: int = LIST_LIMIT) -> TicketList:
    """The tickets of ``base`` (the access-checked ``contact_tickets_query``), newest
    first, ``limit`` at a time: keyset on the id, so a later page costs what the
    first does. ``show`` is ``open`` (anything not closed), ``closed`` or ``all``."""
    show = show if show in SHOWS else "open"
    stmt = (
        base.with_only_columns(
            Ticket.id,
            Ticket.title,
            TicketStatus.name,
            Ticket.state,
            Ticket.priority,
            Ticket.updated_at,
            Ticket.contact_id,
            Contact.first_name,
            Contact.last_name,
            Organization.name,
        )
        .join_from(Ticket, TicketStatus, TicketStatus.id == Ticket.status_id)
        .join_from(Ticket, Contact, Contact.id == Ticket.contact_id)
        .join_from(Ticket, Organization, Organization.id == Ticket.organization_id)
    )
    if show == "open":
        stmt = stmt.where(Ticket.state != TicketState.CLOSED)
    elif show == "closed":
        stmt = stmt.where(Ticket.state == TicketState.CLOSED)
    if before:
        stmt = stmt.where(keyset.after_key((Ticket.id,), (before,), descending=True))
    rows = [
        TicketRow(
            id=tid,
            title=title,
            status_name=status,
            state=state,
            priority=priority,
            updated_at=updated,
            contact_id=contact_id,
            contact_name=f"{first} {last}".strip(),
            organization_name=org_name,
        )
        for tid, title, status, state, priority, updated, contact_id, first, last, org_name in db.session.execute(
            stmt.order_by(Ticket.id.desc()).limit(limit + 1)
        )
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return TicketList(rows, show, rows[-1].id if more else None, limit)


# --- one ticket --------------------------------------------------------------------

# What the ticket page shows of the ticket itself (each relationship is lazy="raise").
TICKET_PAGE_OPTIONS = (
    joinedload(Ticket.status),
    joinedload(Ticket.site),
    joinedload(Ticket.issue_type),
    joinedload(Ticket.sub_issue_type),
)


def public_conversation(ticket_id: int) -> list[TicketMessage]:
    """The messages a contact may read: public replies only, oldest first, with their
    authors and attachments loaded (two queries, whatever their number)."""
    return list(
        db.session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id, TicketMessage.kind.in_(MessageKind.PUBLIC))
            .options(
                joinedload(TicketMessage.author_staff),
                joinedload(TicketMessage.author_contact),
                selectinload(TicketMessage.attachments),
            )
            .order_by(TicketMessage.id)
        )
    )


def public_attachment(ticket_id: int, attachment_id: int) -> TicketAttachment | None:
    """An attachment of a public reply of this ticket; None for anything else (a note's
    file, another ticket's)."""
    return db.session.scalar(
        select(TicketAttachment)
        .join(TicketMessage, TicketMessage.id == TicketAttachment.message_id)
        .where(
            TicketAttachment.id == attachment_id,
            TicketAttachment.ticket_id == ticket_id,
            TicketMessage.ticket_id == ticket_id,
            TicketMessage.kind.in_(MessageKind.PUBLIC),
        )
    )


def newest_ticket_link(contact_id: int, ticket_id: int) -> PortalLink | None:
    """The portal link just issued to ``contact_id`` for this ticket (the opening mail's)."""
    return db.session.scalar(
        select(PortalLink)
        .where(
            PortalLink.contact_id == contact_id,
            PortalLink.target_type == "ticket",
            PortalLink.target_id == ticket_id,
            PortalLink.revoked_at.is_(None),
        )
        .order_by(PortalLink.id.desc())
        .limit(1)
    )
