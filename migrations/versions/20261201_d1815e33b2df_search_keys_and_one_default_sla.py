"""search keys: Unicode case-folded, trigram-indexed on PostgreSQL; one default SLA

- Every ``*_key`` column is refilled in Python with ``search_key`` (``str.casefold``):
  the keys written by SQL ``lower()`` fold only ASCII on SQLite, so "Ştefan" or "Ñoño"
  kept their capitals and were unsearchable.
- PostgreSQL: the ``pg_trgm`` extension and a GIN trigram index on each key column, so
  word-start and contains searches (``LIKE '%term%'``) use an index.
- ``slas.is_default``: duplicates cleared (the lowest id keeps the flag), then a
  partial unique index holds it to one.

Revision ID: d1815e33b2df
Revises: d6c637be2c9e
Create Date: 2026-12-01 08:20:00
"""

import sqlalchemy as sa
from alembic import op

from portal.core.queries.search import search_key

revision = "d1815e33b2df"
down_revision = "d6c637be2c9e"
branch_labels = None
depends_on = None

# (table, key column, the column it is the key of)
KEYS = (
    ("organizations", "name_key", "name"),
    ("organizations", "city_key", "city"),
    ("organizations", "tax_id_key", "tax_id"),
    ("tickets", "title_key", "title"),
)
BATCH = 5000


def _refill_keys() -> None:
    """Recompute every key in Python, writing only the rows whose key changes."""
    bind = op.get_bind()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, key, source in KEYS:
        tables.setdefault(table, []).append((key, source))
    for table, pairs in tables.items():
        t = sa.table(table, sa.column("id", sa.Integer), *(sa.column(c, sa.String) for pair in pairs for c in pair))
        rows = bind.execute(sa.select(t.c.id, *(t.c[c] for pair in pairs for c in pair))).all()
        changes = []
        for row in rows:
            values = dict(row._mapping)
            new = {key: search_key(values[source]) for key, source in pairs}
            if any(new[key] != values[key] for key, _source in pairs):
                changes.append({"row_id": values["id"], **new})
        update = t.update().where(t.c.id == sa.bindparam("row_id")).values({key: sa.bindparam(key) for key, _ in pairs})
        for start in range(0, len(changes), BATCH):
            bind.execute(update, changes[start : start + BATCH])


def _one_default_sla() -> None:
    slas = sa.table("slas", sa.column("id", sa.Integer), sa.column("is_default", sa.Boolean))
    first = op.get_bind().scalar(sa.select(sa.func.min(slas.c.id)).where(slas.c.is_default.is_(True)))
    if first is not None:
        op.execute(slas.update().where(slas.c.is_default.is_(True), slas.c.id != first).values(is_default=False))


def upgrade():
    _refill_keys()
    _one_default_sla()
    with op.batch_alter_table("slas", schema=None) as batch_op:
        batch_op.create_index(
            "uq_slas_default",
            ["is_default"],
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # The operator class by its schema: the extension may already live in a schema
        # that is not on this connection's search path (it is per database, not schema).
        schema = bind.scalar(
            sa.text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                " WHERE e.extname = 'pg_trgm'"
            )
        )
        opclass = f"{bind.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops"
        for table, key, _source in KEYS:
            op.create_index(
                f"ix_{table}_{key}_trgm",
                table,
                [key],
                postgresql_using="gin",
                postgresql_ops={key: opclass},
            )


def downgrade():
    # The extension stays: other objects may use it, and it costs nothing unused. The
    # case-folded keys stay too: they are what the model writes for new rows anyway.
    if op.get_bind().dialect.name == "postgresql":
        for table, key, _source in KEYS:
            op.drop_index(f"ix_{table}_{key}_trgm", table_name=table)
    with op.batch_alter_table("slas", schema=None) as batch_op:
        batch_op.drop_index("uq_slas_default")
