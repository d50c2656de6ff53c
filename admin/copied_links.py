"""The page that shows a copied portal link ("Copy a link for this contact"), once.

The token is stored nowhere (only its hash is), so this page, answering the POST that
issued it, is the only place its URL ever appears; it is not cached either.
"""

from __future__ import annotations

from flask import make_response

from portal.core.htmx import render_page
from portal.core.urls import external_url
from portal.domains.identity.links import IssuedLink


def copied_link_page(issued: IssuedLink, what: str, back: str):
    """The URL in a read-only field with a copy button (``js/app.js``), and the way back."""
    response = make_response(
        render_page(
            "admin/links/copied.html",
            url=external_url("links.open", token=issued.token),
            link=issued.link,
            contact=issued.link.contact,
            what=what,
            back=back,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
