"""Jinja filters and globals: money and times formatted by Babel for the viewer."""

from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_currency
from flask import Flask
from flask_babel import format_datetime, format_decimal, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape


@lru_cache(maxsize=16384)
def _money(amount: Decimal, currency: str, locale: str) -> str:
    # Formatting is pure and a page repeats the same few amounts on every view:
    # memoising it takes Babel's pattern work off the hot path.
    return format_currency(amount, currency, locale=locale)


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


URL = re.compile(r"https?://[^\s<>\"']+")


def init_templating(app: Flask) -> None:
    @app.template_filter("money")
    def money(amount: Decimal | None, currency: str) -> str:
        return _money(amount or Decimal("0"), currency, str(get_locale()))

    @app.template_filter("qty")
    def qty(value: Decimal) -> str:
        return format_decimal(value.normalize() if value is not None else 0)

    @app.template_filter("when")
    def when(value, format: str = "medium", tz: str | None = None) -> str:
        """A stored (UTC) time in the viewer's zone, or in ``tz`` (emails: the recipient's)."""
        if not value:
            return ""
        if tz:
            return babel_format_datetime(value.replace(tzinfo=UTC), format, tzinfo=_zone(tz), locale=str(get_locale()))
        return format_datetime(value, format)

    @app.template_filter("linkify")
    def linkify(text: str) -> Markup:
        """Escape, then make http(s) URLs clickable (the outbox shows mail bodies)."""
        escaped = str(escape(text))
        return Markup(URL.sub(lambda m: f'<a href="{m.group(0)}" rel="noreferrer">{m.group(0)}</a>', escaped))

    @app.context_processor
    def globals_():
        return {"app_name": _("Porchlight")}
