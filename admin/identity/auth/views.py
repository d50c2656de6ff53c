"""Staff sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from admin.identity.auth.forms import LoginForm
from portal.core.error_pages import CSRF_RERENDER
from portal.core.extensions import db, form_email, limiter
from portal.core.htmx import render_page
from portal.domains.identity import staff as accounts

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never redirect a login to another host."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("admin.proposals.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
@limiter.limit("5 per minute; 20 per hour", key_func=form_email, methods=["POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session id for a fresh login
            record = accounts.start_session(user, request.remote_addr, request.user_agent.string)
            db.session.commit()
            session["staff_sid"] = record.id
            login_user(user)
            return redirect(_safe_next(request.args.get("next")), code=303)
        db.session.commit()
        error = _("That email and password do not match an active staff account.")
    status = 422 if request.method == "POST" else 200
    return render_page("admin/auth/login.html", status=status, form=form, error=error)


def _login_after_csrf_expired():
    form = LoginForm()
    return render_page(
        "admin/auth/login.html", status=422, form=form, error=_("The page was open too long. Please sign in again.")
    )


CSRF_RERENDER["admin.auth.login"] = _login_after_csrf_expired


@bp.post("/logout")
def logout():
    accounts.end_session(session.get("staff_sid"))
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("admin.auth.login"), code=303)
