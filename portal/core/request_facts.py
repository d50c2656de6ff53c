"""Who is asking, as evidence records it: address, user agent and the zone shown.

Domains never read ``request``; the evidence log still needs the client's facts for
the events that operations record (delivered by staff, signed, marked won). This is
the one place that reads them: inside a request the client's (the address after
``TRUSTED_PROXY_HOPS``), outside one (the worker, the CLI) none, and the zone of
Flask-Babel's selector either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context, request
from flask_babel import get_timezone


@dataclass(frozen=True)
class ClientFacts:
    ip: str | None
    user_agent: str | None
    time_zone: str


def client_facts() -> ClientFacts:
    zone = str(get_timezone() or "UTC")
    if not has_request_context():
        return ClientFacts(None, None, zone)
    return ClientFacts((request.remote_addr or "")[:64] or None, (request.user_agent.string or "")[:400] or None, zone)
