"""languages: a contact's preferred language and an organization's default

Revision ID: 5a1c0e7d9b21
Revises: ef13710e4b14
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5a1c0e7d9b21"
down_revision = "ef13710e4b14"
branch_labels = None
depends_on = None


def upgrade():
    # Empty means no choice: the next rung decides (organization, browser, instance).
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_language", sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("default_language")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("preferred_language")
