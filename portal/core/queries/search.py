"""Search keys: the folded form that name columns are searched by."""

from __future__ import annotations


def search_key(value: str) -> str:
    """The form organizations are searched by: lower case, single spaces. A NUL is a
    space too: PostgreSQL refuses it in any text parameter (a 500 from a search box)."""
    return " ".join((value or "").replace("\x00", " ").lower().split())
