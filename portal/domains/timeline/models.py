"""Timeline entries: one table for the history of every kind of object."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import created_at_column
from portal.core.extensions import db

if TYPE_CHECKING:
    from portal.domains.customers.models import Contact
    from portal.domains.identity.models import StaffUser


class Subject:
    """The kinds of object with a timeline (``subject_type``)."""

    PROPOSAL = "proposal"
    TICKET = "ticket"
    OPPORTUNITY = "opportunity"
    LEAD = "lead"
    CONTRACT = "contract"


class TimelineEntry(db.Model):
    """One event of an object's life. ``staff_id`` or ``contact_id`` says who acted
    (staff actions and customer actions stay apart); neither means the system did."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_subject", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(30))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at_column()

    staff: Mapped[StaffUser | None] = relationship(lazy="raise")
    contact: Mapped[Contact | None] = relationship(lazy="raise")
