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
