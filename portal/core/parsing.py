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
from io import BytesIO
from urllib.parse import parse_qsl

from flask import current_app
from flask.wrappers import Request
from flask_babel import gettext as _
from werkzeug import urls as _werkzeug_urls  # noqa: F401 (registers the "werkzeug.url_quote" error handler)
from werkzeug.datastructures import ImmutableMultiDict, iter_multi_items
from werkzeug.exceptions import ClientDisconnected
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


URLENCODED = "application/x-www-form-urlencoded"
# The largest body read the short way: an option tap is a few dozen bytes, a sign form
# (the drawing's PNG and strokes) goes through Werkzeug's parser as before.
SMALL_FORM_BYTES = 16 * 1024


class SmallFormRequest(Request):
    """Werkzeug's form loading, with a short way for a small urlencoded body.

    Werkzeug builds a form parser, a limited stream and its reader for every form,
    which for a tap on an option (``option=3&option=5``) cost fifteen times the parsing
    itself, a tenth of the request (``scripts/profile_page.py --toggle``). For exactly
    ``application/x-www-form-urlencoded`` with a plain Content-Length up to
    ``SMALL_FORM_BYTES`` and within ``MAX_CONTENT_LENGTH``, the body is read and parsed
    as Werkzeug's ``_parse_urlencoded`` does (the same ``parse_qsl`` call; a body that
    is not UTF-8 gives an empty form, as Werkzeug's silent parser does; a body cut short
    by the client is ``ClientDisconnected`` unless the server terminates the input).
    Anything else (multipart, other types, debug mode, a body already read) takes
    Werkzeug's way.
    """

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        environ = self.environ
        length = environ.get("CONTENT_LENGTH")
        if (
            environ.get("CONTENT_TYPE") != URLENCODED
            or not length
            or not length.isascii()
            or not length.isdigit()
            or len(length) > 6
            or "stream" in self.__dict__
            or getattr(self, "_cached_data", None) is not None
            or self.shallow
        ):
            return super()._load_form_data()
        size = int(length)
        limit = self.max_content_length
        if size > SMALL_FORM_BYTES or (limit is not None and size > limit) or current_app.debug:
            return super()._load_form_data()
        data = environ["wsgi.input"].read(size) if size else b""
        if len(data) < size and "wsgi.input_terminated" not in environ:
            raise ClientDisconnected()
        storage = self.parameter_storage_class
        try:
            form = storage(parse_qsl(data.decode(), keep_blank_values=True, errors="werkzeug.url_quote"))
        except ValueError:
            form = storage()
        d = self.__dict__
        d["stream"], d["form"], d["files"] = BytesIO(), form, storage()


def nul_free_request(request_class: type[Request]) -> type[Request]:
    """The app's request class (htmx-flask's, say) whose ``args`` and ``form`` hold no NUL,
    with small forms read the short way (``SmallFormRequest``)."""
    return type("NulFreeRequest", (SmallFormRequest, request_class), {"parameter_storage_class": NulFreeMultiDict})
