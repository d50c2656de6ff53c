"""Asking for a quote: the public *Request a quote* page (anonymous, a link the
business puts on its own website) and the portal's "Ask for a quote" for a signed-in
contact. Both make a lead (``portal.domains.sales.leads``); the view commits once.

The public page is rate-limited per IP and per email (a flood gets a 429 page that
says why), carries a honeypot field (a filled one is thanked and stores nothing) and
mails the visitor a receipt through the outbox.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask_babel import gettext as _

from portal.access.contacts import contact_lead, current_grant, quote_requester
from portal.core.error_pages import error_page
from portal.core.errors import InvalidInput
from portal.core.extensions import db, form_email, limiter
from portal.core.htmx import redirect_after_post, render_page
from portal.domains.customers.models import Contact
from portal.domains.identity.links import mask_email
from portal.domains.sales import leads as service
from portal.quotes.forms import PortalQuoteForm, QuoteRequestForm

bp = Blueprint("quotes", __name__)

REQUEST = "quotes/request.html"
THANKS = "quotes/thanks.html"
ASK = "quotes/ask.html"
ASKED = "quotes/asked.html"
RECEIPT_KEY = "quote_receipt"  # the masked address of the last request, for the thank-you page


@bp.errorhandler(429)
def too_many(_error):
    """A flood from one address or for one email: say what happened and what to do."""
    return error_page(
        429,
        _("Too many requests"),
        _(
            "We already received several requests from you in a short time. "
            "Please wait an hour before sending another, or call us."
        ),
    )


def _request_page(form: QuoteRequestForm, status: int = 200, errors: dict | None = None):
    return render_page(REQUEST, block="quote_form", status=status, form=form, errors=errors or {})


@bp.route("/quote", methods=["GET", "POST"], endpoint="request")
@limiter.limit("10 per hour", methods=["POST"])
@limiter.limit("3 per hour", key_func=form_email, methods=["POST"])
def request_quote():
    """The public form; a good POST makes the lead, queues the receipt and says thanks."""
    if request.method == "GET":
        return _request_page(QuoteRequestForm(formdata=None))
    form = QuoteRequestForm()
    if not form.validate():  # only the CSRF token can fail here; the service checks the rest
        return _request_page(form, 422, {"form": _("The page had expired: please send it again.")})
    if (form.website.data or "").strip():
        # A bot filled the hidden field: the same thanks, nothing stored, nothing mailed.
        session[RECEIPT_KEY] = mask_email((form.email.data or "").strip()[:254])
        return redirect_after_post(url_for(".thanks"))
    data = service.QuoteRequest(
        name=form.name.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
        address=form.address.data or "",
        need=form.need.data or "",
    )
    try:
        lead = service.request_quote(data)
    except InvalidInput as error:
        db.session.rollback()
        return _request_page(form, 422, error.errors)
    session[RECEIPT_KEY] = mask_email(lead.email)
    db.session.commit()
    return redirect_after_post(url_for(".thanks"))


@bp.get("/quote/thanks")
def thanks():
    """The thank-you page (changes nothing); names only the masked address."""
    return render_page(THANKS, masked=session.get(RECEIPT_KEY))


# --- from the portal ----------------------------------------------------------------


def _ask_page(form: PortalQuoteForm, facts, status: int = 200, errors: dict | None = None):
    return render_page(ASK, block="ask_form", status=status, form=form, who=facts, signed_in=True, errors=errors or {})


@bp.route("/quotes/new", methods=["GET", "POST"])
def ask():
    """A signed-in contact asks for a quote; without a session: sign in first."""
    grant = current_grant()
    if grant is None or not grant.signed_in:
        target = url_for("sign_in.start", next=url_for(".ask"))
        return redirect_after_post(target) if request.method == "POST" else redirect(target, code=303)
    facts = quote_requester()
    if request.method == "GET":
        return _ask_page(PortalQuoteForm(formdata=None), facts)
    form = PortalQuoteForm()
    if not form.validate():
        return _ask_page(form, facts, 422, {"form": _("The page had expired: please send it again.")})
    contact = db.session.get(Contact, facts.contact_id)
    try:
        lead = service.request_quote_from_portal(contact, form.need.data or "")
    except InvalidInput as error:
        db.session.rollback()
        return _ask_page(form, facts, 422, error.errors)
    lead_id = lead.id
    db.session.commit()
    return redirect_after_post(url_for(".asked", lead_id=lead_id))


@bp.get("/quotes/<int:lead_id>")
def asked(lead_id: int):
    """The confirmation of the contact's own request."""
    lead, facts = contact_lead(lead_id)
    return render_page(ASKED, lead=lead, who=facts, signed_in=True)
