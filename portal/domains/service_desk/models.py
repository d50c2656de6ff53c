"""Service tickets and what times them: sites, issue types, statuses, SLAs and
the service-hours calendars their targets are counted in."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.core.db import created_at_column, utcnow
from portal.core.extensions import db
from portal.core.queries.search import search_key, search_key_type, trigram_index
from portal.domains.customers.models import Contact, Organization, Site
from portal.domains.identity.models import StaffUser

PRIORITIES = ("low", "normal", "high", "urgent")


class TicketState:
    """What every configurable status means to the clocks and the filters."""

    OPEN = "open"
    WAITING = "waiting"  # on the customer: the resolution clock stops
    CLOSED = "closed"

    ALL = (OPEN, WAITING, CLOSED)


class ServiceCalendar(db.Model):
    """Service hours: a week pattern and holidays, in one time zone."""

    __tablename__ = "service_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = created_at_column()

    hours: Mapped[list[ServiceHours]] = relationship(
        back_populates="calendar",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="(ServiceHours.weekday, ServiceHours.start_minute)",
    )
    holidays: Mapped[list[ServiceHoliday]] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", lazy="selectin", order_by="ServiceHoliday.day"
    )


class ServiceHours(db.Model):
    """One working interval of a weekday (Monday=0), in minutes from local midnight."""

    __tablename__ = "service_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("service_calendars.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]

    calendar: Mapped[ServiceCalendar] = relationship(back_populates="hours")


class ServiceHoliday(db.Model):
    __tablename__ = "service_holidays"
    __table_args__ = (UniqueConstraint("calendar_id", "day", name="uq_service_holidays_calendar_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("service_calendars.id", ondelete="CASCADE"))
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(120), default="")

    calendar: Mapped[ServiceCalendar] = relationship(back_populates="holidays")


class Sla(db.Model):
    """Response and resolution targets per priority, in business minutes of a calendar.

    A shared SLA serves many customers; a custom one (``is_shared`` off) is made for
    one. The default SLA applies where nothing more specific is set.
    """

    __tablename__ = "slas"
    # At most one default SLA (the flag moves in setup.save_sla).
    __table_args__ = (
        Index(
            "uq_slas_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("service_calendars.id"))
    is_shared: Mapped[bool] = mapped_column(default=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at_column()

    calendar: Mapped[ServiceCalendar | None] = relationship(lazy="joined")
    targets: Mapped[list[SlaTarget]] = relationship(
        back_populates="sla", cascade="all, delete-orphan", lazy="selectin", order_by="SlaTarget.id"
    )

    def target_for(self, priority: str) -> SlaTarget | None:
        return next((t for t in self.targets if t.priority == priority), None)


class SlaTarget(db.Model):
    __tablename__ = "sla_targets"
    __table_args__ = (UniqueConstraint("sla_id", "priority", name="uq_sla_targets_sla_priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sla_id: Mapped[int] = mapped_column(ForeignKey("slas.id", ondelete="CASCADE"))
    priority: Mapped[str] = mapped_column(String(10))
    first_response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]

    sla: Mapped[Sla] = relationship(back_populates="targets")


class IssueType(db.Model):
    """What a ticket is about; a child (``parent_id``) is a sub-issue type. An issue
    type may carry its own SLA, which then wins over the organization's."""

    __tablename__ = "issue_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("issue_types.id"), index=True)
    sla_id: Mapped[int | None] = mapped_column(ForeignKey("slas.id"))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[IssueType | None] = relationship(remote_side=[id], lazy="raise")
    sla: Mapped[Sla | None] = relationship(lazy="raise")


class TicketStatus(db.Model):
    """A configurable status, each mapped to one ``TicketState``."""

    __tablename__ = "ticket_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    state: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class Ticket(db.Model):
    """A service request from a contact.

    ``state`` copies the state of ``status`` so the queue filters on an indexed column.
    Due times are UTC; while the ticket waits on the customer ``resolution_due_at``
    is empty; ``resolution_paused_minutes`` sums the business minutes spent waiting,
    which the resolution target is extended by.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        # The queue: newest first, within the usual filters (keyset on id).
        Index("ix_tickets_state_id", "state", "id"),
        trigram_index("ix_tickets_title_key_trgm", "title_key"),
        Index("ix_tickets_status_id_id", "status_id", "id"),
        Index("ix_tickets_priority_id", "priority", "id"),
        Index("ix_tickets_organization_id_id", "organization_id", "id"),
        Index("ix_tickets_assignee_id_id", "assignee_id", "id"),
        Index("ix_tickets_issue_type_id_id", "issue_type_id", "id"),
        Index("ix_tickets_contact_id_id", "contact_id", "id"),
        Index("ix_tickets_updated_at_id", "updated_at", "id"),
        Index("ix_tickets_created_at", "created_at"),  # the report's month range
        # A form submitted twice (a double tap without JavaScript) opens one ticket.
        UniqueConstraint("contact_id", "submission_key", name="uq_tickets_contact_id_submission_key"),
        # The breach job and the "due soon" filter.
        Index("ix_tickets_first_response_due", "first_response_due_at"),
        Index("ix_tickets_resolution_due", "resolution_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    title: Mapped[str] = mapped_column(String(200))
    title_key: Mapped[str] = mapped_column(search_key_type(200), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    issue_type_id: Mapped[int | None] = mapped_column(ForeignKey("issue_types.id"))
    sub_issue_type_id: Mapped[int | None] = mapped_column(ForeignKey("issue_types.id"))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status_id: Mapped[int] = mapped_column(ForeignKey("ticket_statuses.id"))
    state: Mapped[str] = mapped_column(String(10), default=TicketState.OPEN)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    sla_id: Mapped[int | None] = mapped_column(ForeignKey("slas.id"))
    first_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    resolution_paused_minutes: Mapped[int] = mapped_column(default=0)
    # Since when the resolution clock is stopped (waiting on the customer, or closed).
    waiting_since: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    first_response_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    first_response_breached_at: Mapped[datetime | None]
    resolution_breached_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    submission_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)

    organization: Mapped[Organization] = relationship(lazy="raise")
    contact: Mapped[Contact] = relationship(lazy="raise")
    site: Mapped[Site | None] = relationship(lazy="raise")
    issue_type: Mapped[IssueType | None] = relationship(foreign_keys=[issue_type_id], lazy="raise")
    sub_issue_type: Mapped[IssueType | None] = relationship(foreign_keys=[sub_issue_type_id], lazy="raise")
    status: Mapped[TicketStatus] = relationship(lazy="raise")
    assignee: Mapped[StaffUser | None] = relationship(foreign_keys=[assignee_id], lazy="raise")
    first_response_by: Mapped[StaffUser | None] = relationship(foreign_keys=[first_response_by_id], lazy="raise")
    sla: Mapped[Sla | None] = relationship(lazy="raise")
    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", lazy="raise", order_by="TicketMessage.id"
    )

    @validates("title")
    def _keep_title_key(self, _key: str, value: str | None) -> str:
        value = (value or "").strip()
        self.title_key = search_key(value)
        return value

    @property
    def number(self) -> str:
        return f"T-{self.id:06d}"


class MessageKind:
    REPLY = "reply"  # public: the contact sees it and is mailed it (when from staff)
    NOTE = "note"  # internal: staff only, never shown or mailed to a contact

    PUBLIC = (REPLY,)


class TicketMessage(db.Model):
    """One entry of a ticket's conversation; ``kind`` decides who may read it."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default=MessageKind.REPLY)
    body: Mapped[str] = mapped_column(Text, default="")
    author_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    author_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime] = created_at_column()

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author_staff: Mapped[StaffUser | None] = relationship(lazy="raise")
    author_contact: Mapped[Contact | None] = relationship(lazy="raise")
    attachments: Mapped[list[TicketAttachment]] = relationship(
        back_populates="message", lazy="raise", order_by="TicketAttachment.id"
    )

    @property
    def is_public(self) -> bool:
        return self.kind in MessageKind.PUBLIC


class TicketAttachment(db.Model):
    """A file attached to a message, stored outside ``static/`` under ``storage_key``
    (random); ``filename`` is only what the uploader called it, for the download."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("ticket_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()

    message: Mapped[TicketMessage] = relationship(back_populates="attachments")
