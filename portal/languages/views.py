"""POST /language: the reader picks the portal's language.

A contact the session knows (signed in, or through an opened link) keeps it on their
row, so their pages and their mail follow it from now on; every browser also keeps it
in a cookie, which speaks for a visitor the portal does not know yet (the sign-in
page). GET never changes it; CSRF as on every POST.
"""

from __future__ import annotations

from flask import Blueprint, current_app, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from portal.access.contacts import current_contact, current_grant
from portal.core.extensions import db, limiter
from portal.core.htmx import redirect_after_post, render_page
from portal.core.i18n import COOKIE
from portal.core.urls import local_path
from portal.domains.customers import contacts as contacts_service
from portal.domains.customers.models import Contact
from portal.languages.forms import LanguageForm

bp = Blueprint("languages", __name__)

COOKIE_DAYS = 365


@bp.post("/language", endpoint="switch")
@limiter.limit("60 per hour")
def switch():
    form = LanguageForm()
    back = local_path(form.next.data) or url_for("index")
    facts = None
    if current_grant() is not None:
        try:
            facts = current_contact()  # also puts the page in their language
        except NotFound:  # the session ended (access changed): the cookie still speaks for this browser
            facts = None
    if not form.validate():
        return render_page(
            "errors/error.html",
            status=422,
            title=_("Language not changed"),
            message=_("Choose one of the languages offered."),
        )
    code = form.language.data
    if facts is not None:
        contacts_service.set_preferred_language(db.session.get(Contact, facts.contact_id), code)
        db.session.commit()
    response = redirect_after_post(back)
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_DAYS * 24 * 3600,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response
