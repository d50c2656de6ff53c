"""Absolute URLs for email, built from the configured BASE_URL only.

A link in an email must never come from the Host header of whatever request caused
it (host-header injection would let an attacker mail our customers their own host).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    """``url_for`` against ``BASE_URL``; works in a request, the CLI or a worker."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, url_scheme=base.scheme or "http", script_name=base.path or "/")
    return adapter.build(endpoint, values, force_external=True)


def local_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site ("/tickets/5"), else None: never
    another host ("//evil.example", "https://...", "/\\evil.example")."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in value):
        return None
    return value[:500]
