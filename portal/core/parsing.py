"""Reading numbers out of requests: one place for ids, page numbers and amounts, so
every view refuses the same bad input the same way (never a 500).

Python's ``int()`` and ``Decimal()`` accept more than a browser sends: digits of other
scripts (``"١٢"``), underscores (``"1_000"``), numbers no database column holds
(``2**64``) and signalling NaNs that raise on the first comparison. Each helper here
takes plain ASCII digits within the range the columns hold, and answers None (or a
default) for anything else.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask.wrappers import Request
from flask_babel import gettext as _
from werkzeug.datastructures import ImmutableMultiDict, iter_multi_items
from werkzeug.routing import IntegerConverter
from wtforms import DecimalField

# Ids are INTEGER columns: 64 bits on SQLite but 32 on PostgreSQL, where SQLAlchemy casts
# the parameter to the column's type ("integer out of range", a 500): the narrower rules.
MAX_ID = 2**31 - 1
MAX_PAGE = 10_000
_ID = re.compile(r"[0-9]{1,19}")  # ASCII only: ``str.isdigit()`` accepts "²" and "١"
# A plain decimal as typed: optional sign, ASCII digits, one point (or comma); no
# exponent, so "1e999999999" never becomes a number with a billion digits.
_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:[.]([0-9]*))?")


def parse_id(value) -> int | None:
    """A positive id (1 .. MAX_ID) from ASCII digits, or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def optional_id(value) -> int | None:
    """A select's value as an id, or None for the empty choice or anything not a number
    (the service then says "choose ...", instead of WTForms refusing the choice)."""
    if value is None:
        return None
    return parse_id(value if isinstance(value, int | str) else str(value))


def coerce_id(value) -> int:
    """A WTForms ``coerce`` for id selects whose "none" choice is 0: raises ValueError
    (WTForms' "Invalid Choice" message, so a 422) for anything but 0 or a valid id."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    if isinstance(value, str) and value.strip() == "0":
        return 0
    number = parse_id(value)
    if number is None:
        raise ValueError(value)
    return number


def parse_text(value, max_length: int = 100) -> str:
    """A search box's text: trimmed, at most ``max_length``, NUL as a space (PostgreSQL
    refuses NUL in any text parameter)."""
    return (value if isinstance(value, str) else "").replace("\x00", " ").strip()[:max_length]


def parse_page(value, default: int = 1, maximum: int = MAX_PAGE) -> int:
    """A page number from 1 to ``maximum`` (larger ones are the last page allowed);
    ``default`` for a missing or malformed one."""
    number = parse_id(value)
    if number is None:
        return default
    return min(number, maximum)


def parse_decimal(value, *, digits: int = 12, places: int = 3) -> Decimal | None:
    """A finite decimal that a ``Numeric(digits, places)`` column holds, or None.

    Refuses NaN, sNaN, Infinity, exponents, digits of other scripts and more integer
    digits than the column has room for; extra decimal places are kept (the caller
    rounds), but no more than a hundred of them."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        text = format(value, "f")
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    match = _DECIMAL.fullmatch(text) if len(text) <= 200 else None
    if match is None:
        return None
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if not whole and not fraction:
        return None
    if len(whole.lstrip("0")) > digits - places or len(fraction) > 100:
        return None
    try:
        return Decimal(f"{sign}{whole or '0'}.{fraction or '0'}")
    except InvalidOperation:  # not reached for text the pattern took; kept as a guard
        return None


class PlainDecimalField(DecimalField):
    """WTForms' DecimalField, read through :func:`parse_decimal`: "sNaN", "Infinity",
    "1e999" or "²" get the field's "not a valid decimal" message instead of a value
    that raises on the first comparison (a 500)."""

    def __init__(self, *args, digits: int = 12, **kwargs):
        super().__init__(*args, **kwargs)
        self.digits = digits

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        if not valuelist[0].strip():  # empty: None, as DecimalField leaves it
            self.data = None
            return
        self.data = parse_decimal(valuelist[0], digits=self.digits, places=self.places or 0)
        if self.data is None:
            raise ValueError(_("Enter a number."))


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` for ids: an id past what an id column holds is a 404 (no such page),
    not an OverflowError from the database driver (a 500). ASCII digits only."""

    regex = r"[0-9]+"

    def __init__(
        self,
        map,  # noqa: A002 (Werkzeug's parameter names)
        fixed_digits: int = 0,
        min: int | None = None,  # noqa: A002
        max: int | None = None,  # noqa: A002
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else _lesser(max, MAX_ID), signed)


def _lesser(a: int, b: int) -> int:
    return a if a < b else b


class NulFreeMultiDict(ImmutableMultiDict):
    """Query strings and form fields without NUL characters: no browser types one, and
    PostgreSQL refuses NUL in any text parameter (a 500 from every text field)."""

    def __init__(self, mapping=None):
        if mapping is None:
            super().__init__()
            return
        # Werkzeug's parsers hand over a list of pairs: walked as it is (``iter_multi_items``
        # asks ``isinstance(..., Mapping)``, an ABC check, first), anything else as before.
        items = mapping if type(mapping) is list else iter_multi_items(mapping)
        super().__init__(
            [(key, value.replace("\x00", "") if isinstance(value, str) else value) for key, value in items]
        )


def nul_free_request(request_class: type[Request]) -> type[Request]:
    """The app's request class (htmx-flask's, say) whose ``args`` and ``form`` hold no NUL."""
    return type("NulFreeRequest", (request_class,), {"parameter_storage_class": NulFreeMultiDict})
