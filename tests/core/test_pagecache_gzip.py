"""The render cache's gzip encoding: compressed once in pieces around the token
placeholder, spliced per request (portal/core/pagecache.py). Whatever the page and
the token, a gzip reader gets exactly the page with the token in place."""

from __future__ import annotations

import gzip
import zlib

from hypothesis import given
from hypothesis import strategies as st

from portal.core.pagecache import CSRF_PLACEHOLDER, Entry, _crc_continuation

PIECES = st.lists(st.text(max_size=3000), min_size=1, max_size=4)
TOKENS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=200)


@given(PIECES, TOKENS, st.integers(min_value=1, max_value=9))
def test_a_spliced_page_decompresses_to_the_page_with_the_token(pieces, token, level):
    html = CSRF_PLACEHOLDER.join(pieces)
    entry = Entry(html)
    assert gzip.decompress(entry.gzip(token, level)).decode() == html.replace(CSRF_PLACEHOLDER, token)
    # The second request reuses the runs made by the first.
    assert gzip.decompress(entry.gzip(token + "x", level)).decode() == html.replace(CSRF_PLACEHOLDER, token + "x")


@given(st.binary(max_size=5000), st.integers(min_value=0, max_value=2**32 - 1))
def test_the_crc_continuation_equals_reading_the_bytes(piece, value):
    assert _crc_continuation(piece)(value) == zlib.crc32(piece, value)


def test_a_token_longer_than_a_stored_block_still_splices():
    entry = Entry(f"<p>{CSRF_PLACEHOLDER}</p>")
    token = "t" * 70000
    assert gzip.decompress(entry.gzip(token, 6)).decode() == f"<p>{token}</p>"
