"""Flask's signed-cookie session, with the decoding of an unchanged cookie kept.

A browser sends the same session cookie on every request until the session changes
(``SESSION_REFRESH_EACH_REQUEST`` is off), and checking its signature, inflating and
parsing it was a tenth of a cached page view. The interface keeps, per app, the data
of cookies it verified, keyed by the exact cookie value and the signing keys: a hit
returns a copy of what that very cookie decodes to (so only its holder gets it), and
the cookie's age is still checked against the session lifetime on every request.
A revoked portal session is not a cookie question: the server-side record and the
contact's row are read on every portal request (``portal/access/contacts.py``).
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

# What Flask's tagged JSON gives back and no request can change in place.
_IMMUTABLE = (str, int, float, bool, type(None), bytes)


def _copy(value):
    """A deep copy of decoded session data: its dicts and lists (all JSON gives) are
    copied by hand, anything else by ``copy.deepcopy``. ``deepcopy``'s memo and
    dispatch were a third of opening a kept session."""
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in _IMMUTABLE else _copy(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _IMMUTABLE else _copy(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


class CachedCookieSessionInterface(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` that verifies and decodes a cookie value once."""

    def __init__(self, size: int = 2048):
        self.size = size
        self._decoded: OrderedDict[tuple, tuple[dict, float]] = OrderedDict()
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}
        self._lock = threading.Lock()

    def _keys(self, app: Flask) -> tuple:
        return (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = self._keys(app)
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            self._serializers = {keys: serializer}  # the keys changed (tests): only the current
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (self._keys(app), value)
        with self._lock:
            kept = self._decoded.get(key)
            if kept is not None:
                self._decoded.move_to_end(key)
        if kept is not None and 0 <= time.time() - kept[1] <= max_age:
            return self.session_class(_copy(kept[0]))
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._lock:
            self._decoded[key] = (_copy(data), signed_at.timestamp())
            while len(self._decoded) > self.size:
                self._decoded.popitem(last=False)
        return self.session_class(data)
