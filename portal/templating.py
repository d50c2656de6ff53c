"""Jinja filters and globals: money and times formatted by Babel for the viewer."""
from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

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


URL = re.compile(r"https?://[^\s<>\"']+")


def init_templating(app: Flask) -> None:
    @app.template_filter("money")
    def money(amount: Decimal | None, currency: str) -> str:
        return _money(amount or Decimal("0"), currency, str(get_locale()))

    @app.template_filter("qty")
    def qty(value: Decimal) -> str:
        return format_decimal(value.normalize() if value is not None else 0)

    @app.template_filter("when")
    def when(value, format: str = "medium") -> str:
        return format_datetime(value, format) if value else ""

    @app.template_filter("linkify")
    def linkify(text: str) -> Markup:
        """Escape, then make http(s) URLs clickable (the outbox shows mail bodies)."""
        escaped = str(escape(text))
        return Markup(URL.sub(lambda m: f'<a href="{m.group(0)}" rel="noreferrer">{m.group(0)}</a>', escaped))

    @app.context_processor
    def globals_():
        return {"app_name": _("Porchlight")}
