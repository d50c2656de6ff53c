"""Keyset pagination: one copy of the cursor format and of the "rows after this key"
condition, for every list that pages (organizations, the ticket queue).

A page is the rows after the last row's sort key (never an OFFSET, so a later page
costs what the first does). The cursor is that key, JSON in URL-safe base64; a
malformed cursor decodes to None (the first page), never an error.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from sqlalchemy import and_, or_


def encode_cursor(values) -> str:
    """The cursor of a sort key (ints, strings, datetimes as ISO text)."""
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list | None:
    """The list a cursor carries, or None for a missing or malformed one; the caller
    checks each value's type against its sort."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return values if isinstance(values, list) and values else None


def after_key(columns: tuple, values: tuple, descending: bool):
    """Rows after ``values`` in the order of ``columns`` (one sort column, or a sort
    column then the id). Written as ``key >= a AND (key > a OR id > b)`` rather than a
    row-value comparison: the first term is an index range on both engines."""

    def after(column, value):
        return column < value if descending else column > value

    def from_(column, value):
        return column <= value if descending else column >= value

    if len(columns) == 1:
        return after(columns[0], values[0])
    (key, id_), (key_value, id_value) = columns, values
    return and_(from_(key, key_value), or_(after(key, key_value), after(id_, id_value)))
