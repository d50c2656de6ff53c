"""Column helpers shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Numeric
from sqlalchemy.orm import mapped_column

MONEY = Numeric(12, 2)
QUANTITY = Numeric(12, 3)


def utcnow() -> datetime:
    """Now, in UTC, naive: every stored time is UTC and shown in the viewer's zone."""
    return datetime.now(UTC).replace(tzinfo=None)


def created_at_column():
    return mapped_column(default=utcnow, nullable=False)


ZERO = Decimal("0.00")
