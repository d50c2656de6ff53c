"""Search keys: the folded form that name columns are searched by."""

from __future__ import annotations


def search_key(value: str) -> str:
    """The form organizations are searched by: lower case, single spaces."""
    return " ".join((value or "").lower().split())
