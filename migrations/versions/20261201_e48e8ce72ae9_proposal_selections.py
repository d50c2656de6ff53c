"""proposal selections: the options a contact ticked, kept until signing

Revision ID: e48e8ce72ae9
Revises: 2098caf86a34
Create Date: 2026-12-01 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e48e8ce72ae9"
down_revision = "2098caf86a34"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "proposal_selections",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("line_ids", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_proposal_selections_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_selections_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("proposal_id", "contact_id", name=op.f("pk_proposal_selections")),
    )


def downgrade():
    op.drop_table("proposal_selections")
