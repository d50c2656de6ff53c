"""Counter rows: numbers handed out one at a time, safe under concurrent transactions.

``UPDATE counters SET value = value + 1 ... RETURNING value`` locks the row until the
transaction ends (PostgreSQL), or takes the database's write lock (SQLite, which has
RETURNING since 3.35), so two transactions never get the same value; the second waits
for the first to commit or roll back.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import String, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import db


class Counter(db.Model):
    """The last value handed out under ``name``."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int]


def next_counter_value(name: str, start: Callable[[], int], step: int = 1) -> int:
    """The next value of counter ``name``, inside the current transaction; with
    ``step`` n, the last of n values reserved at once (``value - n + 1`` .. ``value``:
    a batch numbers its rows in one statement).

    A missing row (a database from before the counter, or emptied) is created from
    ``start()``, the last value already in use; of two transactions creating it at
    once, one insert wins and both go on to increment the same row.
    """
    table = Counter.__table__
    increment = update(table).where(table.c.name == name).values(value=table.c.value + step).returning(table.c.value)
    value = db.session.execute(increment).scalar()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.execute(table.insert().values(name=name, value=int(start())))
        except IntegrityError:
            pass  # created meanwhile by another transaction
        value = db.session.execute(increment).scalar_one()
    return int(value)
