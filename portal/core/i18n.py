"""Which language a reader gets, decided here and nowhere else.

The rungs, first that names a language with a catalog wins:

1. the contact's preferred language (staff set it on the contact, or the contact with
   the portal's footer switch);
2. the language this browser picked with the footer switch (a cookie), for a visitor
   the portal does not know yet;
3. the organization's default language;
4. the browser's Accept-Language;
5. the instance default (``DEFAULT_LANGUAGE``).

The languages on offer are the catalogs present in ``portal/translations`` (English,
the source language, needs none) that the ``LANGUAGES`` setting lists: adding one is
a catalog and a settings line. A rung naming a language without a catalog is skipped,
and ``LocaleChoice.skipped`` says so (staff see why on the contact's page).

Pages get their locale through Flask-Babel's selector (``select_locale``); the portal's
access layer puts the contact's and organization's languages in ``g`` when it reads
the contact's row. Mail is rendered in the recipient's locale and zone with
``rendering_for`` (no request needed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import lru_cache
from pathlib import Path

import pytz
from babel import Locale, UnknownLocaleError
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import force_locale, refresh
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

SOURCE_LANGUAGE = "en"
COOKIE = "porchlight_lang"
# A header longer than this is cut before it is parsed: the languages a person really
# lists fit in a few dozen bytes, and a 4 KB header of junk costs nothing.
ACCEPT_LANGUAGE_MAX = 512

RUNGS = ("contact", "cookie", "organization", "browser", "default")


def catalog_languages(translations_dir: Path) -> set[str]:
    """The languages with a compiled catalog in ``translations_dir``."""
    if not translations_dir.is_dir():
        return set()
    return {path.parent.parent.name for path in translations_dir.glob("*/LC_MESSAGES/messages.mo")}


def init_i18n(app: Flask) -> None:
    """Settle the languages on offer: those listed in ``LANGUAGES`` that have a catalog."""
    present = catalog_languages(Path(app.root_path) / "translations") | {SOURCE_LANGUAGE}
    wanted = [normalise(code) for code in app.config.get("LANGUAGES") or []]
    offered = [code for code in dict.fromkeys(wanted) if code in present] or [SOURCE_LANGUAGE]
    default = normalise(app.config.get("DEFAULT_LANGUAGE")) or SOURCE_LANGUAGE
    if default not in offered:
        app.logger.warning("DEFAULT_LANGUAGE %r has no catalog; using %r", default, offered[0])
        default = offered[0]
    app.config["LANGUAGES"] = offered
    app.config["DEFAULT_LANGUAGE"] = default
    app.config["BABEL_DEFAULT_LOCALE"] = default
    app.jinja_env.globals.update(
        language_name=language_name,
        language_choices=language_choices,
        current_language=current_language,
        language_back=language_back,
    )


def languages() -> list[str]:
    """The language codes on offer, in the settings' order."""
    return current_app.config["LANGUAGES"]


def language_name(code: str, in_locale: str | None = None) -> str:
    """A language's own name ("Español", "Română"), or in ``in_locale``'s words."""
    try:
        name = Locale.parse(code).get_display_name(in_locale or code) or code
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return name[:1].upper() + name[1:]


def language_back() -> str:
    """Where the footer switch returns: this page, unless it is no page to return to
    (a POST's answer) or its address holds a token (which never goes into a form)."""
    if not has_request_context() or request.method != "GET" or "token" in (request.view_args or {}):
        return ""
    return request.path


def current_language() -> str:
    """The language of what is being rendered ("es"), for ``<html lang>``."""
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale is not None else SOURCE_LANGUAGE


def language_choices() -> list[tuple[str, str]]:
    """(code, name in that language) for every language on offer: the footer switch."""
    return list(_own_names(tuple(languages())))


@lru_cache(maxsize=8)
def _own_names(codes: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # Every portal page shows the switch: name the languages once, not per render.
    return tuple((code, language_name(code)) for code in codes)


def normalise(code: str | None) -> str | None:
    """ "es-ES", "ES_es" and "es" are all "es"; anything else that is no language tag
    is None. Catalogs are per language, not per region."""
    if not code or not isinstance(code, str) or len(code) > 35:
        return None
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if 2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha() else None


@dataclass(frozen=True)
class LocaleChoice:
    """The locale chosen, the rung that chose it, and the rungs passed over because
    their language has no catalog: (rung, the language it named)."""

    locale: str
    rung: str
    skipped: tuple[tuple[str, str], ...] = field(default=())


def resolve_locale(
    *,
    contact: str | None = None,
    cookie: str | None = None,
    organization: str | None = None,
    accept_language: str | None = None,
    offered: Iterable[str] | None = None,
    default: str | None = None,
) -> LocaleChoice:
    """The one ordering of the rungs (see the module's docstring)."""
    offered = list(offered if offered is not None else languages())
    skipped: list[tuple[str, str]] = []
    for rung, value in (("contact", contact), ("cookie", cookie), ("organization", organization)):
        if not value:
            continue
        code = normalise(value)
        if code in offered:
            return LocaleChoice(code, rung, tuple(skipped))
        skipped.append((rung, value))
    if accept_language:
        code = best_accepted(accept_language, offered)
        if code:
            return LocaleChoice(code, "browser", tuple(skipped))
    fallback = default or current_app.config.get("DEFAULT_LANGUAGE") or SOURCE_LANGUAGE
    return LocaleChoice(fallback if fallback in offered else offered[0], "default", tuple(skipped))


def best_accepted(header: str, offered: Iterable[str]) -> str | None:
    """The best offered language of an Accept-Language header, or None. Never fails:
    the header is cut to a sane length, tags that are not languages are ignored."""
    try:
        parsed = parse_accept_header(header[:ACCEPT_LANGUAGE_MAX], LanguageAccept)
    except (ValueError, TypeError):
        return None
    offered = set(offered)
    ranked: list[tuple[float, int, str]] = []
    for index, (tag, quality) in enumerate(parsed):
        code = normalise(tag)
        if code in offered and quality > 0:
            ranked.append((-quality, index, code))
    return min(ranked)[2] if ranked else None


# --- pages ----------------------------------------------------------------------


def note_reader(contact_language: str | None, organization_language: str | None) -> None:
    """The access layer read the contact: their languages decide from now on (a
    locale Flask-Babel already chose for this request is chosen again)."""
    before = (getattr(g, "contact_language", None), getattr(g, "organization_language", None))
    g.contact_language, g.organization_language = contact_language, organization_language
    g.reader_known = True
    if before != (contact_language, organization_language):
        refresh()


def request_choice() -> LocaleChoice:
    """The locale of this request's reader."""
    if not has_request_context():
        return resolve_locale()
    config = current_app.config
    accept_language = request.headers.get("Accept-Language")
    return _resolved(
        getattr(g, "contact_language", None),
        request.cookies.get(COOKIE),
        getattr(g, "organization_language", None),
        # best_accepted reads no further, so the kept key stays small.
        accept_language[:ACCEPT_LANGUAGE_MAX] if accept_language else accept_language,
        tuple(config["LANGUAGES"]),
        config.get("DEFAULT_LANGUAGE"),
    )


@lru_cache(maxsize=256)
def _resolved(contact, cookie, organization, accept_language, offered, default) -> LocaleChoice:
    # A pure function of the rungs and the settings, asked on every page view with the
    # same few answers (parsing Accept-Language each time was most of the cost).
    return resolve_locale(
        contact=contact,
        cookie=cookie,
        organization=organization,
        accept_language=accept_language,
        offered=offered,
        default=default,
    )


@lru_cache(maxsize=64)
def babel_locale(code: str) -> Locale:
    """The ``Locale`` for a language code, made once (Flask-Babel passes a ``Locale``
    through and would otherwise parse the code again on every request)."""
    return Locale.parse(code)


@lru_cache(maxsize=256)
def babel_zone(name: str) -> tzinfo:
    """The zone Flask-Babel makes of a name (pytz's), made once per name; an unknown
    name raises as Flask-Babel's own lookup does."""
    return pytz.timezone(name)


def select_locale() -> Locale:
    """Flask-Babel's locale selector: the admin area stays English."""
    if has_request_context() and request.blueprint and request.blueprint.startswith("admin"):
        return babel_locale(SOURCE_LANGUAGE)
    return babel_locale(request_choice().locale)


# --- mail -----------------------------------------------------------------------


@contextmanager
def rendering_for(locale: str | None, timezone: str | None = None) -> Iterator[None]:
    """Render (gettext, ``|date``, ``|money``) in ``locale`` and ``timezone``, whatever
    the request's own: mail is in the recipient's language, not the sender's. None
    keeps what is active (a caller's own ``force_locale``)."""
    from flask_babel import _get_current_context

    if locale is None and timezone is None:
        yield
        return
    ctx = _get_current_context()
    saved = getattr(ctx, "babel_tzinfo", None) if ctx is not None else None
    try:
        with force_locale(locale) if locale else nullcontext():
            if ctx is not None and timezone:
                from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

                try:
                    ctx.babel_tzinfo = ZoneInfo(timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    ctx.babel_tzinfo = ZoneInfo("UTC")
            yield
    finally:
        if ctx is not None:
            if saved is None:
                if hasattr(ctx, "babel_tzinfo"):
                    del ctx.babel_tzinfo
            else:
                ctx.babel_tzinfo = saved


def language_options(current: str | None, none_label: str) -> list[tuple[str, str]]:
    """A staff form's language choices: none, the languages on offer (named in English,
    the admin's language), and ``current`` when it has no catalog (so the form shows
    what is stored, and saving it again changes nothing)."""
    options = [("", none_label)] + [(code, f"{language_name(code, SOURCE_LANGUAGE)} ({code})") for code in languages()]
    if current and current not in languages():
        from flask_babel import gettext as _

        options.append((current, _("%(code)s (no catalog: falls back)", code=current)))
    return options
