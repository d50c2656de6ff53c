"""a contract revision's opportunity: the won campaign opportunity whose signed
services it added (one revision per opportunity)

Revision ID: a9d3f1c2b7e4
Revises: f37104e4ef30
Create Date: 2026-12-01 18:45:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a9d3f1c2b7e4"
down_revision = "f37104e4ef30"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contract_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opportunity_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_contract_revisions_opportunity_id"), ["opportunity_id"], unique=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_contract_revisions_opportunity_id_opportunities"),
            "opportunities",
            ["opportunity_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("contract_revisions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_contract_revisions_opportunity_id_opportunities"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_contract_revisions_opportunity_id"))
        batch_op.drop_column("opportunity_id")
