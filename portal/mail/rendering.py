"""Rendering a message: both parts, plain text and HTML, from one template pair.

``render_mail`` is the one place a message is rendered (``queue_mail`` calls it).
Whatever is active around the call is what the message is written in: wrap it in
``flask_babel.force_locale(...)`` (and pass the recipient's zone to the ``datetime``
filter) and both parts come out in the recipient's language; the locale it saw is
returned with them, for the ``Content-Language`` header and the HTML's ``lang``.

Each message is ``emails/<template>.txt`` and ``emails/<template>.html``; the HTML
extends ``emails/_layout.html``, written with classes and one stylesheet, and
``css-inline`` copies that stylesheet into ``style`` attributes (mail clients drop
``<style>`` blocks; Gmail keeps them only in part), keeping only the dark-mode
``@media`` rules in a ``<style>`` block, since those cannot be inlined.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import css_inline
from flask import current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.core.config import DEFAULT_BRAND_COLOUR, parse_hex_colour

log = logging.getLogger(__name__)

# The HTML part of a message that has only a text template (a message added before
# its HTML twin): its text, in the same layout.
TEXT_ONLY = "emails/_text_only.html"


@dataclass(frozen=True)
class RenderedMail:
    text: str
    html: str
    locale: str  # the locale both parts were rendered in ("en", "pt_BR")

    @property
    def language(self) -> str:
        """The locale as a language tag (``pt-BR``), for ``lang`` and ``Content-Language``."""
        return language_tag(self.locale)


def language_tag(locale: str) -> str:
    return locale.replace("_", "-")


@dataclass(frozen=True)
class Brand:
    name: str
    colour: str  # the button and the stripe, #rrggbb
    on_colour: str  # text on that colour: white or near-black, whichever reads better


def brand() -> Brand:
    """The business's name and colour from the settings, safe to put in a style.

    The config checks ``BRAND_COLOUR`` when it reads the environment; a value set
    some other way (a test, an app factory's mapping) is checked again here and,
    if it is not a colour, replaced by the default rather than written into a style.
    """
    config = current_app.config
    colour = parse_hex_colour(config.get("BRAND_COLOUR"))
    if colour is None:
        if config.get("BRAND_COLOUR"):
            log.warning(
                "BRAND_COLOUR %r is not a #rgb or #rrggbb colour; using %s",
                config["BRAND_COLOUR"],
                DEFAULT_BRAND_COLOUR,
            )
        colour = DEFAULT_BRAND_COLOUR
    name = (config.get("BUSINESS_NAME") or "").strip() or _("Porchlight")
    return Brand(name=name, colour=colour, on_colour=readable_on(colour))


def _luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    a, b = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def readable_on(colour: str) -> str:
    """The text colour for a button of ``colour``: white or near-black, the better one."""
    light, dark = "#ffffff", "#111111"
    return light if contrast_ratio(colour, light) >= contrast_ratio(colour, dark) else dark


@cache
def _inliner() -> css_inline.CSSInliner:
    # Never fetch anything: a mail's styles are all in its own <style> block.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


def inline_styles(html: str) -> str:
    """The layout's stylesheet copied into ``style`` attributes; ``@media`` rules kept."""
    return _inliner().inline(html)


def render_mail(template: str, **context) -> RenderedMail:
    """Both parts of ``emails/<template>``, rendered in the locale active now."""
    locale = str(get_locale() or current_app.config.get("BABEL_DEFAULT_LOCALE") or "en")
    mark = brand()
    context = {
        # Explicit names win over the app's context processors (app_name is the portal's).
        "business_name": mark.name,
        "app_name": mark.name,
        "brand": mark,
        "lang": language_tag(locale),
        **context,
    }
    text = render_template(f"emails/{template}.txt", **context)
    html = render_template([f"emails/{template}.html", TEXT_ONLY], text_part=text, **context)
    return RenderedMail(text=text, html=inline_styles(html), locale=locale)
