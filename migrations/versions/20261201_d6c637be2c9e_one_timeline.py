"""one timeline for every domain: proposal events and ticket change events move to
timeline_entries

Revision ID: d6c637be2c9e
Revises: 83f749e22e0b
Create Date: 2026-12-01 08:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "d6c637be2c9e"
down_revision = "83f749e22e0b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "timeline_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_timeline_entries_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_timeline_entries_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_entries")),
    )
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.create_index("ix_timeline_entries_subject", ["subject_type", "subject_id", "id"], unique=False)
    # Both old timelines, in the order they happened (ids follow time within each).
    op.execute(
        "INSERT INTO timeline_entries (subject_type, subject_id, kind, staff_id, contact_id, detail, created_at) "
        "SELECT 'proposal', proposal_id, kind, staff_id, contact_id, detail, created_at FROM proposal_events "
        "ORDER BY id"
    )
    op.execute(
        "INSERT INTO timeline_entries (subject_type, subject_id, kind, staff_id, contact_id, detail, created_at) "
        "SELECT 'ticket', ticket_id, 'change', author_staff_id, author_contact_id, body, created_at "
        "FROM ticket_messages WHERE kind = 'event' ORDER BY id"
    )
    op.execute("DELETE FROM ticket_messages WHERE kind = 'event'")
    with op.batch_alter_table("proposal_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_events_proposal_id"))
    op.drop_table("proposal_events")


def downgrade():
    op.create_table(
        "proposal_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_proposal_events_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_proposal_events_proposal_id_proposals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], name=op.f("fk_proposal_events_staff_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_events")),
    )
    with op.batch_alter_table("proposal_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_events_proposal_id"), ["proposal_id"], unique=False)
    op.execute(
        "INSERT INTO proposal_events (proposal_id, kind, staff_id, contact_id, detail, created_at) "
        "SELECT subject_id, kind, staff_id, contact_id, detail, created_at FROM timeline_entries "
        "WHERE subject_type = 'proposal' ORDER BY id"
    )
    op.execute(
        "INSERT INTO ticket_messages (ticket_id, kind, body, author_staff_id, author_contact_id, created_at) "
        "SELECT subject_id, 'event', detail, staff_id, contact_id, created_at FROM timeline_entries "
        "WHERE subject_type = 'ticket' ORDER BY id"
    )
    with op.batch_alter_table("timeline_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_entries_subject")
    op.drop_table("timeline_entries")
