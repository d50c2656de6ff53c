"""Portal link landing: a GET that changes nothing, then a clean URL.

``/l/<token>`` puts the link in the portal session and answers 303 to the object's
own URL, so the token leaves the address bar and history; ``no-referrer`` keeps it
out of any Referer header.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from portal.access import remember_link
from portal.core.errors import NotAllowed
from portal.core.extensions import db, limiter
from portal.core.htmx import render_page
from portal.core.i18n import current_language, note_reader
from portal.domains.identity import links as link_service
from portal.domains.identity.models import PortalLink

bp = Blueprint("links", __name__, url_prefix="/l")

TARGET_ENDPOINTS = {"proposal": ("proposals.show", "proposal_id"), "ticket": ("tickets.show", "ticket_id")}


@bp.after_request
def no_referrer(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _renew_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal-link-renew")


def renew_reference(link: PortalLink) -> str:
    """An opaque, signed reference to a link, for the 'email me a new link' button."""
    return _renew_serializer().dumps(link.id)


def _reader_of(link: PortalLink) -> None:
    """The link names its contact: the page is in their zone and language."""
    g.timezone = link.contact.timezone
    note_reader(link.contact.preferred_language, link.contact.organization.default_language)


def link_unusable_page(link: PortalLink):
    """410 for a link that no longer opens: an expired one offers a new link by email; a
    revoked one does not (revocation is final), only the way to sign in."""
    _reader_of(link)
    if link.revoked_at is not None:
        return render_page("links/revoked.html", status=410, link=link)
    return render_page("links/expired.html", status=410, link=link, ref=renew_reference(link))


@bp.get("/<token>")
def open(token: str):
    link = link_service.find_link(token)
    if link is None or link.target_type not in TARGET_ENDPOINTS:
        return render_page("links/invalid.html", status=404)
    if not link.contact.has_portal_access:
        _reader_of(link)
        return render_page("links/no_access.html", status=403)
    if not link.is_usable:
        return link_unusable_page(link)
    remember_link(link)
    if link.target_type == "proposal":
        # The evidence log's "link opened" (with address and browser): an audit record,
        # not a change; mail scanners that open links are recorded as what they are.
        from portal.domains.proposals import evidence

        evidence.record_safely(
            link.target_id,
            evidence.Kind.LINK_OPENED,
            contact_id=link.contact_id,
            link_id=link.id,
            data={},
            time_zone=link.contact.timezone,
        )
        db.session.commit()
    endpoint, arg = TARGET_ENDPOINTS[link.target_type]
    return redirect(url_for(endpoint, **{arg: link.target_id}), code=303)


@bp.post("/renew")
@limiter.limit("5 per hour", key_func=lambda: request.form.get("ref", "")[:100])
@limiter.limit("30 per hour")
def renew():
    try:
        link_id = _renew_serializer().loads(request.form.get("ref", ""))
    except BadSignature:
        return render_page("links/invalid.html", status=404)
    link = db.session.get(PortalLink, link_id)
    if link is None:
        return render_page("links/invalid.html", status=404)
    if link.revoked_at is not None:  # revoked since the renew button was shown
        return link_unusable_page(link)
    _reader_of(link)
    try:
        link_service.renew_link(link, language=current_language())
    except NotAllowed:
        return render_page("links/no_access.html", status=403)
    db.session.commit()
    return render_page(
        "links/renewed.html", masked=link_service.mask_email(link.contact.email), message=_("We sent a new link.")
    )
