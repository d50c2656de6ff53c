"""Error pages: clear words for people, the right status for machines."""

from __future__ import annotations

from flask import Flask, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from portal.core.extensions import db, login_manager
from portal.core.htmx import render_page

# The customer blueprints whose objects need a portal session.
PORTAL_BLUEPRINTS = ("proposals", "tickets", "home")


def error_page(status: int, title: str, message: str):
    return render_page("errors/error.html", status=status, title=title, message=message)


def _offer_sign_in():
    """No portal session (never, or it ended): the sign-in page, and back here after.
    The answer is the same whether the object exists or not."""
    path = request.full_path.rstrip("?") if request.method == "GET" else None
    location = url_for("sign_in.start", next=path) if path else url_for("sign_in.start")
    if getattr(request, "htmx", None):
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303)


def init_errors(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_error):
        if g.get("portal_sign_in_needed") and request.blueprint in PORTAL_BLUEPRINTS:
            return _offer_sign_in()
        return error_page(
            404, _("Page not found"), _("This page does not exist, or you need the link from your email to see it.")
        )

    @app.errorhandler(405)
    def not_allowed(_error):
        return error_page(405, _("Not allowed"), _("This address does not accept that kind of request."))

    @app.errorhandler(413)
    def too_large(_error):
        return error_page(
            413, _("Too large"), _("What you sent is too large. Go back, make it smaller, and try again.")
        )

    @app.errorhandler(429)
    def too_many(_error):
        return error_page(429, _("Too many attempts"), _("Please wait a few minutes, then try again."))

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        # A contact who spent longer than the token's lifetime on the sign form keeps
        # their name and drawing: the form comes back filled in with a fresh token.
        if request.endpoint in CSRF_RERENDER:
            try:
                return CSRF_RERENDER[request.endpoint]()
            except HTTPException as exc:  # e.g. the object is gone: answer as the view would
                return error_page(exc.code or 400, exc.name, exc.description or "")
        return error_page(
            400,
            _("Please try again"),
            _("This form expired or was sent from another page. Go back, reload, and send it again."),
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error):
        # The database restarted or failed over (about half a second on PostgreSQL):
        # nothing of this request was committed, and the same request will work again.
        app.logger.warning("database unavailable: %s", error)
        try:
            db.session.rollback()
        except DBAPIError:
            pass
        if g.get("_login_user") is None:  # the page must render without loading the user
            g._login_user = login_manager.anonymous_user()
        response = error_page(
            503,
            _("Please try again in a moment"),
            _("We could not reach our database just now, so nothing was changed. Please try again in a few seconds."),
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(500)
    def server_error(_error):
        db.session.rollback()
        return error_page(
            500,
            _("Something went wrong"),
            _("We could not finish that. Nothing you sent was lost: please try again in a moment."),
        )


RETRY_AFTER_SECONDS = 5

# endpoint -> view that re-renders its form after an expired CSRF token
CSRF_RERENDER: dict = {}
