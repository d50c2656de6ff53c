"""The options a contact has ticked on a proposal, kept on the server until signing.

A reload, a second device or a long break shows the same boxes ticked and the same
total. One row per (proposal, contact): two contacts of the same organization each
keep their own choice. Signing removes every row of the proposal (the signature
holds the selection from then on).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ForeignKey, Text, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import utcnow
from portal.core.extensions import db


class ProposalSelection(db.Model):
    """A contact's ticked optional lines of one proposal (line ids, JSON, sorted)."""

    __tablename__ = "proposal_selections"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    line_ids: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def decode_line_ids(raw: str | None) -> tuple[int, ...]:
    """The stored ids, tolerant of a damaged value (then nothing is ticked)."""
    try:
        ids = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(sorted({i for i in ids if isinstance(i, int)})) if isinstance(ids, list) else ()


def keep_selection(proposal_id: int, contact_id: int, option_ids: Iterable[int]) -> None:
    """Record the contact's current choice (already checked against the proposal's
    optional lines). One statement, safe against two tabs toggling at once."""
    values = {
        "proposal_id": proposal_id,
        "contact_id": contact_id,
        "line_ids": json.dumps(sorted(set(option_ids))),
        "updated_at": utcnow(),
    }
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ProposalSelection).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["proposal_id", "contact_id"],
        set_={"line_ids": statement.excluded.line_ids, "updated_at": statement.excluded.updated_at},
    )
    db.session.execute(statement)
    db.session.flush()


def forget_selections(proposal_id: int) -> None:
    """After signing: the kept choices of every contact of this proposal go."""
    db.session.execute(
        delete(ProposalSelection)
        .where(ProposalSelection.proposal_id == proposal_id)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
