"""outbox: the HTML part of each message, and the locale it was rendered in

Revision ID: 569e0077d088
Revises: e48e8ce72ae9
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "569e0077d088"
down_revision = "e48e8ce72ae9"
branch_labels = None
depends_on = None


def upgrade():
    # Both nullable: a message queued before mail was multipart is sent as text only.
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.add_column(sa.Column("body_html", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.drop_column("locale")
        batch_op.drop_column("body_html")
