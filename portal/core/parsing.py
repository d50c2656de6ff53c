"""Reading numbers out of requests: one place for ids, page numbers and amounts, so
every view refuses the same bad input the same way (never a 500)."""

from __future__ import annotations


def optional_id(value) -> int | None:
    """A select's value as an id, or None for the empty choice or anything not a number
    (the service then says "choose ...", instead of WTForms refusing the choice)."""
    if value is None or isinstance(value, int):
        return value
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None
