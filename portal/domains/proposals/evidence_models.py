"""The evidence log of a proposal (append-only, hash-chained) and its certificate.

``evidence_entries`` is the legal record; the one timeline (``timeline_entries``)
stays what pages show. Each entry's ``entry_hash`` covers its fields and the hash of
the entry before it (``prev_hash``); ``evidence_heads`` keeps each chain's count and
last hash, and a certificate records both at the moment it was built, so removing
the last entries is seen as well as editing, removing or reordering any of them.

Append-only three times over: the ORM refuses to update or delete an entry, and a
trigger does on PostgreSQL and on SQLite (``APPEND_ONLY_DDL``, created by the
migration and by ``create_all``). Someone with the database owner's rights can still
drop the trigger: that is what the chain is for, it makes the tampering visible.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import created_at_column
from portal.core.extensions import db


class EvidenceEntry(db.Model):
    __tablename__ = "evidence_entries"
    __table_args__ = (UniqueConstraint("proposal_id", "seq", name="uq_evidence_entries_proposal_id_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    seq: Mapped[int]  # 1, 2, 3... within the proposal's chain
    kind: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime]  # UTC
    time_zone: Mapped[str] = mapped_column(String(64))  # the zone the page or mail was shown in
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    link_id: Mapped[int | None]  # the portal link in use (no foreign key: the record outlives it)
    staff_id: Mapped[int | None]
    contact_id: Mapped[int | None]
    data: Mapped[str] = mapped_column(Text)  # canonical JSON of the event's details
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class EvidenceHead(db.Model):
    """The end of one proposal's chain: how many entries, and the last one's hash.

    Every append moves it with a conditional update (``entry_count`` as read), so two
    requests appending at once take turns on PostgreSQL and SQLite alike."""

    __tablename__ = "evidence_heads"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), primary_key=True)
    entry_count: Mapped[int]
    head_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = created_at_column()


class Certificate(db.Model):
    """The sealed PDF of a signed proposal, built once and kept (a few hundred kB)."""

    __tablename__ = "evidence_certificates"
    __table_args__ = (Index("ix_evidence_certificates_pdf_sha256", "pdf_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # PC-XXXX-XXXX-XXXX-XXXX
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"))
    locale: Mapped[str] = mapped_column(String(20))
    content_sha256: Mapped[str] = mapped_column(String(64))  # the signature's content hash
    chain_count: Mapped[int]  # the evidence chain as it stood when the certificate was built
    chain_head: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    seal_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()


class EvidenceMail(db.Model):
    """Which proposal an outbox message belongs to, so its delivery joins the chain."""

    __tablename__ = "evidence_mails"

    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the Message-ID
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)


class EvidenceImmutable(RuntimeError):
    """An attempt to change or remove an evidence entry through the ORM."""


@event.listens_for(EvidenceEntry, "before_update")
def _refuse_update(_mapper, _connection, target):
    raise EvidenceImmutable(f"evidence entry {target.id} is append-only")


@event.listens_for(EvidenceEntry, "before_delete")
def _refuse_delete(_mapper, _connection, target):
    raise EvidenceImmutable(f"evidence entry {target.id} is append-only")


# The database refuses too (the migration runs the same statements).
APPEND_ONLY_DDL = {
    "postgresql": [
        "CREATE FUNCTION evidence_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'evidence_entries is append-only'; END $$",
        "CREATE TRIGGER evidence_entries_append_only BEFORE UPDATE OR DELETE ON evidence_entries "
        "FOR EACH ROW EXECUTE FUNCTION evidence_entries_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER evidence_entries_no_update BEFORE UPDATE ON evidence_entries "
        "BEGIN SELECT RAISE(ABORT, 'evidence_entries is append-only'); END",
        "CREATE TRIGGER evidence_entries_no_delete BEFORE DELETE ON evidence_entries "
        "BEGIN SELECT RAISE(ABORT, 'evidence_entries is append-only'); END",
    ],
}
DROP_APPEND_ONLY_DDL = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS evidence_entries_append_only ON evidence_entries",
        "DROP FUNCTION IF EXISTS evidence_entries_append_only()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS evidence_entries_no_update",
        "DROP TRIGGER IF EXISTS evidence_entries_no_delete",
    ],
}

for _dialect, _statements in APPEND_ONLY_DDL.items():
    for _statement in _statements:
        event.listen(EvidenceEntry.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
