"""stored proposal totals, a counter row for proposal numbers, list indexes, unique line positions

Revision ID: aa847fd62eb9
Revises: bffcfa2a5f4f
Create Date: 2026-12-01 08:10:00

The totals are backfilled in Python with the application's one rounding rule (half
up to the cent per line, then summed), never with a SQL sum (floats on SQLite).
Duplicate line positions of unsigned proposals are renumbered 1, 2, 3...; a signed
revision keeps its positions, which its signature's content hash covers.
"""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "aa847fd62eb9"
down_revision = "bffcfa2a5f4f"
branch_labels = None
depends_on = None

CENT = Decimal("0.01")
MONEY = sa.Numeric(12, 2)

proposals = sa.table(
    "proposals",
    sa.column("id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("signed_at", sa.DateTime),
    sa.column("included_total", MONEY),
    sa.column("optional_total", MONEY),
)
lines = sa.table(
    "proposal_lines",
    sa.column("id", sa.Integer),
    sa.column("proposal_id", sa.Integer),
    sa.column("position", sa.Integer),
    sa.column("quantity", sa.Numeric(12, 3)),
    sa.column("unit_price", MONEY),
    sa.column("is_optional", sa.Boolean),
)
counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.Integer))


def _amount(quantity, unit_price) -> Decimal:
    return (Decimal(str(quantity)) * Decimal(str(unit_price))).quantize(CENT, rounding=ROUND_HALF_UP)


def _backfill(conn) -> None:
    included: dict[int, Decimal] = defaultdict(Decimal)
    optional: dict[int, Decimal] = defaultdict(Decimal)
    positions: dict[int, list[tuple[int, int]]] = defaultdict(list)
    rows = conn.execute(
        sa.select(
            lines.c.id, lines.c.proposal_id, lines.c.position, lines.c.quantity, lines.c.unit_price, lines.c.is_optional
        )
    )
    for line_id, proposal_id, position, quantity, unit_price, is_optional in rows:
        (optional if is_optional else included)[proposal_id] += _amount(quantity, unit_price)
        positions[proposal_id].append((position or 0, line_id))
    for proposal_id in set(included) | set(optional):
        conn.execute(
            proposals.update()
            .where(proposals.c.id == proposal_id)
            .values(
                included_total=included[proposal_id].quantize(CENT, rounding=ROUND_HALF_UP),
                optional_total=optional[proposal_id].quantize(CENT, rounding=ROUND_HALF_UP),
            )
        )
    signed = {pid for (pid,) in conn.execute(sa.select(proposals.c.id).where(proposals.c.signed_at.is_not(None)))}
    for proposal_id, found in positions.items():
        if proposal_id in signed or len({p for p, _ in found}) == len(found):
            continue
        for number, (_position, line_id) in enumerate(sorted(found), start=1):
            conn.execute(lines.update().where(lines.c.id == line_id).values(position=number))


def upgrade():
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("included_total", MONEY, server_default="0", nullable=False))
        batch_op.add_column(sa.Column("optional_total", MONEY, server_default="0", nullable=False))
        batch_op.create_index("ix_proposals_updated_at_id", ["updated_at", "id"], unique=False)
        batch_op.create_index("ix_proposals_status_updated_at_id", ["status", "updated_at", "id"], unique=False)
        batch_op.create_index("ix_proposals_delivered_at_id", ["delivered_at", "id"], unique=False)
        batch_op.create_index("ix_proposals_signed_at_id", ["signed_at", "id"], unique=False)

    conn = op.get_bind()
    _backfill(conn)
    last = conn.execute(sa.select(sa.func.max(proposals.c.number))).scalar()
    conn.execute(counters.insert().values(name="proposal_number", value=int(last or 1000)))


def downgrade():
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_signed_at_id")
        batch_op.drop_index("ix_proposals_delivered_at_id")
        batch_op.drop_index("ix_proposals_status_updated_at_id")
        batch_op.drop_index("ix_proposals_updated_at_id")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.dialect.dbapi.sqlite_version_info >= (3, 35):
        # SQLite drops a plain column in place since 3.35; batch mode would rebuild
        # ``proposals``, which the foreign keys of existing lines and signatures refuse.
        op.execute("ALTER TABLE proposals DROP COLUMN optional_total")
        op.execute("ALTER TABLE proposals DROP COLUMN included_total")
    else:
        with op.batch_alter_table("proposals", schema=None) as batch_op:
            batch_op.drop_column("optional_total")
            batch_op.drop_column("included_total")
    op.drop_table("counters")
