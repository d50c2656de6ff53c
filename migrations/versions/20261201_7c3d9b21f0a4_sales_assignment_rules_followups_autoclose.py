"""sales assignment rules, absences, follow-up reminders, logged activity, auto-close

- assignment: teams and members (capacity weights), the ordered rules, the round-robin
  ledger per rule and rep, and the flags of records no rule could assign;
- staff absences (days on leave, skipped by the rules);
- follow-ups: the private calendar feed (token hash) and the once-a-day morning mail claim;
- activity staff log on an opportunity; auto-close's waiting periods, warnings and
  closures (what reopening undoes);
- ``organizations.zone``: the sales territory the rules match (existing rows get "").

Revision ID: 7c3d9b21f0a4
Revises: 5a1e5c0de001
Create Date: 2026-12-01 11:39:26.426659

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7c3d9b21f0a4"
down_revision = "5a1e5c0de001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sales_assignment_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_assignment_flags")),
        sa.UniqueConstraint("subject_type", "subject_id", name="uq_sales_assignment_flags_subject"),
    )
    op.create_table(
        "sales_teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_teams_name")),
    )
    op.create_table(
        "sales_assignment_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("applies_to", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("type_id", sa.Integer(), nullable=True),
        sa.Column("zone", sa.String(length=80), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("amount_min", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("amount_max", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("fired_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rep_id"],
            ["staff_users.id"],
            name=op.f("fk_sales_assignment_rules_rep_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sales_sources.id"],
            name=op.f("fk_sales_assignment_rules_source_id_sales_sources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["sales_teams.id"],
            name=op.f("fk_sales_assignment_rules_team_id_sales_teams"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["sales_opportunity_types.id"],
            name=op.f("fk_sales_assignment_rules_type_id_sales_opportunity_types"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_assignment_rules")),
    )
    with op.batch_alter_table("sales_assignment_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_assignment_rules_position"), ["position"], unique=False)

    op.create_table(
        "sales_calendar_feeds",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_sales_calendar_feeds_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_sales_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sales_calendar_feeds_token_hash")),
    )
    op.create_table(
        "sales_follow_up_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_sales_follow_up_digests_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_follow_up_digests")),
        sa.UniqueConstraint("staff_id", "day", name="uq_sales_follow_up_digests_staff_day"),
    )
    op.create_table(
        "sales_team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_sales_team_members_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["sales_teams.id"], name=op.f("fk_sales_team_members_team_id_sales_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_team_members")),
        sa.UniqueConstraint("team_id", "staff_id", name="uq_sales_team_members_team_staff"),
    )
    with op.batch_alter_table("sales_team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_team_members_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "staff_absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_absences_created_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_users.id"], name=op.f("fk_staff_absences_staff_id_staff_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_absences")),
    )
    with op.batch_alter_table("staff_absences", schema=None) as batch_op:
        batch_op.create_index("ix_staff_absences_staff_days", ["staff_id", "starts_on", "ends_on"], unique=False)

    op.create_table(
        "sales_rule_counters",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["sales_assignment_rules.id"],
            name=op.f("fk_sales_rule_counters_rule_id_sales_assignment_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_sales_rule_counters_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "staff_id", name=op.f("pk_sales_rule_counters")),
    )
    op.create_table(
        "opportunity_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("happened_at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_opportunity_activities_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_opportunity_activities_staff_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_activities")),
    )
    with op.batch_alter_table("opportunity_activities", schema=None) as batch_op:
        batch_op.create_index("ix_opportunity_activities_opportunity", ["opportunity_id", "happened_at"], unique=False)

    op.create_table(
        "sales_auto_close_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("quiet_since", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_sales_auto_close_warnings_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_auto_close_warnings")),
        sa.UniqueConstraint("opportunity_id", "quiet_since", name="uq_sales_auto_close_warnings_opportunity_since"),
    )
    op.create_table(
        "sales_auto_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("previous_stage_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("reopened_at", sa.DateTime(), nullable=True),
        sa.Column("reopened_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_sales_auto_closures_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["previous_stage_id"],
            ["sales_stages.id"],
            name=op.f("fk_sales_auto_closures_previous_stage_id_sales_stages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reopened_by_id"],
            ["staff_users.id"],
            name=op.f("fk_sales_auto_closures_reopened_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_auto_closures")),
    )
    with op.batch_alter_table("sales_auto_closures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_auto_closures_opportunity_id"), ["opportunity_id"], unique=False)

    op.create_table(
        "sales_waiting_periods",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_sales_waiting_periods_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["sales_stages.id"],
            name=op.f("fk_sales_waiting_periods_stage_id_sales_stages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("opportunity_id", name=op.f("pk_sales_waiting_periods")),
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("zone", sa.String(length=80), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("zone")

    op.drop_table("sales_waiting_periods")
    with op.batch_alter_table("sales_auto_closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_auto_closures_opportunity_id"))

    op.drop_table("sales_auto_closures")
    op.drop_table("sales_auto_close_warnings")
    with op.batch_alter_table("opportunity_activities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunity_activities_opportunity")

    op.drop_table("opportunity_activities")
    op.drop_table("sales_rule_counters")
    with op.batch_alter_table("staff_absences", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_absences_staff_days")

    op.drop_table("staff_absences")
    with op.batch_alter_table("sales_team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_team_members_staff_id"))

    op.drop_table("sales_team_members")
    op.drop_table("sales_follow_up_digests")
    op.drop_table("sales_calendar_feeds")
    with op.batch_alter_table("sales_assignment_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_assignment_rules_position"))

    op.drop_table("sales_assignment_rules")
    op.drop_table("sales_teams")
    op.drop_table("sales_assignment_flags")
