"""sales, more: suppliers, line costs, first response, supplier quotations

Revision ID: ef13710e4b14
Revises: e48e8ce72ae9
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ef13710e4b14"
down_revision = "e48e8ce72ae9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_supplier", sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table("proposal_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=True))


def downgrade():
    with op.batch_alter_table("proposal_lines", schema=None) as batch_op:
        batch_op.drop_column("unit_cost")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("is_supplier")
