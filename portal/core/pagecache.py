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
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, current_app, make_response, render_template
from flask_wtf.csrf import generate_csrf
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


def cached_page(key: Hashable, template: str, context: Callable[[], dict]):
    """The whole page from the cache, with this session's token filled in.

    ``context`` is called only on a miss, so the loading it does is skipped on a hit.
    """
    html = render_cache().get_or_render(
        key, lambda: render_template(template, **context(), csrf_token=lambda: CSRF_PLACEHOLDER)
    )
    response = make_response(html.replace(CSRF_PLACEHOLDER, generate_csrf()))
    response.vary.add("HX-Request")
    return response


def cached_block(key: Hashable, template: str, block: str, context: Callable[[], dict]):
    """One block of a page (an htmx partial) from the cache; it must not hold a token."""
    html = render_cache().get_or_render(key, lambda: render_block(template, block, **context()))
    response = make_response(html)
    response.vary.add("HX-Request")
    return response
