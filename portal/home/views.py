"""The portal home: the contact's proposals, as their portal level allows."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from werkzeug.exceptions import NotFound

from portal.access.contacts import contact_proposals_query, current_contact
from portal.core.htmx import render_page
from portal.domains.proposals.queries import list_home_proposals

bp = Blueprint("home", __name__)


@bp.get("/home", endpoint="index")
def index():
    """Awaiting signature and signed proposals. Without a portal session: the sign-in page.

    The one portal page that redirects instead of answering 404: it is where a contact
    lands, and it names nothing that could exist or not.
    """
    try:
        contact = current_contact()
    except NotFound:  # no session, or it ended (access revoked): it was forgotten
        return redirect(url_for("sign_in.start"), code=303)
    listing = list_home_proposals(
        contact_proposals_query(contact),
        awaiting_after=request.args.get("awaiting_after") or None,
        signed_after=request.args.get("signed_after") or None,
    )
    return render_page(
        "home/index.html",
        contact=contact,
        listing=listing,
        awaiting_after=request.args.get("awaiting_after") or None,
        signed_after=request.args.get("signed_after") or None,
    )
