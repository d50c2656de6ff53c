"""sales pipeline: the admin-edited lists, leads, opportunities and their lines

- the lists (stages, opportunity types, sources, lost reasons, competitors), seeded
  with the defaults a new install starts from (admins rename, reorder, add and
  deactivate them; ``key`` is what code relies on);
- leads and opportunities point at each other (converted into / from): the leads'
  constraint is added once both tables exist;
- ``proposals.opportunity_id``: the opportunity a proposal quotes;
- the search keys (``leads.name_key``, ``opportunities.label_key``) in byte order and
  trigram-indexed on PostgreSQL, as d1815e33b2df does for the others.

Revision ID: 5a1e5c0de001
Revises: e48e8ce72ae9
Create Date: 2026-12-01 11:31:06

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5a1e5c0de001"
down_revision = "e48e8ce72ae9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sales_competitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_competitors")),
        sa.UniqueConstraint("key", name=op.f("uq_sales_competitors_key")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_competitors_name")),
    )
    op.create_table(
        "sales_lost_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_lost_reasons")),
        sa.UniqueConstraint("key", name=op.f("uq_sales_lost_reasons_key")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_lost_reasons_name")),
    )
    op.create_table(
        "sales_opportunity_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_opportunity_types")),
        sa.UniqueConstraint("key", name=op.f("uq_sales_opportunity_types_key")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_opportunity_types_name")),
    )
    op.create_table(
        "sales_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_sources")),
        sa.UniqueConstraint("key", name=op.f("uq_sales_sources_key")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_sources_name")),
    )
    op.create_table(
        "sales_stages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("default_probability", sa.Integer(), nullable=False),
        sa.Column("is_waiting_on_customer", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_stages")),
        sa.UniqueConstraint("key", name=op.f("uq_sales_stages_key")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_stages_name")),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "name_key",
            sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("origin", sa.String(length=12), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_leads_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_leads_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["staff_users.id"], name=op.f("fk_leads_rep_id_staff_users")),
        sa.ForeignKeyConstraint(["source_id"], ["sales_sources.id"], name=op.f("fk_leads_source_id_sales_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_opportunity_id"), ["opportunity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index("ix_leads_rep_id_id", ["rep_id", "id"], unique=False)
        batch_op.create_index("ix_leads_status_id", ["status", "id"], unique=False)

    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "label_key",
            sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=True),
        sa.Column("expected_close_on", sa.Date(), nullable=True),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("next_contact_on", sa.Date(), nullable=True),
        sa.Column("next_contact_by_id", sa.Integer(), nullable=True),
        sa.Column("last_customer_activity_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("lost_detail", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_opportunities_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff_users.id"], name=op.f("fk_opportunities_created_by_id_staff_users")
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_opportunities_lead_id_leads")),
        sa.ForeignKeyConstraint(
            ["next_contact_by_id"], ["staff_users.id"], name=op.f("fk_opportunities_next_contact_by_id_staff_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_opportunities_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["staff_users.id"], name=op.f("fk_opportunities_rep_id_staff_users")),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sales_sources.id"], name=op.f("fk_opportunities_source_id_sales_sources")
        ),
        sa.ForeignKeyConstraint(["stage_id"], ["sales_stages.id"], name=op.f("fk_opportunities_stage_id_sales_stages")),
        sa.ForeignKeyConstraint(
            ["type_id"], ["sales_opportunity_types.id"], name=op.f("fk_opportunities_type_id_sales_opportunity_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index("ix_opportunities_amount_id", ["amount", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunities_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index("ix_opportunities_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_opportunities_expected_close_on_id", ["expected_close_on", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunities_label_key"), ["label_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunities_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(
            "ix_opportunities_next_contact_by_id_on", ["next_contact_by_id", "next_contact_on"], unique=False
        )
        batch_op.create_index("ix_opportunities_next_contact_on_id", ["next_contact_on", "id"], unique=False)
        batch_op.create_index("ix_opportunities_organization_id_id", ["organization_id", "id"], unique=False)
        batch_op.create_index("ix_opportunities_outcome_id", ["outcome", "id"], unique=False)
        batch_op.create_index(
            "ix_opportunities_outcome_last_activity", ["outcome", "last_customer_activity_at"], unique=False
        )
        batch_op.create_index("ix_opportunities_rep_id_id", ["rep_id", "id"], unique=False)
        batch_op.create_index("ix_opportunities_source_id_id", ["source_id", "id"], unique=False)
        batch_op.create_index(
            "ix_opportunities_stage_id_currency_amount", ["stage_id", "currency", "amount"], unique=False
        )
        batch_op.create_index("ix_opportunities_stage_id_id", ["stage_id", "id"], unique=False)
        batch_op.create_index("ix_opportunities_type_id_id", ["type_id", "id"], unique=False)
        batch_op.create_index("ix_opportunities_updated_at_id", ["updated_at", "id"], unique=False)

    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_leads_opportunity_id_opportunities", "opportunities", ["opportunity_id"], ["id"]
        )

    op.create_table(
        "opportunity_competitors",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["competitor_id"],
            ["sales_competitors.id"],
            name=op.f("fk_opportunity_competitors_competitor_id_sales_competitors"),
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_opportunity_competitors_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("opportunity_id", "competitor_id", name=op.f("pk_opportunity_competitors")),
    )
    with op.batch_alter_table("opportunity_competitors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunity_competitors_competitor_id"), ["competitor_id"], unique=False)

    op.create_table(
        "opportunity_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_opportunity_lines_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["catalog_items.id"], name=op.f("fk_opportunity_lines_service_id_catalog_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_lines")),
    )
    with op.batch_alter_table("opportunity_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunity_lines_opportunity_id"), ["opportunity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunity_lines_service_id"), ["service_id"], unique=False)

    op.create_table(
        "opportunity_lost_reasons",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("lost_reason_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lost_reason_id"],
            ["sales_lost_reasons.id"],
            name=op.f("fk_opportunity_lost_reasons_lost_reason_id_sales_lost_reasons"),
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_opportunity_lost_reasons_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("opportunity_id", "lost_reason_id", name=op.f("pk_opportunity_lost_reasons")),
    )
    with op.batch_alter_table("opportunity_lost_reasons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunity_lost_reasons_lost_reason_id"), ["lost_reason_id"], unique=False
        )

    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opportunity_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_proposals_opportunity_id"), ["opportunity_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_proposals_opportunity_id_opportunities"), "opportunities", ["opportunity_id"], ["id"]
        )

    _trigram_indexes()
    _seed_defaults()


TRIGRAM_KEYS = (("leads", "name_key"), ("opportunities", "label_key"))


def _trigram_indexes() -> None:
    """PostgreSQL: GIN trigram indexes on the new search keys, the operator class named
    by the extension's schema (as d1815e33b2df does)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema = bind.scalar(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    )
    opclass = f"{bind.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops"
    for table, key in TRIGRAM_KEYS:
        op.create_index(f"ix_{table}_{key}_trgm", table, [key], postgresql_using="gin", postgresql_ops={key: opclass})


def _list_table(name: str, *extra):
    return sa.table(
        name,
        sa.column("name", sa.String),
        sa.column("position", sa.Integer),
        sa.column("is_active", sa.Boolean),
        sa.column("key", sa.String),
        *extra,
    )


def _seed_defaults() -> None:
    """The lists a new install starts from (story 2: New, Qualified, Proposal sent,
    Signed, Won, Lost; Sales, Support, Maintenance)."""
    stages = _list_table(
        "sales_stages",
        sa.column("outcome", sa.String),
        sa.column("default_probability", sa.Integer),
        sa.column("is_waiting_on_customer", sa.Boolean),
    )
    op.bulk_insert(
        stages,
        [
            dict(
                name=name,
                position=(i + 1) * 10,
                is_active=True,
                key=key,
                outcome=outcome,
                default_probability=probability,
                is_waiting_on_customer=waiting,
            )
            for i, (name, key, outcome, probability, waiting) in enumerate(
                [
                    ("New", "new", "open", 10, False),
                    ("Qualified", "qualified", "open", 25, False),
                    ("Proposal sent", "proposal_sent", "open", 50, True),
                    ("Signed", "signed", "open", 90, False),
                    ("Won", "won", "won", 100, False),
                    ("Lost", "lost", "lost", 0, False),
                ]
            )
        ],
    )
    lists = {
        "sales_opportunity_types": [("Sales", "sales"), ("Support", "support"), ("Maintenance", "maintenance")],
        "sales_sources": [
            ("Website", "website"),
            ("Referral", "referral"),
            ("Phone call", "phone"),
            ("Quote request", "quote_page"),
            ("Customer portal", "portal"),
            ("Campaign", "campaign"),
        ],
        "sales_lost_reasons": [
            ("Price", "price"),
            ("Went with a competitor", "competitor"),
            ("Timing", "timing"),
            ("Scope", "scope"),
            ("No decision", "no_decision"),
            ("No reply", "no_reply"),
            ("Other", "other"),
        ],
    }
    for table, rows in lists.items():
        op.bulk_insert(
            _list_table(table),
            [dict(name=name, position=(i + 1) * 10, is_active=True, key=key) for i, (name, key) in enumerate(rows)],
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, key in TRIGRAM_KEYS:
            op.drop_index(f"ix_{table}_{key}_trgm", table_name=table)
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_proposals_opportunity_id_opportunities"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_proposals_opportunity_id"))
        batch_op.drop_column("opportunity_id")

    with op.batch_alter_table("opportunity_lost_reasons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_lost_reasons_lost_reason_id"))

    op.drop_table("opportunity_lost_reasons")
    with op.batch_alter_table("opportunity_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_lines_service_id"))
        batch_op.drop_index(batch_op.f("ix_opportunity_lines_opportunity_id"))

    op.drop_table("opportunity_lines")
    with op.batch_alter_table("opportunity_competitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_competitors_competitor_id"))

    op.drop_table("opportunity_competitors")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_constraint("fk_leads_opportunity_id_opportunities", type_="foreignkey")

    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_updated_at_id")
        batch_op.drop_index("ix_opportunities_type_id_id")
        batch_op.drop_index("ix_opportunities_stage_id_id")
        batch_op.drop_index("ix_opportunities_stage_id_currency_amount")
        batch_op.drop_index("ix_opportunities_source_id_id")
        batch_op.drop_index("ix_opportunities_rep_id_id")
        batch_op.drop_index("ix_opportunities_outcome_last_activity")
        batch_op.drop_index("ix_opportunities_outcome_id")
        batch_op.drop_index("ix_opportunities_organization_id_id")
        batch_op.drop_index("ix_opportunities_next_contact_on_id")
        batch_op.drop_index("ix_opportunities_next_contact_by_id_on")
        batch_op.drop_index(batch_op.f("ix_opportunities_lead_id"))
        batch_op.drop_index(batch_op.f("ix_opportunities_label_key"))
        batch_op.drop_index("ix_opportunities_expected_close_on_id")
        batch_op.drop_index("ix_opportunities_created_at")
        batch_op.drop_index(batch_op.f("ix_opportunities_contact_id"))
        batch_op.drop_index("ix_opportunities_amount_id")

    op.drop_table("opportunities")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_status_id")
        batch_op.drop_index("ix_leads_rep_id_id")
        batch_op.drop_index(batch_op.f("ix_leads_organization_id"))
        batch_op.drop_index(batch_op.f("ix_leads_opportunity_id"))
        batch_op.drop_index(batch_op.f("ix_leads_name_key"))
        batch_op.drop_index(batch_op.f("ix_leads_email"))
        batch_op.drop_index(batch_op.f("ix_leads_contact_id"))

    op.drop_table("leads")
    op.drop_table("sales_stages")
    op.drop_table("sales_sources")
    op.drop_table("sales_opportunity_types")
    op.drop_table("sales_lost_reasons")
    op.drop_table("sales_competitors")
