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

Each entry also keeps its gzip encoding, made once: a browser that accepts gzip gets
the stored bytes (Flask-Compress leaves a response that already has a
``Content-Encoding`` alone). A whole page is compressed in pieces around its token
placeholder, each piece a self-contained run of deflate blocks ending on a byte
boundary (a sync flush, no back-reference into another piece), so the session's token
is spliced in as its own tiny run and only the CRC is computed per request: gzip was
an eighth of a cached page view (``scripts/profile_page.py``).
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable

from flask import Flask, current_app, g, render_template, request, session
from flask_compress.flask_compress import _choose_algorithm
from flask_wtf.csrf import generate_csrf
from itsdangerous.encoding import base64_decode, bytes_to_int
from jinja2_fragments.flask import render_block

CSRF_PLACEHOLDER = "__porchlight_csrf_token__"
_PLACEHOLDER_BYTES = CSRF_PLACEHOLDER.encode()
# A gzip member header: deflate, no name, no time stamp (so equal pages give equal bytes).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_LAST_BLOCK = b"\x03\x00"  # an empty final block (fixed Huffman, end of block)


def _deflate_run(data: bytes, level: int) -> bytes:
    """``data`` as raw deflate blocks that end byte-aligned and are not final: runs made
    by separate compressors can follow one another in one stream."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _stored_run(data: bytes) -> bytes:
    """``data`` as stored (uncompressed) deflate blocks: a per-request token costs a few
    bytes of framing instead of a compressor (making one costs more than the page's
    CRC)."""
    out = []
    for start in range(0, len(data), 0xFFFF):
        chunk = data[start : start + 0xFFFF]
        out.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(out)


def _crc_continuation(piece: bytes) -> Callable[[int], int]:
    """``value -> zlib.crc32(piece, value)`` without reading ``piece`` again.

    A CRC's state moves through a fixed stretch of bytes by an affine map over GF(2),
    so the map is read off once (at 0 and at each of the 32 single bits) and folded
    into four byte tables: continuing the page's CRC past the token costs four lookups
    instead of a pass over the rest of the page.
    """
    base = zlib.crc32(piece, 0)
    columns = [zlib.crc32(piece, 1 << bit) ^ base for bit in range(32)]
    tables = []
    for byte in range(4):
        table = [0] * 256
        for value in range(1, 256):
            low = value & -value
            table[value] = table[value ^ low] ^ columns[8 * byte + low.bit_length() - 1]
        tables.append(table)
    t0, t1, t2, t3 = tables
    return lambda value: base ^ t0[value & 0xFF] ^ t1[(value >> 8) & 0xFF] ^ t2[(value >> 16) & 0xFF] ^ t3[value >> 24]


class Entry:
    """One rendered page or block: its HTML, and its gzip encoding once first asked for."""

    __slots__ = ("html", "_gzip")

    def __init__(self, html: str):
        self.html = html
        self._gzip: tuple | None = None

    def _compressed(self, level: int) -> tuple:
        if self._gzip is None:
            pieces = self.html.encode().split(_PLACEHOLDER_BYTES)
            runs = [_deflate_run(piece, level) for piece in pieces]
            continuations = [_crc_continuation(piece) for piece in pieces[1:]]
            self._gzip = (zlib.crc32(pieces[0]), runs, continuations, sum(map(len, pieces)))
        return self._gzip

    def gzip(self, token: str | None, level: int) -> bytes:
        """The gzip encoding of the HTML with ``token`` in place of each placeholder."""
        crc, runs, continuations, size = self._compressed(level)
        out = [_GZIP_HEADER, runs[0]]
        if continuations:
            filler = token.encode() if token is not None else _PLACEHOLDER_BYTES
            filler_run = _stored_run(filler)
            for run, continue_crc in zip(runs[1:], continuations, strict=True):
                out.append(filler_run)
                out.append(run)
                crc = continue_crc(zlib.crc32(filler, crc))
            size += len(filler) * len(continuations)
        out.append(_LAST_BLOCK)
        out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
        return b"".join(out)


class RenderCache:
    """A thread-safe LRU mapping of keys to rendered entries."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[Hashable, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> Entry:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
                return entry
        entry = Entry(render())
        with self._lock:
            self._items[key] = entry
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return entry

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


class _SignedTokens:
    """Signed CSRF tokens by session token: a bounded LRU, locked."""

    def __init__(self, size: int):
        self.size = size
        self._tokens: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()


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
    tokens = app.extensions.get(TOKENS_KEY)
    if tokens is None:
        tokens = app.extensions.setdefault(TOKENS_KEY, _SignedTokens(size=4096))
    raw = session.get(field)
    if field in g or not isinstance(raw, str):
        # Signed already in this request (a form made on a cache miss), or a new session
        # whose raw token Flask-WTF makes now: keep that signed token too, or the next
        # view (in another second) signs again and the two pages disagree.
        token = generate_csrf()
        raw = session.get(field)
        return _keep(tokens, raw, token) if isinstance(raw, str) else token
    now = int(time.time())
    with tokens._lock:
        kept = tokens._tokens.get(raw)
    # A reused token must keep almost all of its life: at most a sixtieth of the CSRF
    # lifetime old (a minute of the default hour; never, for a lifetime under a minute).
    limit = app.config.get("WTF_CSRF_TIME_LIMIT")
    window = TOKEN_REUSE_SECONDS if limit is None else min(TOKEN_REUSE_SECONDS, int(limit) // 60)
    if kept is not None and 0 <= now - kept[1] < window:
        setattr(g, field, kept[0])  # later calls in this request (forms) agree
        return kept[0]
    return _keep(tokens, raw, generate_csrf())


def _keep(tokens: _SignedTokens, raw: str, token: str) -> str:
    """Remember ``token`` as the session ``raw``'s signed token, with its signing time."""
    try:
        signed_at = bytes_to_int(base64_decode(token.rsplit(".", 2)[1]))
    except (IndexError, ValueError):
        return token
    with tokens._lock:
        tokens._tokens[raw] = (token, signed_at)
        tokens._tokens.move_to_end(raw)
        while len(tokens._tokens) > tokens.size:
            tokens._tokens.popitem(last=False)
    return token


def _gzip_level() -> int | None:
    """The gzip level to answer this request with, or None to send it uncompressed: the
    client accepts gzip and the app compresses HTML with it (Flask-Compress's settings)."""
    config = current_app.config
    algorithms = config.get("COMPRESS_ALGORITHM") or ()
    if isinstance(algorithms, str):
        algorithms = [part.strip() for part in algorithms.split(",")]
    if "gzip" not in algorithms or "text/html" not in (config.get("COMPRESS_MIMETYPES") or ()):
        return None
    # Flask-Compress's own choice, so a cached page is encoded as any other response is.
    if _choose_algorithm(tuple(algorithms), request.headers.get("Accept-Encoding", "")) != "gzip":
        return None
    return int(config.get("COMPRESS_LEVEL", 6))


_HTML = "text/html; charset=utf-8"
_VARY = "HX-Request, Accept-Encoding"


def _respond(entry: Entry, token: str | None):
    # The headers as ``make_response`` and two ``vary.add`` made them, in their order, in
    # one list: the Vary property's parse and rewrite per added value was a third of
    # answering from the cache.
    level = _gzip_level()
    if level is None or len(entry.html) < current_app.config.get("COMPRESS_MIN_SIZE", 500):
        html = entry.html if token is None else entry.html.replace(CSRF_PLACEHOLDER, token)
        body = html.encode()
        headers = [("Content-Type", _HTML), ("Content-Length", str(len(body))), ("Vary", _VARY)]
    else:
        body = entry.gzip(token, level)
        headers = [
            ("Content-Type", _HTML),
            ("Content-Length", str(len(body))),
            ("Content-Encoding", "gzip"),
            ("Vary", _VARY),
        ]
    return current_app.response_class(body, headers=headers)


def cached_page(key: Hashable, template: str, context: Callable[[], dict]):
    """The whole page from the cache, with this session's token filled in.

    ``context`` is called only on a miss, so the loading it does is skipped on a hit.
    """
    entry = render_cache().get_or_render(
        key, lambda: render_template(template, **context(), csrf_token=lambda: CSRF_PLACEHOLDER)
    )
    return _respond(entry, session_csrf_token())


def cached_block(key: Hashable, template: str, block: str, context: Callable[[], dict]):
    """One block of a page (an htmx partial) from the cache; it must not hold a token."""
    entry = render_cache().get_or_render(key, lambda: render_block(template, block, **context()))
    return _respond(entry, None)
