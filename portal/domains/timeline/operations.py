"""Writing and reading timelines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.core.extensions import db
from portal.domains.timeline.models import TimelineEntry


def record_event(
    subject_type: str,
    subject_id: int,
    kind: str,
    *,
    staff=None,
    contact=None,
    detail: str = "",
    at: datetime | None = None,
) -> TimelineEntry:
    """Add one entry to an object's timeline, in the caller's transaction (flushed
    with it, never committed here)."""
    entry = TimelineEntry(
        subject_type=subject_type,
        subject_id=subject_id,
        kind=kind,
        staff_id=staff.id if staff is not None else None,
        contact_id=contact.id if contact is not None else None,
        detail=detail,
    )
    if at is not None:
        entry.created_at = at
    db.session.add(entry)
    return entry


def events_for(subject_type: str, subject_id: int, newest_first: bool = True, limit: int = 500) -> list[TimelineEntry]:
    """An object's timeline with who acted (one statement)."""
    order = (TimelineEntry.id.desc(),) if newest_first else (TimelineEntry.id,)
    return list(
        db.session.scalars(
            select(TimelineEntry)
            .options(joinedload(TimelineEntry.staff), joinedload(TimelineEntry.contact))
            .where(TimelineEntry.subject_type == subject_type, TimelineEntry.subject_id == subject_id)
            .order_by(*order)
            .limit(limit)
        )
    )
