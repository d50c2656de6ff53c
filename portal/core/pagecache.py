"""A small per-app cache of rendered pages, keyed by the version of what they show.

The key always carries the row's version stamp (``updated_at``, ``content_version``,
status, signed time) and every other fact the page shows (names from other rows),
so a change in the database is a new key: nothing is ever invalidated by hand, and
a stale entry cannot be served. Build the page from a view model whose fields come
from the key (``portal/proposals/page.py``): a page that reads anything else can go
stale. Per-session values (the CSRF token) are rendered as a placeholder and filled
in on the way out.

The cache lives in ``app.extensions`` (one per app, so two apps in one process, as in
the tests, never share entries).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, current_app, g, make_response, render_template, session
from flask_wtf.csrf import generate_csrf
from itsdangerous.encoding import base64_decode, bytes_to_int
from jinja2_fragments.flask import render_block

CSRF_PLACEHOLDER = "__porchlight_csrf_token__"


class RenderCache:
    """A thread-safe LRU mapping of keys to rendered HTML."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
                return html
        html = render()
        with self._lock:
            self._items[key] = html
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return html

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


EXTENSION_KEY = "porchlight_render_cache"


def render_cache(app: Flask | None = None) -> RenderCache:
    """This app's render cache (made on first use)."""
    extensions = (app or current_app).extensions
    cache = extensions.get(EXTENSION_KEY)
    if cache is None:
        cache = extensions.setdefault(EXTENSION_KEY, RenderCache())
    return cache


TOKEN_REUSE_SECONDS = 60
TOKENS_KEY = "porchlight_signed_csrf_tokens"


def session_csrf_token() -> str:
    """This session's signed CSRF token, signed at most once a minute.

    Flask-WTF signs the session's raw token afresh on every request (an HMAC and a
    serializer each time); a token signed less than a minute ago is as good, since the
    check allows ``WTF_CSRF_TIME_LIMIT`` (an hour) from its timestamp. Kept per app,
    keyed by the session's raw token: only a request carrying that session gets it.
    """
    app = current_app
    field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    raw = session.get(field)
    if field in g or not isinstance(raw, str):
        return generate_csrf()
    tokens = app.extensions.get(TOKENS_KEY)
    if tokens is None:
        tokens = app.extensions.setdefault(TOKENS_KEY, RenderCache(size=4096))
    now = int(time.time())
    with tokens._lock:
        kept = tokens._items.get(raw)
    # A reused token must keep almost all of its life: at most a sixtieth of the CSRF
    # lifetime old (a minute of the default hour; never, for a lifetime under a minute).
    limit = app.config.get("WTF_CSRF_TIME_LIMIT")
    window = TOKEN_REUSE_SECONDS if limit is None else min(TOKEN_REUSE_SECONDS, int(limit) // 60)
    if kept is not None and 0 <= now - kept[1] < window:
        setattr(g, field, kept[0])  # later calls in this request (forms) agree
        return kept[0]
    token = generate_csrf()
    try:
        signed_at = bytes_to_int(base64_decode(token.rsplit(".", 2)[1]))
    except (IndexError, ValueError):
        return token
    with tokens._lock:
        tokens._items[raw] = (token, signed_at)
        tokens._items.move_to_end(raw)
        while len(tokens._items) > tokens.size:
            tokens._items.popitem(last=False)
    return token


def cached_page(key: Hashable, template: str, context: Callable[[], dict]):
    """The whole page from the cache, with this session's token filled in.

    ``context`` is called only on a miss, so the loading it does is skipped on a hit.
    """
    html = render_cache().get_or_render(
        key, lambda: render_template(template, **context(), csrf_token=lambda: CSRF_PLACEHOLDER)
    )
    response = make_response(html.replace(CSRF_PLACEHOLDER, session_csrf_token()))
    response.vary.add("HX-Request")
    return response


def cached_block(key: Hashable, template: str, block: str, context: Callable[[], dict]):
    """One block of a page (an htmx partial) from the cache; it must not hold a token."""
    html = render_cache().get_or_render(key, lambda: render_block(template, block, **context()))
    response = make_response(html)
    response.vary.add("HX-Request")
    return response
