"""Portal session records, staff session expiry, links copied by staff, sign-in decoys.

- portal_sessions: the server-side record a portal cookie points to; signing out
  deletes it, so a copied cookie stops working.
- staff_sessions.last_seen_at: for the idle expiry (the absolute one uses
  created_at).
- portal_links.issued_by_staff_id: a link a staff member copied to paste into a
  mail of their own (not mailed by the app).
- portal_sign_ins.contact_id nullable: a request for an unknown address does the
  same insert as a known one, inside a savepoint that is rolled back.

Revision ID: 2098caf86a34
Revises: aa847fd62eb9
Create Date: 2026-12-01 08:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "2098caf86a34"
down_revision = "aa847fd62eb9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_portal_sessions_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_sessions_contact_id"), ["contact_id"], unique=False)

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_by_staff_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_portal_links_issued_by_staff_id_staff_users"), "staff_users", ["issued_by_staff_id"], ["id"]
        )

    with op.batch_alter_table("portal_sign_ins", schema=None) as batch_op:
        batch_op.alter_column("contact_id", existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM portal_sign_ins WHERE contact_id IS NULL")
    with op.batch_alter_table("portal_sign_ins", schema=None) as batch_op:
        batch_op.alter_column("contact_id", existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_portal_links_issued_by_staff_id_staff_users"), type_="foreignkey")
        batch_op.drop_column("issued_by_staff_id")

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")

    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_contact_id"))

    op.drop_table("portal_sessions")
