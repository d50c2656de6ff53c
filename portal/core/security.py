"""Security headers for every response, and a strict Content-Security-Policy."""

from __future__ import annotations

from flask import Flask, Response

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

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        present = {key.lower() for key in headers.keys()}  # noqa: SIM118 (Headers iterate as pairs)
        headers.extend((k, v) for k, v in defaults.items() if k.lower() not in present)
        if response.mimetype == "text/html" and "cache-control" not in present:
            # Pages can carry a contact's data: never keep them in shared caches.
            headers["Cache-Control"] = "no-store"
        return response
