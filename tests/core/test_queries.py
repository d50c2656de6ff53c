"""The shared query rules: search keys, keyset cursors (no database needed)."""

from __future__ import annotations

from portal.core.queries.search import search_key


def test_search_keys_fold_unicode_case_not_only_ascii():
    assert search_key("ŞTEFAN  Instalaţii ") == search_key("ştefan instalaţii") == "ştefan instalaţii"
    assert search_key("ÑOÑO") == "ñoño"
    assert search_key("Straße") == search_key("STRASSE") == "strasse"
    assert search_key(None) == ""


def test_a_cursor_round_trips_its_key_and_a_malformed_one_is_the_first_page():
    from datetime import datetime

    from portal.core.queries.keyset import decode_cursor, encode_cursor

    assert decode_cursor(encode_cursor(["acme", 7])) == ["acme", 7]
    assert decode_cursor(encode_cursor([1, datetime(2026, 3, 9, 10, 0), 5])) == [1, "2026-03-09T10:00:00", 5]
    for bad in (None, "", "%%%", "bm90IGpzb24", encode_cursor([])):
        assert decode_cursor(bad) is None, bad


def test_after_key_is_an_index_range_then_the_tie_break():
    from sqlalchemy import Integer, String, column

    from portal.core.queries.keyset import after_key

    key, id_ = column("name_key", String), column("id", Integer)
    rendered = str(after_key((key, id_), ("acme", 7), descending=False).compile(compile_kwargs={"literal_binds": True}))
    assert rendered == "name_key >= 'acme' AND (name_key > 'acme' OR id > 7)"
    rendered = str(after_key((id_,), (7,), descending=True).compile(compile_kwargs={"literal_binds": True}))
    assert rendered == "id < 7"
