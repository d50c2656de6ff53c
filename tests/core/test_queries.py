"""The shared query rules: search keys, keyset cursors (no database needed)."""

from __future__ import annotations

from portal.core.queries.search import search_key


def test_search_keys_fold_unicode_case_not_only_ascii():
    assert search_key("ŞTEFAN  Instalaţii ") == search_key("ştefan instalaţii") == "ştefan instalaţii"
    assert search_key("ÑOÑO") == "ñoño"
    assert search_key("Straße") == search_key("STRASSE") == "strasse"
    assert search_key(None) == ""
