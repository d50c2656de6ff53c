"""sales board indexes: a column's newest opportunities of one rep and of one organization
(each part of the staff access rule an index range per stage)

Revision ID: ef78c8b8e367
Revises: b7c41d2e9a10
Create Date: 2026-12-01 15:20:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "ef78c8b8e367"
down_revision = "b7c41d2e9a10"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index("ix_opportunities_rep_id_stage_id_id", ["rep_id", "stage_id", "id"], unique=False)
        batch_op.create_index(
            "ix_opportunities_organization_id_stage_id_id", ["organization_id", "stage_id", "id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_organization_id_stage_id_id")
        batch_op.drop_index("ix_opportunities_rep_id_stage_id_id")
