"""Fixtures: the app on SQLite (default) or PostgreSQL (``TEST_DATABASE_URL``).

The schema comes from ``flask db upgrade``, so every run also exercises the
migrations. Each test starts from empty tables (rows are deleted after each test;
tests that need real concurrency commit for real, so no wrapping transaction).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from portal import create_app
from portal.core.extensions import db
from portal.core.pagecache import render_cache
from tests import factories


def _database_url(tmp_path_factory) -> str:
    url = worker_database_url()
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


_WORKER_DATABASES: dict[str, str] = {}


def worker_database_url() -> str | None:
    """``TEST_DATABASE_URL``, or under pytest-xdist this worker's own database beside it.

    Each session drops and rebuilds the schema (``_reset_schema``), so two workers on one
    PostgreSQL database would drop each other's tables: worker ``gw0`` of ``.../test`` uses
    ``.../test_gw0``, created on first use. Without xdist (or on SQLite, where every worker
    has its own temporary file) this is ``TEST_DATABASE_URL`` itself. Everything that
    reaches the test database (the session app, the migration tests, worker subprocesses
    through the app's URI) goes through here.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker or not url.startswith(("postgres://", "postgresql")):
        return url
    if url not in _WORKER_DATABASES:
        _WORKER_DATABASES[url] = _create_worker_database(url, worker)
    return _WORKER_DATABASES[url]


def _create_worker_database(url: str, worker: str) -> str:
    """Create ``<dbname>_<worker>`` if missing, through a connection to the given database."""
    import time

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    given = make_url(url)
    name = f"{given.database}_{worker}"
    admin = create_engine(given.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(10):
            with admin.connect() as conn:
                if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar():
                    break
                try:
                    conn.execute(text('CREATE DATABASE "{}"'.format(name.replace('"', '""'))))
                    break
                except DBAPIError as exc:
                    # Two workers copying template1 at the same instant: one is refused
                    # ("being accessed by other users"); wait and look again.
                    if attempt == 9:
                        raise
                    print(f"{worker}: CREATE DATABASE {name} refused ({exc.orig}); retrying", flush=True)
            time.sleep(0.5 + attempt)
    finally:
        admin.dispose()
    return given.set(database=name).render_as_string(hide_password=False)


def pytest_configure(config) -> None:
    """Under pytest-xdist, build the asset bundles once in the controller, before any worker.

    Otherwise every worker's first page builds them (a fresh checkout has no
    ``static/gen/``), writing the same files in ``portal/static`` at the same time as
    the other worker's live server may be serving them. This also makes the
    ``instance/`` folder (its secret key) before the workers start.
    """
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    from portal.core.assets import BUNDLES

    application = create_app({"TESTING": True, "SECRET_KEY": "assets", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with application.app_context():
        for bundle in BUNDLES.values():
            bundle.urls()


def pytest_collection_modifyitems(config, items) -> None:
    """Under pytest-xdist, tests marked ``slow`` go first (the same stable order on every worker).

    Collected in file order, the admin fuzz test (a few minutes) comes near the end,
    and one worker would run it alone while the other sits idle.
    """
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _reset_schema(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()


def make_app(tmp_path_factory, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "BASE_URL": "https://portal.example.test",
        "SESSION_COOKIE_SECURE": False,
        "MAIL_SERVER": None,
        "SERVER_NAME": None,
        "ATTACHMENTS_DIR": str(tmp_path_factory.mktemp("attachments")),
    }
    # The tests' own seal key (made once per session, below), never the instance's.
    seal = _seal_dir(tmp_path_factory)
    config["SEAL_KEY_PATH"] = str(seal / "seal-key.pem")
    config["SEAL_CERT_PATH"] = str(seal / "seal-cert.pem")
    config.update(overrides)
    return create_app(config)


_SEAL_DIRS: dict[int, object] = {}


def _seal_dir(tmp_path_factory):
    """One directory per test session for the seal key and certificate."""
    key = id(tmp_path_factory)
    if key not in _SEAL_DIRS:
        _SEAL_DIRS[key] = tmp_path_factory.mktemp("seal")
    return _SEAL_DIRS[key]


def _reference_rows(app) -> dict[str, list[dict]]:
    """The rows the migrations themselves insert (default statuses, calendar, SLA),
    read once after ``upgrade`` so every test starts from a new install's data."""
    rows = {}
    with app.app_context(), db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            found = [dict(r._mapping) for r in conn.execute(table.select())]
            if found:
                rows[table.name] = found
    return rows


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The app under test, with CSRF and rate limits off (tests of those turn them on)."""
    application = make_app(tmp_path_factory)
    _reset_schema(application)
    with application.app_context():
        from portal.core.sealing import create_seal_key

        create_seal_key("Porchlight tests seal", "Porchlight tests")
    application.extensions["test_reference_rows"] = _reference_rows(application)
    yield application
    with application.app_context():  # close pooled connections (psycopg warns about unclosed ones)
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Empty every table after each test that used the database."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    render_cache(application).clear()  # ids restart: a cached page must not outlive its rows
    with application.app_context():
        db.session.remove()
        # A statement listener left on the engine (``event.listen(..., once=True)`` stays
        # registered) sends the portal's driver queries through SQLAlchemy for the rest
        # of the session: another test's assertions would then be about a different path.
        leftover = list(db.engine.dispatch.before_cursor_execute)
        if leftover:
            db.engine.dispatch.before_cursor_execute.clear()
            pytest.fail(f"the test left statement listeners on the engine: {leftover}")
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                # The evidence log refuses DELETE (a trigger): lift it while emptying.
                from portal.domains.proposals.evidence_models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL

                for statement in DROP_APPEND_ONLY_DDL["sqlite"]:
                    conn.execute(text(statement))
                # Checked at commit, when every table is empty: leads and opportunities
                # point at each other (a cycle no delete order satisfies).
                conn.execute(text("PRAGMA defer_foreign_keys = ON"))
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))
                for statement in APPEND_ONLY_DDL["sqlite"]:
                    conn.execute(text(statement))
            _restore_reference_rows(conn, application.extensions["test_reference_rows"])


def _restore_reference_rows(conn, reference: dict[str, list[dict]]) -> None:
    for table in db.metadata.sorted_tables:
        if table.name in reference:
            conn.execute(table.insert(), reference[table.name])
            if conn.dialect.name == "postgresql" and "id" in table.c:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    )
                )


@pytest.fixture
def rate_limited_app(app, tmp_path_factory):
    """A second app on the same database with rate limits on.

    Flask-Limiter reads RATELIMIT_ENABLED in ``init_app`` and keeps it on the shared
    ``limiter`` object, so the flag is put back (and the counters cleared) afterwards,
    or every later test would be rate limited too.
    """
    from portal.core.extensions import limiter

    limited = make_app(
        tmp_path_factory, RATELIMIT_ENABLED=True, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"]
    )
    limiter.reset()
    try:
        yield limited
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app) -> Iterator[None]:
    """An app context for service tests (HTTP tests open their own around setup)."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def make(app):
    """The factories of ``tests/factories.py``, each committing its objects."""
    return factories.Factories(app)


@pytest.fixture
def login(app):
    """``login(client, user)``: sign a staff user in through the real form."""

    def do_login(test_client, user, password=factories.PASSWORD):
        response = test_client.post("/admin/login", data={"email": user.email, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return response

    return do_login


@pytest.fixture
def open_link():
    """``open_link(client, token)``: open a portal link; returns the page it leads to."""

    def do_open(test_client, token):
        response = test_client.get(f"/l/{token}")
        assert response.status_code == 303, response.status_code
        return test_client.get(response.headers["Location"])

    return do_open


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter:`` counts SQL statements run inside."""

    @contextmanager
    def counting():
        counter = QueryCounter()
        with app.app_context():
            engine = db.engine

        def before(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
                counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


# --- a real SMTP server on loopback ---------------------------------------------


class RecordingHandler:
    """aiosmtpd handler that keeps messages, or refuses them with a chosen reply."""

    def __init__(self):
        self.messages: list = []
        self.reject_with: str | None = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.reject_with:
            return self.reject_with
        from email import message_from_bytes, policy

        with self.lock:
            # policy.default: EmailMessage objects (get_body, decoded headers), as a client parses them
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class MailServer:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.handler = RecordingHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=0)
        self.port: int | None = None

    def start(self):
        # port 0 is not supported by every aiosmtpd version: pick a free port ourselves
        import socket

        if self.port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self.controller.port = self.port
        self.controller.start()

    def stop(self):
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages


@pytest.fixture
def mail_server(app):
    """A real SMTP server (aiosmtpd) on loopback; the app is pointed at it."""
    server = MailServer()
    server.start()
    old = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_TIMEOUT=5)
    yield server
    app.config.update(old)
    try:
        server.stop()
    except Exception:  # already stopped by the test
        pass


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)
