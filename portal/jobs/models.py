"""The jobs table: background work written in the same transaction as its cause."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import created_at_column, utcnow
from portal.core.extensions import db


class JobStatus:
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The idempotency key: enqueueing the same work twice is one job.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON keyword arguments
    status: Mapped[str] = mapped_column(String(10), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)  # claims so far
    run_at: Mapped[datetime] = mapped_column(default=utcnow)  # due from; pushed back on a retry
    # A worker's lease, renewed by its heartbeat while the job runs: another worker may
    # take the job only after it runs out (the first worker died).
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
