"""Jinja filters and globals: money and times formatted by Babel for the viewer.

Times have one formatter per use, everywhere (pages and emails):

- ``date``: the day, "Dec 1, 2026";
- ``datetime``: day and time with the zone's abbreviation, "Dec 1, 2026, 9:00 AM CET"
  (no seconds), so a customer and a staff member reading the same deadline in their
  own zones can tell they agree;
- ``relative``: "in 2 hours", "3 days ago".

Stored times are naive UTC. They are shown in the viewer's zone (Flask-Babel's
selector: the contact's, the staff member's), or in ``tz`` (an email: the
recipient's).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.dates import format_timedelta as babel_format_timedelta
from babel.dates import get_datetime_format
from babel.numbers import format_currency
from flask import Flask, Response, render_template, request, session
from flask_babel import format_decimal, get_locale, get_timezone
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


def _viewer_zone(tz: str | None) -> tzinfo:
    if tz:
        return _zone(tz)
    zone = get_timezone()
    return _zone(str(zone)) if zone is not None else ZoneInfo("UTC")


def _local(value: datetime, tz: str | None) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(_viewer_zone(tz))


def zone_label(local: datetime) -> str:
    """The zone's abbreviation ("CET", "EST"); "UTC+03" where the zone has none."""
    name = local.tzname() or "UTC"
    return f"UTC{name}" if name[:1] in "+-" else name


def format_day(value: date | datetime | None, tz: str | None = None) -> str:
    """The day of a stored time (or a plain date) in the viewer's zone."""
    if not value:
        return ""
    locale = str(get_locale())
    if isinstance(value, datetime):
        value = _local(value, tz)
    return babel_format_date(value, "medium", locale=locale)


def format_moment(value: datetime | None, tz: str | None = None) -> str:
    """Day, time (no seconds) and zone abbreviation, in the viewer's zone."""
    if not value:
        return ""
    locale = str(get_locale())
    local = _local(value, tz)
    day = babel_format_date(local, "medium", locale=locale)
    time = babel_format_time(local, "short", locale=locale)
    pattern = get_datetime_format("medium", locale=locale)
    return f"{pattern.replace('{1}', day).replace('{0}', time)} {zone_label(local)}"


def format_relative(value: datetime | None, now: datetime | None = None) -> str:
    """How far from now: "in 2 hours", "3 days ago"."""
    if not value:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    return babel_format_timedelta(aware - now, add_direction=True, locale=str(get_locale()))


def _is_partial(response: Response) -> bool:
    htmx = getattr(request, "htmx", None)
    return (
        bool(htmx)
        and not htmx.boosted
        and response.mimetype == "text/html"
        and not response.is_streamed
        and response.status_code < 300
        and "HX-Redirect" not in response.headers
    )


URL = re.compile(r"https?://[^\s<>\"']+")


def init_templating(app: Flask) -> None:
    @app.template_filter("money")
    def money(amount: Decimal | None, currency: str) -> str:
        return _money(amount or Decimal("0"), currency, str(get_locale()))

    @app.template_filter("qty")
    def qty(value: Decimal) -> str:
        return format_decimal(value.normalize() if value is not None else 0)

    app.add_template_filter(format_day, "date")
    app.add_template_filter(format_moment, "datetime")
    app.add_template_filter(format_relative, "relative")

    @app.template_filter("linkify")
    def linkify(text: str) -> Markup:
        """Escape, then make http(s) URLs clickable (the outbox shows mail bodies)."""
        escaped = str(escape(text))
        return Markup(URL.sub(lambda m: f'<a href="{m.group(0)}" rel="noreferrer">{m.group(0)}</a>', escaped))

    @app.after_request
    def _flashes_on_partials(response):
        # A partial never showed the flash region, so a message flashed in a request
        # answered by one stayed in the session and popped up on a later, unrelated
        # page. Send pending messages with the partial, out of band.
        if _is_partial(response) and "_flashes" in session:
            response.set_data(response.get_data(as_text=True) + render_template("_flashes.html", oob=True))
        return response

    @app.context_processor
    def globals_():
        return {"app_name": _("Porchlight")}
