"""one contract per won opportunity: contracts.opportunity_id becomes a unique index

Revision ID: b7c41d2e9a10
Revises: 6d14615acd79
Create Date: 2026-12-01 15:10:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b7c41d2e9a10"
down_revision = "6d14615acd79"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_opportunity_id"))
        batch_op.create_index(batch_op.f("ix_contracts_opportunity_id"), ["opportunity_id"], unique=True)


def downgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_opportunity_id"))
        batch_op.create_index(batch_op.f("ix_contracts_opportunity_id"), ["opportunity_id"], unique=False)
