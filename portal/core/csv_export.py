"""CSV downloads: streamed row by row, every cell safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a
formula to Excel and LibreOffice (CSV injection, OWASP): such text cells get a
leading apostrophe, which spreadsheets show as text. Numbers (Decimal, int) are
written as they are, so a negative amount stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from flask import Response, stream_with_context

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | Decimal:
    """A value as a CSV cell: numbers kept, dates ISO, text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).replace("\x00", "")
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then each row, each as one encoded line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        writer.writerow([safe_cell(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    yield "\ufeff" + line(header)  # a BOM: spreadsheets then read UTF-8 names right
    for row in rows:
        yield line(row)


def csv_response(filename: str, header: Iterable[str], rows: Iterable[Iterable]) -> Response:
    """A streamed download (rows are read as they are sent, never all held at once)."""
    response = Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
