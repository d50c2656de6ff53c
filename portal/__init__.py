"""Porchlight: a customer portal and back office for service businesses."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request, session
from flask_login import current_user
from sqlalchemy import event

from portal.core.config import Config, engine_options


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides the environment (tests use it)."""
    from portal.core.flask_app import PortalFlask

    app = PortalFlask(__name__, instance_path=os.environ.get("INSTANCE_PATH") or None)
    from portal.core.parsing import BoundedIntConverter, nul_free_request

    app.url_map.converters["int"] = BoundedIntConverter  # before any route: every <int:> is bounded
    from portal.core.sessions import CachedCookieSessionInterface

    app.session_interface = CachedCookieSessionInterface()
    app.config.from_object(Config(app.instance_path))
    if config:
        app.config.update(config)
        if "SQLALCHEMY_DATABASE_URI" in config and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(config["SQLALCHEMY_DATABASE_URI"])

    _trust_proxies(app)
    _init_extensions(app)
    app.request_class = nul_free_request(app.request_class)  # after htmx-flask sets its own
    _register_blueprints(app)
    from portal.domains.sales import pipeline

    pipeline.connect()  # the sales domain follows the proposals' events

    from portal.cli import init_cli
    from portal.core import error_pages as errors
    from portal.core import security, templating

    security.init_security(app)
    errors.init_errors(app)
    templating.init_templating(app)
    init_cli(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXY_HOPS`` load balancers, take the client's address and scheme
    from the headers they add, so per-IP limits and signature evidence see the customer,
    not the proxy. The host is never taken from a header (links use ``BASE_URL``)."""
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def load_models() -> None:
    """Import every domain's models so their tables are on the metadata (Alembic, tests)."""
    from portal.domains.campaigns import models as _campaigns  # noqa: F401
    from portal.domains.contracts import models as _contracts  # noqa: F401
    from portal.domains.customers import models as _customers  # noqa: F401
    from portal.domains.identity import models as _identity  # noqa: F401
    from portal.domains.proposals import evidence_models as _evidence  # noqa: F401
    from portal.domains.proposals import models as _proposals  # noqa: F401
    from portal.domains.sales import first_response as _first_response  # noqa: F401  (its signal receivers)
    from portal.domains.sales import models as _sales  # noqa: F401
    from portal.domains.sales import models_more as _sales_more  # noqa: F401
    from portal.domains.sales import models_rules as _sales_rules  # noqa: F401
    from portal.domains.service_desk import models as _service_desk  # noqa: F401
    from portal.domains.timeline import models as _timeline  # noqa: F401
    from portal.jobs import models as _jobs  # noqa: F401
    from portal.mail import models as _mail  # noqa: F401


def _init_extensions(app: Flask) -> None:
    load_models()
    from sqlalchemy.engine import make_url

    from portal.core.assets import init_assets
    from portal.core.extensions import babel, compress, csrf, db, htmx, limiter, login_manager, migrate
    from portal.core.queries.search import autogenerate_filter

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
        compare_type=True,
        include_object=autogenerate_filter(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()),
    )
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    # Every limit is declared on its view (``@limiter.limit``), whose wrapper checks it;
    # there are no default or app-wide limits, so Flask-Limiter's global before_request
    # check finds nothing to do on every request and costs a fifth of a cached page.
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:  # absent when RATELIMIT_ENABLED is off
        hooks.remove(limiter._check_request_limit)
    compress.init_app(app)
    from portal.core.flask_app import skip_compress_when_done, skip_idle_limiter_hooks

    skip_idle_limiter_hooks(app, limiter)
    skip_compress_when_done(app, compress)

    @app.after_request  # registered after Compress, so it runs before Compress's hook
    def _close_streamed_body(response):
        # Flask-Compress swaps a streamed body (a static file's wrapper) for a compressing
        # generator and never closes the original file: close it with the response.
        body = response.response
        if response.is_streamed and hasattr(body, "close"):
            response.call_on_close(body.close)
        return response

    init_assets(app)
    from portal.core.i18n import init_i18n, select_locale

    init_i18n(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=_select_timezone)

    login_manager.init_app(app)
    login_manager.login_view = "admin.auth.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # the server-side session record does this job

    @login_manager.user_loader
    def load_user(user_id: str):
        from portal.domains.identity.staff import load_session_user

        return load_session_user(session.get("staff_sid"), user_id)

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _register_blueprints(app: Flask) -> None:
    from admin import bp as admin_bp
    from portal.contracts.views import bp as contracts_bp
    from portal.home.views import bp as home_bp
    from portal.languages.views import bp as languages_bp
    from portal.links.views import bp as links_bp
    from portal.proposals.views import bp as proposals_bp
    from portal.quotes.views import bp as quotes_bp
    from portal.sign_in.views import bp as sign_in_bp
    from portal.supplier_quotes.views import bp as supplier_quotes_bp
    from portal.tickets.views import bp as tickets_bp
    from portal.verify.views import bp as verify_bp

    app.register_blueprint(links_bp)
    app.register_blueprint(proposals_bp)
    app.register_blueprint(sign_in_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(languages_bp)
    app.register_blueprint(verify_bp)
    app.register_blueprint(quotes_bp)
    app.register_blueprint(supplier_quotes_bp)
    app.register_blueprint(contracts_bp)
    app.register_blueprint(admin_bp)

    @app.get("/")
    def index():
        from flask import render_template

        return render_template("home.html")

    @app.get("/favicon.ico")
    def favicon():
        # Browsers ask for /favicon.ico whatever the page links; answer it, not a 404.
        return app.send_static_file("favicon.ico")

    @app.get("/healthz")
    def healthz():
        return {"ok": True}


def _select_timezone():
    from flask import g

    from portal.core.i18n import babel_zone

    if getattr(g, "timezone", None):
        return babel_zone(g.timezone)
    if request and request.blueprint and request.blueprint.startswith("admin") and current_user.is_authenticated:
        zone = current_user.timezone
        return babel_zone(zone) if isinstance(zone, str) else zone
    return None
