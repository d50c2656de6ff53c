"""Security headers for every response, and a strict Content-Security-Policy."""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.datastructures import Headers

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_security(app: Flask) -> None:
    defaults = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if app.config.get("SESSION_COOKIE_SECURE"):
        defaults["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"

    pairs = tuple(defaults.items())
    for name, value in pairs:  # what Headers.add checks of each value, checked once
        if "\r" in value or "\n" in value:
            raise ValueError(f"{name}: header values must not contain newline characters")
    lowered = tuple((name.lower(), name, value) for name, value in pairs)

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        if type(headers) is not Headers:
            return _add_headers_slowly(response, defaults)
        # The same headers as ``Headers.extend`` would add, appended to its list: the
        # values are constants checked above, and validating them again through
        # ``add`` on every response was an eighth of a small request's work.
        items = headers._list
        present = {key.lower() for key, _value in items}
        items.extend([(name, value) for low, name, value in lowered if low not in present])
        if "cache-control" not in present and response.mimetype == "text/html":
            # Pages can carry a contact's data: never keep them in shared caches.
            items.append(("Cache-Control", "no-store"))
        return response


def _add_headers_slowly(response: Response, defaults: dict[str, str]) -> Response:
    """The same through the public ``Headers`` methods (a subclass of ``Headers``)."""
    headers = response.headers
    present = {key.lower() for key in headers.keys()}  # noqa: SIM118 (Headers iterate as pairs)
    headers.extend([(k, v) for k, v in defaults.items() if k.lower() not in present])
    if response.mimetype == "text/html" and "cache-control" not in present:
        headers["Cache-Control"] = "no-store"
    return response
