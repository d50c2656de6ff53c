"""Migrations: ``upgrade head`` builds exactly the models' schema; every revision goes up
and down with data in place (the idea of SecureDrop's ``securedrop/tests/test_alembic.py``).

Each run uses its own app and database (a fresh SQLite file; on PostgreSQL a throwaway
schema first on the search path), never the session database the other tests share.

Two views of "the models match the migrations":
- alembic's ``compare_metadata`` (what autogenerate would write into a new migration),
  with types and server defaults compared;
- the same database reflected twice, once built by ``upgrade head`` and once by
  ``metadata.create_all()``: columns (type, nullable, default), indexes (columns,
  unique, partial WHERE), unique constraints and foreign keys, and on PostgreSQL the
  collation of every column (compare_metadata does not look at collations).
A few differences exist on purpose today; they are listed, with the reason, in
``KNOWN_*`` below, so only new drift fails.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from portal.core.extensions import db
from tests.conftest import make_app, worker_database_url

ENGINES = ["sqlite"]
if (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres"):
    ENGINES.append("postgresql")


def _pg_url() -> str:
    url = worker_database_url()  # this xdist worker's own database, as the session app's
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _dispose(application) -> None:
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def _empty_database(engine: str, tmp_path, tmp_path_factory) -> Iterator:
    """An app on an empty database of its own, with no tables at all."""
    if engine == "sqlite":
        path = tmp_path / f"migrations-{uuid.uuid4().hex[:8]}.db"
        application = make_app(tmp_path_factory, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
        try:
            yield application
        finally:
            _dispose(application)
        return
    schema = f"migrations_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(_pg_url())
    with admin_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    application = make_app(
        tmp_path_factory,
        SQLALCHEMY_DATABASE_URI=_pg_url(),
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": f"-csearch_path={schema}"}},
    )
    try:
        yield application
    finally:
        _dispose(application)
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


@pytest.fixture(params=ENGINES)
def migration_app(request, tmp_path, tmp_path_factory):
    """An app on an empty database of its own (SQLite, and PostgreSQL when configured)."""
    with _empty_database(request.param, tmp_path, tmp_path_factory) as application:
        yield application


def _tables(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _revisions(app) -> list:
    """Every revision, oldest first."""
    script = ScriptDirectory(app.extensions["migrate"].directory)
    return list(reversed(list(script.walk_revisions())))


# --- sample data, one hook per revision ----------------------------------------------
#
# Each hook inserts, with raw SQL, rows that are valid right after its revision: what a
# real install holding data would have. A revision without a hook (one added later by
# someone else) simply runs with the earlier rows in place; give a new revision a hook
# when it adds tables or columns worth carrying data through.

NOW = datetime(2026, 11, 20, 9, 30)
LATER = datetime(2026, 12, 20, 9, 30)


def _insert(conn, table: str, **values) -> None:
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({params})"), values)


def _data_signing_slice(conn) -> None:
    """d34629f5abb6: a staff user, an organization with a contact, a signed proposal."""
    _insert(
        conn, "catalog_items", id=101, code="MOW", name="Mowing", unit_price="45.00", currency="USD", is_active=True
    )
    _insert(conn, "organizations", id=101, name="Old Oak Gardens", is_active=True, created_at=NOW)
    _insert(
        conn,
        "staff_users",
        id=101,
        email="rep@example.test",
        name="Rep",
        password_hash="x",
        role="sales",
        timezone="UTC",
        is_enabled=True,
        created_at=NOW,
    )
    _insert(conn, "staff_sessions", id="s" * 40, user_id=101, created_at=NOW, ip="127.0.0.1", user_agent="pytest")
    _insert(
        conn,
        "contacts",
        id=101,
        organization_id=101,
        first_name="Cora",
        last_name="Contact",
        email="cora@example.test",
        phone=None,
        timezone="UTC",
        is_active=True,
        portal_enabled=True,
        created_at=NOW,
    )
    _insert(
        conn,
        "proposals",
        id=101,
        number=1001,
        revision=1,
        previous_id=None,
        organization_id=101,
        contact_id=101,
        sales_rep_id=101,
        title="Spring care",
        currency="USD",
        terms="",
        internal_notes="",
        status="signed",
        content_version=1,
        delivered_at=NOW,
        signed_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    _insert(
        conn,
        "proposal_lines",
        id=101,
        proposal_id=101,
        catalog_item_id=101,
        position=1,
        description="Weekly mowing",
        quantity="4.000",
        unit_price="45.00",
        is_optional=False,
    )
    _insert(conn, "proposal_events", id=101, proposal_id=101, kind="delivered", staff_id=101, detail="", created_at=NOW)
    _insert(
        conn,
        "portal_links",
        id=101,
        token_hash="a" * 64,
        contact_id=101,
        target_type="proposal",
        target_id=101,
        created_at=NOW,
        expires_at=LATER,
        created_by_id=101,
    )
    _insert(
        conn,
        "signatures",
        id=101,
        proposal_id=101,
        contact_id=101,
        portal_link_id=101,
        signer_name="Cora Contact",
        image_png=b"\x89PNG\r\n\x1a\n",
        strokes_json="[]",
        selected_line_ids="[]",
        signed_total="180.00",
        currency="USD",
        content_hash="b" * 64,
        consent_version="1",
        signed_at=NOW,
    )
    _insert(
        conn,
        "outbox_messages",
        id=101,
        message_id="<101@example.test>",
        to_addr="cora@example.test",
        subject="Your proposal",
        body_text="Hello",
        kind="proposal_delivered",
        status="sent",
        attempts=1,
        next_attempt_at=NOW,
        created_at=NOW,
        sent_at=NOW,
    )


def _data_organizations(conn) -> None:
    """ee713271e4f3: a parent organization, a team, a portal sign-in, new contact fields."""
    _insert(
        conn,
        "organizations",
        id=102,
        name="Parent Holdings",
        name_key="parent holdings",
        is_active=True,
        created_at=NOW,
    )
    conn.execute(
        text("UPDATE organizations SET parent_id = 102, city = 'Springfield', city_key = 'springfield' WHERE id = 101")
    )
    _insert(conn, "organization_team", organization_id=101, staff_id=101)
    _insert(
        conn,
        "contacts",
        id=102,
        organization_id=102,
        first_name="Pat",
        last_name="Parent",
        email="pat@example.test",
        timezone="UTC",
        is_active=True,
        portal_enabled=True,
        created_at=NOW,
        portal_level="organization_tree",
        portal_epoch=2,
        is_primary=True,
        title="Owner",
    )
    _insert(
        conn,
        "portal_sign_ins",
        id=101,
        contact_id=102,
        token_hash="c" * 64,
        code_hash="d" * 64,
        created_at=NOW,
        expires_at=LATER,
        failed_attempts=0,
    )


def _data_service_desk(conn) -> None:
    """83f749e22e0b: a site, an issue type, a ticket with a message and an attachment."""
    conn.execute(text("UPDATE organizations SET sla_id = 1 WHERE id = 101"))
    _insert(
        conn, "sites", id=101, organization_id=101, name="Main yard", address="1 Oak St", is_active=True, created_at=NOW
    )
    _insert(conn, "issue_types", id=101, name="Lawn", parent_id=None, sla_id=1, position=1, is_active=True)
    _insert(conn, "service_holidays", id=101, calendar_id=1, day=date(2026, 12, 25), name="Christmas")
    _insert(
        conn,
        "tickets",
        id=101,
        organization_id=101,
        contact_id=101,
        site_id=101,
        title="Brown patch",
        title_key="brown patch",
        description="By the gate",
        issue_type_id=101,
        priority="normal",
        status_id=1,
        state="open",
        sla_id=1,
        resolution_paused_minutes=0,
        submission_key="k" * 32,
        created_at=NOW,
        updated_at=NOW,
    )
    _insert(
        conn,
        "ticket_messages",
        id=101,
        ticket_id=101,
        kind="reply",
        body="By the gate",
        author_contact_id=101,
        created_at=NOW,
    )
    _insert(
        conn,
        "ticket_attachments",
        id=101,
        ticket_id=101,
        message_id=101,
        filename="photo.png",
        content_type="image/png",
        size=8,
        sha256="e" * 64,
        storage_key="f" * 64,
        created_at=NOW,
    )


def _data_languages(conn) -> None:
    """5a1c0e7d9b21: an organization with a default language, a contact with a preference."""
    _insert(
        conn,
        "organizations",
        id=103,
        name="Vivaio Roma",
        name_key="vivaio roma",
        is_active=True,
        created_at=NOW,
        default_language="it",
    )
    _insert(
        conn,
        "contacts",
        id=103,
        organization_id=103,
        first_name="Ioana",
        last_name="Pop",
        email="ioana@example.test",
        timezone="Europe/Bucharest",
        is_active=True,
        portal_enabled=True,
        created_at=NOW,
        portal_level="requester",
        portal_epoch=1,
        is_primary=True,
        title="",
        preferred_language="ro",
    )


def _data_outbox_html(conn) -> None:
    """569e0077d088: a message with both parts and the locale it was rendered in."""
    _insert(
        conn,
        "outbox_messages",
        id=102,
        message_id="<102@example.test>",
        to_addr="cora@example.test",
        subject="Your new link",
        body_text="Hello Cora,",
        body_html='<!DOCTYPE html><html lang="en"><body><p>Hello Cora,</p></body></html>',
        locale="en",
        kind="link_renewed",
        status="pending",
        attempts=0,
        next_attempt_at=NOW,
        created_at=NOW,
    )


def _data_evidence(conn) -> None:
    """f3a1c9d27b40: the signed sample proposal's evidence chain, head, mail and certificate."""
    _insert(
        conn,
        "evidence_entries",
        id=101,
        proposal_id=101,
        seq=1,
        kind="signed",
        occurred_at=NOW,
        time_zone="Europe/Bucharest",
        ip="127.0.0.1",
        user_agent="pytest",
        link_id=101,
        staff_id=None,
        contact_id=101,
        data="{}",
        prev_hash="0" * 64,
        entry_hash="a" * 64,
    )
    _insert(conn, "evidence_heads", proposal_id=101, entry_count=1, head_hash="a" * 64, updated_at=NOW)
    _insert(conn, "evidence_mails", message_id="<m101@example.test>", proposal_id=101)
    _insert(
        conn,
        "evidence_certificates",
        id=101,
        public_id="PC-AAAA-BBBB-CCCC-DDDD",
        proposal_id=101,
        signature_id=101,
        locale="ro",
        content_sha256="c" * 64,
        chain_count=1,
        chain_head="a" * 64,
        pdf=b"%PDF-1.7 sample",
        pdf_sha256="d" * 64,
        seal_fingerprint="e" * 64,
        created_at=NOW,
    )


def _data_sales(conn) -> None:
    """5a1e5c0de001: a competitor, a converted lead, its opportunity (lost, with a reason
    and the competitor) with an item line, and the sample proposal linked to it."""

    def seeded(table: str, key: str) -> int:
        return conn.execute(text(f"SELECT id FROM {table} WHERE key = :key"), {"key": key}).scalar_one()

    _insert(conn, "sales_competitors", id=101, name="Green Giants", position=10, is_active=True, key=None)
    _insert(
        conn,
        "leads",
        id=101,
        name="Lena Lead",
        name_key="lena lead old oak gardens",
        company="Old Oak Gardens",
        email="lena@example.test",
        phone="",
        address="",
        source_id=seeded("sales_sources", "website"),
        notes="",
        status="converted",
        origin="quote_page",
        rep_id=101,
        organization_id=101,
        contact_id=101,
        created_at=NOW,
        updated_at=NOW,
    )
    _insert(
        conn,
        "opportunities",
        id=101,
        title="Spring care",
        label_key="spring care old oak gardens",
        organization_id=101,
        contact_id=101,
        lead_id=101,
        type_id=seeded("sales_opportunity_types", "sales"),
        source_id=seeded("sales_sources", "website"),
        stage_id=seeded("sales_stages", "lost"),
        outcome="lost",
        amount="180.00",
        currency="USD",
        probability=None,
        expected_close_on=date(2026, 12, 15),
        rep_id=101,
        next_contact_on=date(2026, 11, 25),
        next_contact_by_id=101,
        last_customer_activity_at=NOW,
        closed_at=NOW,
        lost_detail="Cheaper elsewhere",
        created_by_id=101,
        created_at=NOW,
        updated_at=NOW,
    )
    conn.execute(text("UPDATE leads SET opportunity_id = 101 WHERE id = 101"))
    conn.execute(text("UPDATE proposals SET opportunity_id = 101 WHERE id = 101"))
    _insert(
        conn,
        "opportunity_lines",
        id=101,
        opportunity_id=101,
        position=1,
        service_id=101,
        description="Weekly mowing",
        quantity="4.000",
        unit_price="45.00",
    )
    _insert(conn, "opportunity_lost_reasons", opportunity_id=101, lost_reason_id=seeded("sales_lost_reasons", "price"))
    _insert(conn, "opportunity_competitors", opportunity_id=101, competitor_id=101)


def _data_sales_rules(conn) -> None:
    """7c3d9b21f0a4: a team with a weighted rep, a round-robin rule and its ledger, a
    flag, an absence, a calendar feed, a sent digest, a logged call, a waiting period,
    a warning and the auto-closure of the sample opportunity."""
    stage = conn.execute(text("SELECT id FROM sales_stages WHERE key = 'proposal_sent'")).scalar_one()
    _insert(conn, "sales_teams", id=101, name="Field sales", created_at=NOW)
    _insert(conn, "sales_team_members", id=101, team_id=101, staff_id=101, weight=2)
    _insert(
        conn,
        "sales_assignment_rules",
        id=101,
        name="North round robin",
        position=1,
        is_active=True,
        applies_to="any",
        source_id=None,
        type_id=None,
        zone="North",
        city="",
        amount_min="100.00",
        amount_max=None,
        rep_id=None,
        team_id=101,
        fired_count=3,
        created_at=NOW,
    )
    _insert(conn, "sales_rule_counters", rule_id=101, staff_id=101, assigned=3)
    _insert(
        conn, "sales_assignment_flags", id=101, subject_type="lead", subject_id=101, reason="No rule", created_at=NOW
    )
    _insert(
        conn,
        "staff_absences",
        id=101,
        staff_id=101,
        starts_on=date(2026, 12, 24),
        ends_on=date(2026, 12, 31),
        note="Holidays",
        created_by_id=101,
        created_at=NOW,
    )
    _insert(conn, "sales_calendar_feeds", staff_id=101, token_hash="f" * 64, created_at=NOW)
    _insert(conn, "sales_follow_up_digests", id=101, staff_id=101, day=date(2026, 11, 25), count=1, created_at=NOW)
    _insert(
        conn,
        "opportunity_activities",
        id=101,
        opportunity_id=101,
        kind="call",
        happened_at=NOW,
        text="Asked for a discount",
        staff_id=101,
        created_at=NOW,
    )
    _insert(conn, "sales_waiting_periods", opportunity_id=101, stage_id=stage, since=NOW)
    _insert(conn, "sales_auto_close_warnings", id=101, opportunity_id=101, quiet_since=NOW, created_at=NOW)
    _insert(
        conn,
        "sales_auto_closures",
        id=101,
        opportunity_id=101,
        previous_stage_id=stage,
        closed_at=NOW,
        reopened_at=None,
        reopened_by_id=None,
    )
    conn.execute(text("UPDATE organizations SET zone = 'North' WHERE id = 101"))


def _data_sales_more(conn) -> None:
    """ef13710e4b14: a supplier flag, a line cost, a supplier quote request answered for
    the sample opportunity's line, and the opportunity's first response."""
    conn.execute(text("UPDATE organizations SET is_supplier = :yes WHERE id = 101"), {"yes": True})
    conn.execute(text("UPDATE proposal_lines SET unit_cost = 30.00 WHERE proposal_id = 101"))
    _insert(
        conn,
        "supplier_quote_requests",
        id=101,
        opportunity_id=101,
        organization_id=101,
        contact_id=101,
        token_hash="d" * 64,
        currency="USD",
        message="Best prices please",
        expires_at=NOW,
        created_by_id=101,
        created_at=NOW,
        submitted_at=NOW,
        note="Until June",
    )
    _insert(
        conn,
        "supplier_quote_lines",
        id=101,
        request_id=101,
        opportunity_line_id=101,
        position=1,
        description="Weekly mowing",
        quantity="4.000",
        unit_price="30.00",
        lead_time_days=3,
    )
    _insert(
        conn,
        "opportunity_first_responses",
        opportunity_id=101,
        responded_at=NOW,
        business_minutes=42,
        staff_id=101,
        via="proposal_delivered",
        proposal_id=101,
    )


def _data_contracts(conn) -> None:
    """6d14615acd79: the sample site becomes a property (zone, notes, site contact); an
    active contract there with revision v.0 (one included, one optional service), and
    the sample opportunity selling that optional service under the contract."""
    conn.execute(
        text("UPDATE sites SET zone = 'North', notes = 'Gate code 1234', site_contact_id = 101 WHERE id = 101")
    )
    _insert(
        conn,
        "contracts",
        id=101,
        number="C-101",
        organization_id=101,
        site_id=101,
        title="Grounds care 2027",
        status="active",
        billing_cycle="monthly",
        currency="USD",
        starts_on=date(2027, 1, 1),
        ends_on=date(2027, 12, 31),
        notes="",
        created_at=NOW,
        updated_at=NOW,
    )
    _insert(
        conn, "contract_revisions", id=101, contract_id=101, number=0, included_total="180.00", note="", created_at=NOW
    )
    conn.execute(text("UPDATE contracts SET current_revision_id = 101 WHERE id = 101"))
    for line_id, kind, price in ((101, "included", "45.00"), (102, "optional", "120.00")):
        _insert(
            conn,
            "contract_lines",
            id=line_id,
            revision_id=101,
            kind=kind,
            service_id=101,
            description="Mowing",
            quantity="4.000",
            unit_price=price,
            position=1,
        )
    conn.execute(text("UPDATE opportunities SET contract_id = 101, offered_service_id = 101 WHERE id = 101"))


def _data_one_contract_per_opportunity(conn) -> None:
    """b7c41d2e9a10: the sample contract made from the sample opportunity (the unique
    index allows one contract per opportunity and any number without one)."""
    conn.execute(text("UPDATE contracts SET opportunity_id = 101 WHERE id = 101"))


def _data_campaigns(conn) -> None:
    """f37104e4ef30: a finished campaign for the optional service of contract 101, its
    one item made (the sample opportunity and proposal), the opportunity linked to it."""
    _insert(
        conn,
        "campaigns",
        id=101,
        name="Aeration 2027",
        name_key="aeration 2027",
        service_id=101,
        zone="",
        include_sub_organizations=False,
        status="done",
        created_by_id=101,
        created_at=NOW,
        started_at=NOW,
        finished_at=NOW,
        total_items=1,
        made_count=1,
        skipped_count=0,
        failed_count=0,
        run_count=1,
        delivered_count=0,
    )
    _insert(
        conn,
        "campaign_items",
        id=101,
        campaign_id=101,
        contract_id=101,
        site_id=101,
        organization_id=101,
        status="made",
        reason="",
        revision_id=101,
        revision_number=0,
        opportunity_id=101,
        proposal_id=101,
        amount="480.00",
        currency="USD",
        processed_at=NOW,
    )
    conn.execute(text("UPDATE opportunities SET campaign_id = 101 WHERE id = 101"))


def _data_revision_from_opportunity(conn) -> None:
    """a9d3f1c2b7e4: v.1 of contract 101, the revision the sample opportunity's signed
    services added (its key: one revision per opportunity)."""
    _insert(
        conn,
        "contract_revisions",
        id=102,
        contract_id=101,
        number=1,
        included_total="300.00",
        note="Added from the signed proposal",
        created_at=NOW,
        opportunity_id=101,
    )


SAMPLE_DATA: dict[str, Callable] = {
    "d34629f5abb6": _data_signing_slice,
    "ee713271e4f3": _data_organizations,
    "83f749e22e0b": _data_service_desk,
    "5a1c0e7d9b21": _data_languages,
    "569e0077d088": _data_outbox_html,
    "f3a1c9d27b40": _data_evidence,
    "5a1e5c0de001": _data_sales,
    "7c3d9b21f0a4": _data_sales_rules,
    "ef13710e4b14": _data_sales_more,
    "6d14615acd79": _data_contracts,
    "b7c41d2e9a10": _data_one_contract_per_opportunity,
    "f37104e4ef30": _data_campaigns,
    "a9d3f1c2b7e4": _data_revision_from_opportunity,
}


def _check_organization_keys(conn) -> None:
    """ee713271e4f3 fills the search key of organizations that existed before it."""
    assert conn.execute(text("SELECT name_key FROM organizations WHERE id = 101")).scalar_one() == "old oak gardens"


# Checks run right after a revision was applied over the earlier revisions' rows.
UPGRADE_CHECKS: dict[str, Callable] = {"ee713271e4f3": _check_organization_keys}


def _check_timeline(conn) -> None:
    """d6c637be2c9e moved the proposal's events (and any ticket change events) into
    the one timeline: the sample's delivered event is there, under its proposal."""
    rows = conn.execute(
        text("SELECT subject_type, subject_id, kind FROM timeline_entries WHERE subject_type = 'proposal'")
    ).all()
    assert [tuple(row) for row in rows] == [("proposal", 101, "delivered")]


# Revisions that move rows from one table to another on purpose: those tables' counts
# change on the way up (the way down must still restore them exactly), and a check
# says where the rows went.
ROWS_MOVED: dict[str, set[str]] = {"d6c637be2c9e": {"proposal_events", "ticket_messages"}}
MOVE_CHECKS: dict[str, Callable] = {"d6c637be2c9e": _check_timeline}


def _row_counts(conn) -> dict[str, int]:
    names = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
    return {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() for name in names}


def _with_connection(app, action):
    with app.app_context(), db.engine.begin() as conn:
        return action(conn)


def test_each_revision_goes_up_and_down_with_data_in_place(migration_app):
    """Every revision in order: applied over the earlier rows, taken back down and up
    again without losing them, then given its own rows; at the end the whole chain goes
    down to base and back up to head with all the rows in place."""
    revisions = _revisions(migration_app)
    assert revisions, "no migrations found"
    assert revisions[0].down_revision is None
    hooked = set()
    for revision in revisions:
        with migration_app.app_context():
            before = _with_connection(migration_app, _row_counts)
            upgrade(revision=revision.revision)
            if revision.revision in UPGRADE_CHECKS:
                _with_connection(migration_app, UPGRADE_CHECKS[revision.revision])
            downgrade(revision=revision.down_revision or "base")
            assert _with_connection(migration_app, _row_counts) == before, f"{revision.revision} down lost rows"
            upgrade(revision=revision.revision)
            after = _with_connection(migration_app, _row_counts)
            kept = set(before) - ROWS_MOVED.get(revision.revision, set())
            assert {name: after[name] for name in kept} == {name: before[name] for name in kept}, (
                f"{revision.revision} up lost rows"
            )
            if revision.revision in MOVE_CHECKS:
                _with_connection(migration_app, MOVE_CHECKS[revision.revision])
            if revision.revision in SAMPLE_DATA:
                _with_connection(migration_app, SAMPLE_DATA[revision.revision])
                hooked.add(revision.revision)
    assert hooked == set(SAMPLE_DATA), f"sample data for unknown revisions: {set(SAMPLE_DATA) - hooked}"
    with migration_app.app_context():
        loaded = _with_connection(migration_app, _row_counts)
        assert loaded["tickets"] and loaded["signatures"] and loaded["portal_sign_ins"], loaded
        downgrade(revision="base")
        assert _tables(migration_app) <= {"alembic_version"}
        upgrade()
    assert _differences(migration_app) == []


def test_there_is_a_single_head():
    from pathlib import Path

    script = ScriptDirectory(str(Path(__file__).resolve().parent.parent / "migrations"))
    assert len(script.get_heads()) == 1, script.get_heads()


# --- the models against upgrade head ------------------------------------------------

# Columns added to a table that already had rows carry the server default that filled
# those rows (ee713271e4f3); the models set the same values client-side (``default=``)
# and declare no server default. (table, column) -> the default as the engine reports it.
KNOWN_SERVER_DEFAULTS = {
    ("contacts", "portal_level"): "requester",
    ("contacts", "portal_epoch"): "1",
    ("contacts", "is_primary"): "false",
    ("contacts", "title"): "",
    ("organizations", "name_key"): "",
    ("organizations", "city"): "",
    ("organizations", "city_key"): "",
    ("organizations", "bill_to_parent"): "false",
    ("organizations", "invoice_template"): "standard",
    ("organizations", "tax_region"): "none",
    ("organizations", "tax_id"): "",
    ("organizations", "tax_id_key"): "",
    ("organizations", "billing_address"): "",
    ("organizations", "billing_attention"): "",
    ("organizations", "zone"): "",
    ("sites", "zone"): "",
    ("sites", "notes"): "",
}


def _search_keys() -> set[tuple[str, str]]:
    """The lower-cased search keys: indexed ``*_key`` columns. On PostgreSQL they are
    searched by byte-order range, so the migration gives them COLLATE "C"
    (83f749e22e0b); a model that does not declare it yet gets the database's default
    collation from create_all, a known difference (the collation is checked on its own)."""
    return {
        (table.name, column.name)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_key") and column.index
    }


def _normal_default(value) -> str | None:
    """A reflected server default without the engine's quoting and casts (SQLite says
    ``'0'`` for false, PostgreSQL ``'x'::character varying``)."""
    if value is None:
        return None
    value = re.sub(r"::[a-z ]+(\(\d+\))?$", "", str(value).strip()).strip("'\"")
    return "false" if value == "0" else value


def _differences(app) -> list:
    """What autogenerate would put in a new migration (types and server defaults compared),
    less the known server defaults; empty when the models match the schema."""
    found = []
    with app.app_context(), db.engine.connect() as conn:
        opts = dict(app.extensions["migrate"].configure_args, compare_type=True, compare_server_default=True)
        context = MigrationContext.configure(conn, opts=opts)
        for diff in compare_metadata(context, db.metadata):
            # A column change comes as a list of one-step changes.
            steps = diff if isinstance(diff, list) else [diff]
            for step in steps:
                if step[0] == "modify_default" and (step[2], step[3]) in KNOWN_SERVER_DEFAULTS and step[6] is None:
                    continue
                found.append(step)
    return found


def _where(options: dict) -> str | None:
    clause = options.get("sqlite_where") if "sqlite_where" in options else options.get("postgresql_where")
    if clause is None:
        return None
    return re.sub(r"[\s()]+", "", str(clause)).lower()


def _schema(app) -> dict:
    """The database as the engine reflects it, normalized for comparison."""
    schema = {}
    with app.app_context(), db.engine.connect() as conn:
        inspector = inspect(conn)
        dialect = conn.dialect
        for table in db.metadata.sorted_tables:
            name = table.name
            columns = {}
            for column in inspector.get_columns(name):
                kind = column["type"]
                collation = getattr(kind, "collation", None)
                if collation is not None:
                    kind = kind.copy()
                    kind.collation = None
                columns[column["name"]] = {
                    "type": kind.compile(dialect=dialect),
                    "nullable": column["nullable"],
                    "default": _normal_default(column.get("default")),
                    "collation": collation,
                }
            schema[name] = {
                "columns": columns,
                "indexes": {
                    index["name"]: (
                        tuple(index["column_names"]),
                        bool(index["unique"]),
                        _where(index.get("dialect_options", {})),
                    )
                    for index in inspector.get_indexes(name)
                },
                "unique": {
                    unique["name"]: tuple(unique["column_names"]) for unique in inspector.get_unique_constraints(name)
                },
                "foreign_keys": {
                    fk["name"]: (
                        tuple(fk["constrained_columns"]),
                        fk["referred_table"],
                        tuple(fk["referred_columns"]),
                        (fk.get("options") or {}).get("ondelete"),
                    )
                    for fk in inspector.get_foreign_keys(name)
                },
                "primary_key": tuple(inspector.get_pk_constraint(name)["constrained_columns"]),
            }
    return schema


def _schema_differences(migrated: dict, modelled: dict, engine: str) -> list:
    """Every difference between the two reflections, less the known ones."""
    found = []
    keys = _search_keys() if engine == "postgresql" else set()
    for table in sorted(set(migrated) | set(modelled)):
        left, right = migrated.get(table), modelled.get(table)
        if left is None or right is None:
            found.append((table, "table", left is not None, right is not None))
            continue
        for name in sorted(set(left["columns"]) | set(right["columns"])):
            mine, theirs = left["columns"].get(name), right["columns"].get(name)
            if mine is None or theirs is None:
                found.append((table, name, "column", mine, theirs))
                continue
            for attribute in ("type", "nullable", "default", "collation"):
                a, b = mine[attribute], theirs[attribute]
                if a == b:
                    continue
                if attribute == "default" and b is None and KNOWN_SERVER_DEFAULTS.get((table, name)) == a:
                    continue
                if attribute == "collation" and (table, name) in keys and a == "C" and b is None:
                    continue  # the models do not declare the "C" collation (checked on its own below)
                found.append((table, name, attribute, a, b))
        for part in ("indexes", "unique", "foreign_keys", "primary_key"):
            if left[part] != right[part]:
                found.append((table, part, left[part], right[part]))
    return found


def _keys_not_in_byte_order(schema: dict) -> dict:
    """PostgreSQL: the search keys whose collation is not "C", with the one they have."""
    collations = {key: schema[key[0]]["columns"][key[1]]["collation"] for key in _search_keys()}
    return {key: collation for key, collation in collations.items() if collation != "C"}


def test_upgrade_head_builds_exactly_the_schema_of_the_models(migration_app, request, tmp_path, tmp_path_factory):
    engine = request.node.callspec.params["migration_app"]
    assert _tables(migration_app) == set()
    with migration_app.app_context():
        upgrade()
    assert _tables(migration_app) == {t.name for t in db.metadata.sorted_tables} | {"alembic_version"}
    assert _differences(migration_app) == []

    with _empty_database(engine, tmp_path, tmp_path_factory) as models_app:
        _create_models(models_app, engine)
        modelled = _schema(models_app)
    migrated = _schema(migration_app)
    assert _schema_differences(migrated, modelled, engine) == []

    if engine == "postgresql":
        assert _search_keys(), "no search-key columns found"
        assert _keys_not_in_byte_order(migrated) == {}


def _create_models(app, engine: str) -> None:
    """``metadata.create_all()`` on the app's empty database. On PostgreSQL the models
    name ``gin_trgm_ops`` unqualified (the migration names it by the extension's
    schema), so the extension's schema joins this connection's search path, after the
    throwaway schema the tables go to."""
    with app.app_context(), db.engine.begin() as conn:
        if engine == "postgresql":
            found = conn.execute(
                text(
                    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE e.extname = 'pg_trgm'"
                )
            ).scalar()
            if found:
                current = conn.execute(text("SELECT current_schema()")).scalar_one()
                conn.execute(text(f'SET LOCAL search_path TO "{current}", "{found}"'))
        # checkfirst off: with the extension's schema on the path, another schema's tables
        # (the suite's own, in public) would look present and be skipped.
        db.metadata.create_all(conn, checkfirst=False)


def test_the_schema_comparison_sees_drift(migration_app, request, tmp_path, tmp_path_factory):
    """The comparison is not blind: an index, a default, a nullable flag and (PostgreSQL)
    a collation changed behind the models' back are each reported."""
    engine = request.node.callspec.params["migration_app"]
    with migration_app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_tickets_state_id"))
            conn.execute(text("CREATE INDEX ix_tickets_state_id ON tickets (state)"))
            conn.execute(text("CREATE UNIQUE INDEX ix_drift_sites_name ON sites (name) WHERE is_active"))
            if engine == "postgresql":
                conn.execute(text("ALTER TABLE sites ALTER COLUMN address SET DEFAULT 'nowhere'"))
                conn.execute(text("ALTER TABLE sites ALTER COLUMN address DROP NOT NULL"))
                conn.execute(text("ALTER TABLE tickets ALTER COLUMN title_key TYPE VARCHAR(200)"))
    with _empty_database(engine, tmp_path, tmp_path_factory) as models_app:
        _create_models(models_app, engine)
        modelled = _schema(models_app)
    migrated = _schema(migration_app)
    found = [item[:3] for item in _schema_differences(migrated, modelled, engine)]
    assert ("tickets", "indexes") in [item[:2] for item in found], found
    assert ("sites", "indexes") in [item[:2] for item in found], found
    if engine == "postgresql":
        assert ("sites", "address", "default") in found, found
        assert ("sites", "address", "nullable") in found, found
        assert list(_keys_not_in_byte_order(migrated)) == [("tickets", "title_key")]


def test_models_name_their_constraints_and_indexes(migration_app):
    """Named constraints let later migrations drop and alter them on every engine."""
    with migration_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            inspector = inspect(conn)
            for table in db.metadata.sorted_tables:
                for fk in inspector.get_foreign_keys(table.name):
                    assert fk.get("name"), (table.name, fk)
                for unique in inspector.get_unique_constraints(table.name):
                    assert unique.get("name"), (table.name, unique)


SEARCH_KEYS_REVISION = "d1815e33b2df"


def test_search_keys_are_case_folded_in_python_and_one_default_sla_is_kept(migration_app):
    """Rows written before the search-keys revision, with keys as SQL ``lower()`` left
    them (SQLite folds only ASCII: "Ştefan" kept its capital), are found after it; of
    two default SLAs the older keeps the flag."""
    from portal.access.staff import staff_organizations_query
    from portal.domains.customers.organizations import list_organizations
    from portal.domains.identity.models import StaffUser

    script = ScriptDirectory(migration_app.extensions["migrate"].directory)
    previous = script.get_revision(SEARCH_KEYS_REVISION).down_revision
    with migration_app.app_context():
        upgrade(revision=previous)
        with db.engine.begin() as conn:
            for name, city, tax_id in (("ŞTEFAN Instalaţii", "Iaşi", "RO 44170"), ("Ñoño Jardines", "Málaga", "")):
                old_key = "".join(ch.lower() if ch.isascii() else ch for ch in name)  # SQLite's lower()
                conn.execute(
                    text(
                        "INSERT INTO organizations (name, name_key, city, city_key, tax_id, tax_id_key,"
                        " bill_to_parent, invoice_template, tax_region, billing_address, billing_attention,"
                        " is_active, created_at) VALUES (:name, :key, :city, :city, :tax, :tax, false, 'standard',"
                        " 'none', 'x', '', true, CURRENT_TIMESTAMP)"
                    ),
                    {"name": name, "key": old_key, "city": city, "tax": tax_id},
                )
            conn.execute(
                text(
                    "INSERT INTO slas (name, is_shared, is_default, created_at)"
                    " VALUES ('Second default', true, true, CURRENT_TIMESTAMP)"
                )
            )
        upgrade()
        admin = StaffUser(email="admin@example.test", name="Admin", role="admin", password_hash="x")
        db.session.add(admin)
        db.session.flush()
        base = staff_organizations_query(admin)
        for query, found in (
            ("ştefan", "ŞTEFAN Instalaţii"),
            ("ŞTEFAN", "ŞTEFAN Instalaţii"),
            ("ñoño", "Ñoño Jardines"),
            ("iaşi", "ŞTEFAN Instalaţii"),
            ("4417", "ŞTEFAN Instalaţii"),
            ("jardines", "Ñoño Jardines"),
        ):
            assert [o.name for o in list_organizations(base, query).organizations] == [found], query
        defaults = db.session.execute(text("SELECT name FROM slas WHERE is_default ORDER BY id")).scalars().all()
        assert defaults == ["Standard"]
        db.session.rollback()
