"""organizations, contacts and portal sign-in

Revision ID: ee713271e4f3
Revises: d34629f5abb6
Create Date: 2026-11-23 16:21:40.192840

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ee713271e4f3"
down_revision = "d34629f5abb6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "organization_team",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_team_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_organization_team_staff_id_staff_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("organization_id", "staff_id", name=op.f("pk_organization_team")),
    )
    with op.batch_alter_table("organization_team", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organization_team_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "portal_sign_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_portal_sign_ins_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sign_ins")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_sign_ins_token_hash")),
    )
    with op.batch_alter_table("portal_sign_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_sign_ins_contact_id"), ["contact_id"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("portal_level", sa.String(length=20), nullable=False, server_default="requester"))
        batch_op.add_column(sa.Column("portal_epoch", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("is_primary", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("title", sa.String(length=120), nullable=False, server_default=""))
        batch_op.create_index(
            "uq_contacts_active_email",
            ["email"],
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        )
        batch_op.create_index(
            "uq_contacts_primary_per_org",
            ["organization_id"],
            unique=True,
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("city", sa.String(length=120), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("city_key", sa.String(length=120), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("bill_to_parent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("invoice_template", sa.String(length=40), nullable=False, server_default="standard")
        )
        batch_op.add_column(sa.Column("tax_region", sa.String(length=40), nullable=False, server_default="none"))
        batch_op.add_column(sa.Column("tax_id", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("tax_id_key", sa.String(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("billing_address", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("billing_attention", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("billing_reviewed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("account_manager_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_organizations_account_manager_id"), ["account_manager_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_organizations_city_key"), ["city_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_organizations_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_organizations_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_organizations_tax_id_key"), ["tax_id_key"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_account_manager_id_staff_users"), "staff_users", ["account_manager_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_organizations_parent_id_organizations"), "organizations", ["parent_id"], ["id"]
        )

    # Existing organizations get their search keys.
    op.execute("UPDATE organizations SET name_key = lower(name)")


def downgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_organizations_parent_id_organizations"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_organizations_account_manager_id_staff_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_organizations_tax_id_key"))
        batch_op.drop_index(batch_op.f("ix_organizations_parent_id"))
        batch_op.drop_index(batch_op.f("ix_organizations_name_key"))
        batch_op.drop_index(batch_op.f("ix_organizations_city_key"))
        batch_op.drop_index(batch_op.f("ix_organizations_account_manager_id"))
        batch_op.drop_column("account_manager_id")
        batch_op.drop_column("billing_reviewed_at")
        batch_op.drop_column("billing_attention")
        batch_op.drop_column("billing_address")
        batch_op.drop_column("tax_id_key")
        batch_op.drop_column("tax_id")
        batch_op.drop_column("tax_region")
        batch_op.drop_column("invoice_template")
        batch_op.drop_column("bill_to_parent")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("city_key")
        batch_op.drop_column("city")
        batch_op.drop_column("name_key")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_contacts_primary_per_org", sqlite_where=sa.text("is_primary"), postgresql_where=sa.text("is_primary")
        )
        batch_op.drop_index(
            "uq_contacts_active_email", sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")
        )
        batch_op.drop_column("title")
        batch_op.drop_column("is_primary")
        batch_op.drop_column("portal_epoch")
        batch_op.drop_column("portal_level")

    with op.batch_alter_table("portal_sign_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sign_ins_contact_id"))

    op.drop_table("portal_sign_ins")
    with op.batch_alter_table("organization_team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_team_staff_id"))

    op.drop_table("organization_team")
