"""evidence log: hash-chained, append-only entries per proposal, chain heads, sealed certificates

Revision ID: f3a1c9d27b40
Revises: e48e8ce72ae9
Create Date: 2026-12-01 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f3a1c9d27b40"
down_revision = "569e0077d088"
branch_labels = None
depends_on = None


# A copy of portal.domains.proposals.evidence_models.APPEND_ONLY_DDL as of this revision.
APPEND_ONLY_DDL = {
    "postgresql": [
        "CREATE FUNCTION evidence_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'evidence_entries is append-only'; END $$",
        "CREATE TRIGGER evidence_entries_append_only BEFORE UPDATE OR DELETE ON evidence_entries "
        "FOR EACH ROW EXECUTE FUNCTION evidence_entries_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER evidence_entries_no_update BEFORE UPDATE ON evidence_entries "
        "BEGIN SELECT RAISE(ABORT, 'evidence_entries is append-only'); END",
        "CREATE TRIGGER evidence_entries_no_delete BEFORE DELETE ON evidence_entries "
        "BEGIN SELECT RAISE(ABORT, 'evidence_entries is append-only'); END",
    ],
}
DROP_APPEND_ONLY_DDL = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS evidence_entries_append_only ON evidence_entries",
        "DROP FUNCTION IF EXISTS evidence_entries_append_only()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS evidence_entries_no_update",
        "DROP TRIGGER IF EXISTS evidence_entries_no_delete",
    ],
}


def upgrade():
    op.create_table(
        "evidence_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_evidence_entries_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_entries")),
        sa.UniqueConstraint("proposal_id", "seq", name="uq_evidence_entries_proposal_id_seq"),
    )
    op.create_table(
        "evidence_heads",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_evidence_heads_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("proposal_id", name=op.f("pk_evidence_heads")),
    )
    op.create_table(
        "evidence_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=20), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("chain_count", sa.Integer(), nullable=False),
        sa.Column("chain_head", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("seal_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_evidence_certificates_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"], ["signatures.id"], name=op.f("fk_evidence_certificates_signature_id_signatures")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_certificates")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_evidence_certificates_proposal_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_evidence_certificates_public_id")),
    )
    op.create_index("ix_evidence_certificates_pdf_sha256", "evidence_certificates", ["pdf_sha256"], unique=False)
    op.create_table(
        "evidence_mails",
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_evidence_mails_proposal_id_proposals")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_evidence_mails")),
    )
    op.create_index(op.f("ix_evidence_mails_proposal_id"), "evidence_mails", ["proposal_id"], unique=False)
    # Append-only in the database too: UPDATE and DELETE of an entry raise.
    for statement in APPEND_ONLY_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_APPEND_ONLY_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_index(op.f("ix_evidence_mails_proposal_id"), table_name="evidence_mails")
    op.drop_table("evidence_mails")
    op.drop_index("ix_evidence_certificates_pdf_sha256", table_name="evidence_certificates")
    op.drop_table("evidence_certificates")
    op.drop_table("evidence_heads")
    op.drop_table("evidence_entries")
