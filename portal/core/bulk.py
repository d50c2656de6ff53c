"""Bulk writes of many rows in a few driver statements, inside the session's transaction.

``insert().returning()`` with executemany (SQLAlchemy's "insertmanyvalues") builds the
parameters of every row through the compiler: at 10,000 rows times a dozen columns
that is most of a campaign run's time. These helpers convert each value with the
column type's own bind processor (what SQLAlchemy would send: SQLite's text times and
numbers, PostgreSQL's native values) and send one multi-row ``INSERT ... VALUES``
per batch, or one driver ``executemany`` for an ``UPDATE`` by key. They run on the
session's connection (``exec_driver_sql``), so they join its transaction and the
engine's statement listeners (the tests' query counters) see them.

On PostgreSQL the rows travel as one array per column (``INSERT ... SELECT ... FROM
unnest(%s::integer[], ...)``, ``UPDATE ... FROM unnest(...)``): a handful of
parameters whatever the number of rows, where a multi-row VALUES of 8,000 placeholders
costs psycopg more to parse than the database takes to insert. A column that holds the
same value in every row (a campaign's stage, its timestamps, "open") travels once, as
a scalar in the SELECT list: psycopg builds every array in Python, and in a campaign
chunk about half the columns are such constants.

Every column must be given in every row: column defaults are not applied here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table

from portal.core.extensions import db

# SQLite allows 32,766 host parameters per statement (since 3.32), PostgreSQL 65,535.
MAX_PARAMETERS = 30_000


def _placeholder(dialect) -> str:
    return "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"


def _processors(table: Table, columns: Sequence[str], dialect) -> list:
    return [table.c[name].type._cached_bind_processor(dialect) for name in columns]


def _convert(rows: Sequence[Sequence], processors: list) -> list[tuple]:
    """Each value as the column's type sends it (most columns need nothing)."""
    active = [(index, process) for index, process in enumerate(processors) if process is not None]
    if not active:
        return [tuple(row) for row in rows]
    converted = []
    for row in rows:
        values = list(row)
        for index, process in active:
            if values[index] is not None:
                values[index] = process(values[index])
        converted.append(tuple(values))
    return converted


def insert_rows(
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence],
    *,
    returning: Sequence[str] = (),
    conflict: str = "",
) -> list[tuple]:
    """INSERT ``rows`` (tuples in ``columns`` order); ``conflict`` is an ON CONFLICT
    clause's tail as SQL (``"(a, b) WHERE ... DO NOTHING"``). The ``returning`` values
    of the rows inserted (a row skipped by the conflict clause returns nothing)."""
    if not rows:
        return []
    connection = db.session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    mark = _placeholder(dialect)
    group = "(" + ", ".join([mark] * len(columns)) + ")"
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
    tail = (f" ON CONFLICT {conflict}" if conflict else "") + (
        f" RETURNING {', '.join(quote(c) for c in returning)}" if returning else ""
    )
    converted = _convert(rows, _processors(table, columns, dialect))
    if dialect.name == "postgresql":
        values, scalars, arrays, varying = _split(table, columns, converted, dialect)
        sql = (
            f"{head.removesuffix(' VALUES ')} SELECT {', '.join(values)}"
            f" FROM {_unnest(table, varying, dialect)} AS v({', '.join(quote(c) for c in varying)}){tail}"
        )
        result = connection.exec_driver_sql(sql, (*scalars, *arrays))
        return [tuple(row) for row in result.all()] if returning else []
    per_statement = max(1, MAX_PARAMETERS // len(columns))
    found: list[tuple] = []
    for start in range(0, len(converted), per_statement):
        part = converted[start : start + per_statement]
        sql = head + ", ".join([group] * len(part)) + tail
        result = connection.exec_driver_sql(sql, tuple(value for row in part for value in row))
        if returning:
            found.extend(tuple(row) for row in result.all())
    return found


def update_rows(table: Table, key: str, columns: Sequence[str], rows: Sequence[Sequence], where: str = "") -> None:
    """UPDATE each row by ``key``: ``rows`` are tuples of ``columns`` values then the
    key's value; ``where`` an extra SQL condition on the table's columns, qualified by
    the table's name. One statement (PostgreSQL) or one driver executemany (SQLite)."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    mark = _placeholder(dialect)
    sql = (
        f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(c)} = {mark}' for c in columns)}"
        f" WHERE {quote(key)} = {mark}" + (f" AND {where}" if where else "")
    )
    converted = _convert(rows, _processors(table, [*columns, key], dialect))
    if dialect.name == "postgresql":
        name = quote(table.name)
        # The key always travels as an array: it is what names the rows.
        values, scalars, arrays, varying = _split(table, [*columns, key], converted, dialect, keep=key)
        sql = (
            f"UPDATE {name} SET {', '.join(f'{quote(c)} = {v}' for c, v in zip(columns, values, strict=False))}"
            f" FROM {_unnest(table, varying, dialect)} AS v({', '.join(quote(c) for c in varying)})"
            f" WHERE {name}.{quote(key)} = v.{quote(key)}" + (f" AND {where}" if where else "")
        )
        connection.exec_driver_sql(sql, (*scalars, *arrays))
        return
    connection.exec_driver_sql(sql, converted)


def _split(
    table: Table, columns: Sequence[str], rows: list[tuple], dialect, keep: str | None = None
) -> tuple[list[str], list, list[list], list[str]]:
    """The PostgreSQL form of ``rows``: for each column, in order, the SQL of its value
    (``%s::type`` for a column with one value in every row, else ``v."name"`` from the
    unnest); the scalar parameters; the arrays; the names of the array columns. At
    least one column (``keep``, else the first varying or the first) stays an array,
    so that the unnest has the rows' number of rows."""
    quote = dialect.identifier_preparer.quote
    by_column = _columns_of(rows, len(columns))
    constant = [name != keep and _one_value(values) for name, values in zip(columns, by_column, strict=True)]
    if all(constant):
        constant[0] = False
    values, scalars, arrays, varying = [], [], [], []
    for name, column, is_constant in zip(columns, by_column, constant, strict=True):
        if is_constant:
            values.append(f"%s::{_array_of(table.c[name].type, dialect).removesuffix('[]')}")
            scalars.append(column[0])
        else:
            values.append(f"v.{quote(name)}")
            arrays.append(column)
            varying.append(name)
    return values, scalars, arrays, varying


def _one_value(values: list) -> bool:
    """Every value the same, of the same type (``True`` and ``1`` are not the same)."""
    first = values[0]
    kind = type(first)
    return all(value is first or (type(value) is kind and value == first) for value in values)


def _unnest(table: Table, columns: Sequence[str], dialect) -> str:
    """``unnest(%s::type[], ...)``: one array parameter per column, typed by the column."""
    return "unnest(" + ", ".join(f"%s::{_array_of(table.c[c].type, dialect)}" for c in columns) + ")"


def _array_of(type_, dialect) -> str:
    """The array type of a column's type: ``VARCHAR(400) COLLATE "C"`` -> ``VARCHAR(400)[]``
    (the column's collation still applies on the way in), ``TIMESTAMP WITHOUT TIME
    ZONE`` -> ``TIMESTAMP[]`` (the long spelling takes no ``[]``)."""
    name = type_.compile(dialect=dialect).split(" COLLATE ")[0]
    return name.replace(" WITHOUT TIME ZONE", "") + "[]"


def _columns_of(rows: list[tuple], width: int) -> tuple[list, ...]:
    return tuple([row[index] for row in rows] for index in range(width))
