"""sales, more: suppliers, line costs, first response, supplier quotations

Revision ID: ef13710e4b14
Revises: 7c3d9b21f0a4
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ef13710e4b14"
down_revision = "7c3d9b21f0a4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opportunities_pipeline",
            ["outcome", "stage_id", "rep_id", "expected_close_on", "currency", "probability", "amount"],
            unique=False,
        )
        batch_op.create_index("ix_opportunities_outcome_closed_at", ["outcome", "closed_at"], unique=False)
        batch_op.create_index(
            "ix_opportunities_created_at_rep_source", ["created_at", "rep_id", "source_id"], unique=False
        )

    op.create_table(
        "supplier_quote_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_supplier_quote_requests_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff_users.id"], name=op.f("fk_supplier_quote_requests_created_by_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_supplier_quote_requests_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_supplier_quote_requests_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_quote_requests")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_supplier_quote_requests_token_hash")),
    )
    with op.batch_alter_table("supplier_quote_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_quote_requests_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_supplier_quote_requests_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index("ix_supplier_quote_requests_opportunity_id_id", ["opportunity_id", "id"], unique=False)

    op.create_table(
        "supplier_quote_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_line_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["opportunity_line_id"],
            ["opportunity_lines.id"],
            name=op.f("fk_supplier_quote_lines_opportunity_line_id_opportunity_lines"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["supplier_quote_requests.id"],
            name=op.f("fk_supplier_quote_lines_request_id_supplier_quote_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_quote_lines")),
        sa.UniqueConstraint("request_id", "opportunity_line_id", name="uq_supplier_quote_lines_request_line"),
    )
    with op.batch_alter_table("supplier_quote_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supplier_quote_lines_opportunity_line_id"), ["opportunity_line_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_supplier_quote_lines_request_id"), ["request_id"], unique=False)

    op.create_table(
        "opportunity_first_responses",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("responded_at", sa.DateTime(), nullable=False),
        sa.Column("business_minutes", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(length=40), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_opportunity_first_responses_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_opportunity_first_responses_proposal_id_proposals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_opportunity_first_responses_staff_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("opportunity_id", name=op.f("pk_opportunity_first_responses")),
    )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_supplier", sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table("proposal_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=True))


def downgrade():
    op.drop_table("opportunity_first_responses")
    with op.batch_alter_table("supplier_quote_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_quote_lines_request_id"))
        batch_op.drop_index(batch_op.f("ix_supplier_quote_lines_opportunity_line_id"))
    op.drop_table("supplier_quote_lines")
    with op.batch_alter_table("supplier_quote_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_supplier_quote_requests_opportunity_id_id")
        batch_op.drop_index(batch_op.f("ix_supplier_quote_requests_organization_id"))
        batch_op.drop_index(batch_op.f("ix_supplier_quote_requests_contact_id"))
    op.drop_table("supplier_quote_requests")
    with op.batch_alter_table("proposal_lines", schema=None) as batch_op:
        batch_op.drop_column("unit_cost")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("is_supplier")

    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_created_at_rep_source")
        batch_op.drop_index("ix_opportunities_outcome_closed_at")
        batch_op.drop_index("ix_opportunities_pipeline")
