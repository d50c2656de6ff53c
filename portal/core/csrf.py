"""Flask-WTF's CSRF protection, with the signature of a token checked once.

Every POST (each tap of an option) checked the token's HMAC afresh. The check here
is the same, except that a token whose signature was verified before is not verified
again: the token string, the signing key and its timestamp are kept (per app), and
on every request the age is still held against ``WTF_CSRF_TIME_LIMIT`` and the raw
token still compared with this session's. A token that never verified is never kept.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import OrderedDict

from flask import current_app, g, request, session
from flask_wtf.csrf import CSRFProtect, same_origin, validate_csrf
from wtforms import ValidationError

logger = logging.getLogger("flask_wtf.csrf")


class VerifiedTokens:
    """Token strings whose signature verified: token -> (raw token, signed at)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict[tuple, tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[str, int] | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple, value: tuple[str, int]) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _signed_at(token: str) -> int | None:
    from itsdangerous.encoding import base64_decode, bytes_to_int

    try:
        return bytes_to_int(base64_decode(token.rsplit(".", 2)[1]))
    except (IndexError, ValueError):
        return None


def check_token(token: str | None) -> None:
    """``validate_csrf`` for this app's settings; raises ``ValidationError`` alike."""
    app = current_app
    field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    limit = app.config.get("WTF_CSRF_TIME_LIMIT", 3600)
    raw = session.get(field)
    verified = app.extensions.setdefault("porchlight_verified_csrf", VerifiedTokens())
    key = (secret, token)
    kept = verified.get(key) if token and isinstance(raw, str) else None
    if kept is not None:
        age = int(time.time()) - kept[1]
        if (limit is None or 0 <= age <= limit) and hmac.compare_digest(raw, kept[0]):
            return
    validate_csrf(token)  # the full check, with Flask-WTF's messages
    signed_at = _signed_at(token)
    if signed_at is not None:
        verified.put(key, (raw, signed_at))


class PortalCSRFProtect(CSRFProtect):
    """``CSRFProtect`` whose check is ``check_token`` (as ``CSRFProtect.protect`` else)."""

    def protect(self, apply_exemptions: bool = False):
        # The method first: a GET is never checked, and the exemption lookups (blueprint,
        # view, its dotted name) were most of a GET's CSRF cost. Each test only returns.
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        if apply_exemptions:
            if not request.endpoint:
                return
            if self._is_exempt():
                return
        try:
            check_token(self._get_csrf_token())
        except ValidationError as e:
            logger.info(e.args[0])
            self._error_response(e.args[0])
        if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"]:
            if not request.referrer:
                self._error_response("The referrer header is missing.")
            good_referrer = f"https://{request.host}/"
            if not same_origin(request.referrer, good_referrer):
                self._error_response("The referrer does not match the host.")
        g.csrf_valid = True  # mark this request as CSRF valid
