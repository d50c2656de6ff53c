"""Migrations: ``upgrade head`` builds exactly the models' schema; every revision goes up and down.

Each run uses its own app and database (a fresh SQLite file; on PostgreSQL runs also a
throwaway schema), never the session database the other tests share.
"""

from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from portal.core.extensions import db
from tests.conftest import make_app

ENGINES = ["sqlite"]
if (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres"):
    ENGINES.append("postgresql")


def _pg_url() -> str:
    url = os.environ["TEST_DATABASE_URL"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _dispose(application) -> None:
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=ENGINES)
def migration_app(request, tmp_path, tmp_path_factory):
    """An app on an empty database of its own, with no tables at all."""
    if request.param == "sqlite":
        application = make_app(tmp_path_factory, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'migrations.db'}")
        yield application
        _dispose(application)
        return
    # PostgreSQL: a throwaway schema, first on the search path of the app's connections
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


def _differences(app) -> list:
    """What autogenerate would put in a new migration: empty when models match the schema."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=dict(app.extensions["migrate"].configure_args))
        return compare_metadata(context, db.metadata)


def _tables(app) -> set[str]:
    with app.app_context(), db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _revisions(app) -> list:
    """Every revision, oldest first."""
    script = ScriptDirectory(app.extensions["migrate"].directory)
    return list(reversed(list(script.walk_revisions())))


def test_upgrade_head_builds_exactly_the_schema_of_the_models(migration_app):
    assert _tables(migration_app) == set()
    with migration_app.app_context():
        upgrade()
    assert _tables(migration_app) == {t.name for t in db.metadata.sorted_tables} | {"alembic_version"}
    assert _differences(migration_app) == []


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(migration_app):
    with migration_app.app_context():
        upgrade()
        downgrade(revision="base")
    assert _tables(migration_app) <= {"alembic_version"}
    with migration_app.app_context():
        upgrade()
    assert _differences(migration_app) == []


def test_each_revision_goes_up_and_down(migration_app):
    revisions = _revisions(migration_app)
    assert revisions, "no migrations found"
    assert revisions[0].down_revision is None
    for revision in revisions:
        with migration_app.app_context():
            upgrade(revision=revision.revision)
            before = _tables(migration_app)
            downgrade(revision=revision.down_revision or "base")
            upgrade(revision=revision.revision)
        assert _tables(migration_app) == before, revision.revision
    assert _differences(migration_app) == []


def test_there_is_a_single_head():
    from pathlib import Path

    script = ScriptDirectory(str(Path(__file__).resolve().parent.parent / "migrations"))
    assert len(script.get_heads()) == 1, script.get_heads()


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
