"""The supplier's page: enter a unit price and lead time per item and a note, once.

Anonymous, reached only through the emailed link (``/sq/<token>``: the token is
hashed at rest and opens this one request). The GET writes nothing (mail scanners
open links); ``Referrer-Policy: no-referrer`` and ``no-store`` keep the token out of
Referer headers and caches. Every route is rate-limited per address. A second submit
or a second tab is told the prices were already sent, and nothing changes; an expired
link says so and offers a new one, mailed to the address on file.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db, limiter
from portal.core.htmx import render_page
from portal.domains.identity.links import mask_email
from portal.domains.sales import supplier_quotes as service
from portal.domains.sales.models_more import SupplierQuoteRequest

bp = Blueprint("supplier_quotes", __name__, url_prefix="/sq")

PAGE = "supplier_quotes/page.html"


@bp.after_request
def private(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="supplier-quote-renew")


def _page(quote: SupplierQuoteRequest | None, status: int | None = None, **context):
    if quote is not None:
        g.timezone = quote.contact.timezone
    state = context.pop("state", None) or (
        "invalid"
        if quote is None
        else "submitted"
        if quote.submitted_at is not None
        else "expired"
        if quote.is_expired
        else "open"
    )
    return render_page(
        PAGE,
        block="quote",
        status=status or _status(state),
        quote=quote,
        state=state,
        ref=_serializer().dumps(quote.id) if quote is not None and state == "expired" else "",
        typed=context.pop("typed", None),
        errors=context.pop("errors", {}),
        **context,
    )


def _status(state: str) -> int:
    return {"invalid": 404, "expired": 410}.get(state, 200)


@bp.get("/<token>")
@limiter.limit("60 per minute")
def show(token: str):
    return _page(service.find_request(token))


def _answer() -> service.AnswerInput:
    data = service.AnswerInput(note=(request.form.get("note") or "")[: service.MAX_NOTE + 1])
    for key, value in request.form.items():
        name, _sep, number = key.partition("_")
        if number.isascii() and number.isdigit() and len(number) < 10:
            if name == "price":
                data.prices[int(number)] = value[:60]
            elif name == "lead":
                data.lead_times[int(number)] = value[:60]
    return data


@bp.post("/<token>")
@limiter.limit("10 per minute")
def submit(token: str):
    quote = service.find_request(token)
    if quote is None:
        return _page(None, status=404)
    data = _answer()
    try:
        service.submit_supplier_quote(quote, data)
    except InvalidInput as error:
        db.session.rollback()
        quote = service.find_request(token)
        return _page(quote, status=422, state="open", typed=data, errors=error.errors)
    except service.AlreadySubmitted as refusal:
        db.session.rollback()
        return _page(service.find_request(token), status=409, state="submitted", message=str(refusal))
    except service.QuoteExpired:
        db.session.rollback()
        return _page(service.find_request(token), status=410, state="expired")
    db.session.commit()
    return _page(
        service.find_request(token), status=200, state="submitted", message=_("Thank you: your prices were sent.")
    )


@bp.post("/renew")
@limiter.limit("5 per hour", key_func=lambda: request.form.get("ref", "")[:100])
@limiter.limit("30 per hour")
def renew():
    try:
        request_id = _serializer().loads(request.form.get("ref", ""))
    except BadSignature:
        return _page(None, status=404)
    if not isinstance(request_id, int):
        return _page(None, status=404)
    quote = service.load_request(request_id)
    if quote is None:
        return _page(None, status=404)
    if quote.submitted_at is not None:
        return _page(
            quote, status=409, state="submitted", message=_("These prices were already sent; nothing was changed.")
        )
    try:
        service.renew_supplier_link(quote)
    except NotAllowed as refusal:
        db.session.rollback()
        return _page(None, status=403, message=str(refusal))
    db.session.commit()
    quote = service.load_request(request_id)
    return _page(quote, status=200, state="renewed", masked=mask_email(quote.contact.email))
