"""A hot SELECT run straight on the database driver.

The portal's access check runs on every page view, and most views are then served from
the render cache: the check is most of the work left. Through an ORM session it pays
for the session (made, begun, closed per request), SQLAlchemy's statement cache key
(a walk of the whole statement tree) and its execution context, about as much as the
database takes to answer. ``DriverQuery`` compiles its statement once per dialect and
runs the SQL string on a pooled driver connection, applying the same result
processors SQLAlchemy would (SQLite's text times become ``datetime``), so callers get
the values ``Connection.execute`` gives.

When the request's ORM session is already in a transaction, the statement runs on its
connection instead, so rows the request has flushed but not committed are seen; and
when anything listens to the engine's statements (the tests' query counters, tracing),
it runs through SQLAlchemy too, so they see it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy.sql import Select

from portal.core.extensions import db


class DriverQuery:
    """A Core ``SELECT`` with named bind parameters, run on the driver (see module)."""

    def __init__(self, statement: Select):
        self.statement = statement
        self._plans: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _plan(self, dialect) -> tuple:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(dialect=dialect)
            if compiled.post_compile_params or compiled.literal_execute_params:
                raise ValueError("a DriverQuery cannot expand parameters per call (IN lists)")
            binds = {name: (bind, bind.type._cached_bind_processor(dialect)) for name, bind in compiled.binds.items()}
            processors = tuple(entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns)
            plan = (compiled.string, compiled.positiontup, binds, processors)
            with self._lock:
                self._plans[dialect.name] = plan
        return plan

    def rows(self, params: Mapping[str, Any]) -> list[tuple]:
        """All rows for ``params`` (the statement's bind parameters by name)."""
        registry = db.session.registry
        engine = db.engine
        if (registry.has() and registry().in_transaction()) or engine.dispatch.before_cursor_execute:
            return [tuple(row) for row in db.session.connection().execute(self.statement, dict(params)).all()]
        sql, positions, binds, processors = self._plan(engine.dialect)
        values = {}
        for name, (bind, process) in binds.items():
            value = params.get(name, bind.effective_value)
            values[name] = process(value) if process is not None and value is not None else value
        arguments = tuple(values[name] for name in positions) if positions is not None else values
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, arguments)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls the driver's transaction back
        if not any(processors):
            return [tuple(row) for row in fetched]
        return [
            tuple(value if process is None else process(value) for process, value in zip(processors, row, strict=True))
            for row in fetched
        ]

    def first(self, params: Mapping[str, Any]) -> tuple | None:
        rows = self.rows(params)
        return rows[0] if rows else None
