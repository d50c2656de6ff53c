"""Portal sign-in: ask for an email, then use its link (Continue) or type its code.

The answer to an email is the same page whether the address has portal access or
not. Opening a sign-in link (GET) changes nothing, because mail scanners open links:
the Continue button's POST uses it up and starts the session. Every page here sends
``Referrer-Policy: no-referrer`` so a token in the address bar never leaves in a
Referer header.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session, url_for
from flask_babel import gettext as _

from portal.access.contacts import ENDED_KEY, current_grant, end_portal_session, start_signed_in_session
from portal.core.error_pages import CSRF_RERENDER
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db, form_email, limiter
from portal.core.htmx import redirect_after_post, render_page
from portal.core.i18n import current_language
from portal.core.urls import local_path
from portal.domains.identity import sign_in as service
from portal.domains.identity.links import mask_email
from portal.sign_in.forms import SignInCodeForm, SignInForm, SignOutForm

bp = Blueprint("sign_in", __name__)


@bp.after_request
def no_referrer(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _errors(form) -> dict[str, str]:
    return {name: messages[0] for name, messages in form.errors.items() if messages and name != "csrf_token"}


NEXT_KEY = "portal_next"  # the page to return to after signing in


_local_path = local_path  # one rule for every "back to" path (portal/core/urls.py)


def _after_sign_in() -> str:
    """Where a completed sign-in goes: the page that asked for it, else home."""
    return _local_path(session.pop(NEXT_KEY, None)) or url_for("home.index")


def _ended_notice() -> str | None:
    """Why the last portal session ended, said once on the sign-in page."""
    reason = session.pop(ENDED_KEY, None)
    business = current_app.config.get("BUSINESS_NAME") or _("Porchlight")
    if reason == "changed":
        return _("Your access to the portal was changed by %(business)s; please sign in again.", business=business)
    if reason == "ended":
        return _(
            "Your portal access has ended. If you think this is a mistake, please contact %(business)s.",
            business=business,
        )
    return None


def _start_page(form: SignInForm, status: int = 200, notice: str | None = None):
    return render_page(
        "sign_in/start.html", block="sign_in", status=status, form=form, errors=_errors(form), notice=notice
    )


def _sent_page(form: SignInCodeForm, status: int = 200, errors: dict | None = None, notice: str | None = None):
    return render_page(
        "sign_in/sent.html",
        block="code_form",
        status=status,
        form=form,
        errors=errors if errors is not None else _errors(form),
        notice=notice,
        minutes=service.lifetime_minutes(),
    )


def _unusable_page(message: str, status: int):
    return render_page("sign_in/unusable.html", status=status, message=message)


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="start")
@limiter.limit("20 per hour", methods=["POST"])
@limiter.limit("5 per 15 minutes", key_func=form_email, methods=["POST"])
def start():
    """The email form; a valid POST answers the same 'we sent' page for any address."""
    if request.method == "GET":
        wanted = _local_path(request.args.get("next"))
        if wanted:
            session[NEXT_KEY] = wanted
        grant = current_grant()
        if grant is not None and grant.signed_in:
            return redirect(_after_sign_in())
        notice = _ended_notice() or (_("Please sign in to see that page.") if wanted else None)
        return _start_page(SignInForm(formdata=None), notice=notice)
    form = SignInForm()
    if not form.validate_on_submit():
        return _start_page(form, status=422)
    service.request_sign_in(form.email.data, request.remote_addr, language=current_language())
    db.session.commit()
    return _sent_page(SignInCodeForm(formdata=None, email=form.email.data))


@bp.post("/sign-in/code", endpoint="code")
@limiter.limit("30 per hour")
@limiter.limit("10 per 15 minutes", key_func=form_email)
def code():
    """The code typed from the email, for when the link opens on another device."""
    form = SignInCodeForm()
    if not form.validate_on_submit():
        return _sent_page(form, status=422)
    try:
        contact = service.complete_sign_in_by_code(form.email.data, form.code.data)
    except InvalidInput as error:
        db.session.commit()  # the refused try counts towards the lockout: keep it
        return _sent_page(form, status=422, errors=error.errors)
    start_signed_in_session(contact)
    db.session.commit()
    return redirect_after_post(_after_sign_in())


@bp.get("/sign-in/<token>", endpoint="link")
def link(token: str):
    """The Continue page behind the emailed link. Reads only."""
    sign_in = service.find_sign_in(token)
    if sign_in is None:
        return _unusable_page(
            _("This sign-in link is not valid. Check that you opened the whole link from the email."), 404
        )
    try:
        service.check_usable(sign_in)
    except NotAllowed as error:
        return _unusable_page(str(error), 410)
    return render_page("sign_in/link.html", token=token, masked=mask_email(sign_in.contact.email))


@bp.post("/sign-in/<token>", endpoint="use_link")
@limiter.limit("30 per hour")
def use_link(token: str):
    """Continue: use the link up and sign in."""
    try:
        contact = service.complete_sign_in_by_link(token)
    except NotAllowed as error:
        db.session.rollback()
        sign_in = service.find_sign_in(token)
        grant = current_grant()
        if sign_in is not None and grant is not None and grant.signed_in and grant.contact_id == sign_in.contact_id:
            # A double tap on Continue: the first one already signed this browser in.
            return redirect_after_post(url_for("home.index"))
        return _unusable_page(str(error), 404 if sign_in is None else 410)
    start_signed_in_session(contact)
    db.session.commit()
    return redirect_after_post(_after_sign_in())


@bp.route("/sign-out", methods=["GET", "POST"], endpoint="sign_out")
def sign_out():
    """GET asks; POST ends this browser's portal session."""
    if request.method == "POST":
        end_portal_session()  # the server-side record too: a copied cookie ends with it
        db.session.commit()
        return redirect_after_post(url_for(".start"))
    return render_page("sign_in/sign_out.html", form=SignOutForm(formdata=None), signed_in=current_grant() is not None)


def _start_after_csrf_expired():
    form = SignInForm()
    form.validate()  # fills in the filtered email; the CSRF error itself is not shown
    return _start_page(form, status=422, notice=_("This page was open for a long time. Please send it again."))


def _code_after_csrf_expired():
    form = SignInCodeForm()
    form.validate()
    return _sent_page(
        form, status=422, errors={}, notice=_("This page was open for a long time. Please press Sign in once more.")
    )


CSRF_RERENDER["sign_in.start"] = _start_after_csrf_expired
CSRF_RERENDER["sign_in.code"] = _code_after_csrf_expired
