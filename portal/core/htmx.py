"""htmx helpers: one template per page, its blocks rendered for htmx requests."""

from __future__ import annotations

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def wants_partial() -> bool:
    """A swap request: htmx, not boosted navigation, not a history restore."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(template: str, block: str | None = None, status: int = 200, **context) -> Response:
    """The whole page, or only ``block`` of it when htmx asks for a swap."""
    if block and wants_partial():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def render_partial(template: str, page: str, **context) -> Response:
    """A ``_``-prefixed partial file for a swap request, else the whole ``page`` it is
    part of (the same context renders both)."""
    body = render_template(template if wants_partial() else page, **context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def redirect_after_post(location: str) -> Response:
    """303 for a plain form; ``HX-Redirect`` for htmx, which would otherwise swap the page in."""
    if wants_partial():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    response = make_response("", 303)
    response.headers["Location"] = location
    return response
