"""The catalogs: every customer-facing string is in every catalog, translated, with the
placeholders of its source, and each compiled catalog is the one its .po says.

The strings come from Babel's own extraction over ``babel.cfg`` (portal pages, portal
forms, flash and error messages, mail), so a string added anywhere under ``portal/``
fails this test until each catalog has it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "portal" / "translations"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
# Python-format placeholders: %(name)s, %(n)d, and the bare %s / %d.
PLACEHOLDER = re.compile(r"%(?:\([a-zA-Z_][a-zA-Z0-9_]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
# The languages the issue asks for; any other catalog present is held to the same rules.
REQUIRED = {"es", "it", "ro"}
# Messages that read the same in a language (names, abbreviations, universal words).
SAME_IN = {
    "Porchlight": {"es", "it", "ro"},
    "Re: %(title)s [%(number)s]": {"es", "it", "ro"},
    "Total": {"es", "ro"},
    "Normal": {"es"},
    "Portal": {"es", "ro"},
}


def _extracted() -> list[tuple[str, str, int]]:
    """(msgid, file, line) of every string ``babel.cfg`` extracts."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = []
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        # A plural (ngettext) is one catalog entry, under its singular.
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.append((msgid, filename, lineno))
    return found


@pytest.fixture(scope="module")
def occurrences() -> list[tuple[str, str, int]]:
    return _extracted()


@pytest.fixture(scope="module")
def extracted(occurrences) -> dict[str, tuple[str, int]]:
    """msgid -> where it first occurs."""
    first: dict[str, tuple[str, int]] = {}
    for msgid, filename, line in occurrences:
        first.setdefault(msgid, (filename, line))
    return first


def _languages() -> list[str]:
    return sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def _catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def _placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text) if m.group(0) != "%%")


def _forms(value) -> tuple:
    """A message's id or string as a tuple of its forms (plurals have several)."""
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def test_the_required_languages_have_catalogs():
    assert set(_languages()) >= REQUIRED


def test_extraction_finds_the_customer_strings(occurrences, extracted):
    # The test is only as good as its extraction: pages, forms, flashes, errors and mail.
    files = {name for _msgid, name, _line in occurrences}
    for expected in (
        "portal/templates/proposals/show.html",
        "portal/templates/emails/proposal_delivered.txt",
        "portal/tickets/forms.py",
        "portal/core/error_pages.py",
        "portal/sign_in/views.py",
    ):
        assert expected in files, expected
    assert "Sign proposal" in extracted and "Hello %(name)s," in extracted


@pytest.mark.parametrize("language", _languages())
def test_every_customer_string_is_translated_in_the_catalog(extracted, language):
    catalog = _catalog(language)
    problems = []
    for msgid, (filename, line) in sorted(extracted.items()):
        message = catalog.get(msgid)
        where = f"{filename}:{line}"
        if message is None:
            problems.append(f"missing: {msgid!r} ({where})")
        elif not all(_forms(message.string)):
            problems.append(f"untranslated: {msgid!r} ({where})")
        elif message.fuzzy:
            problems.append(f"fuzzy: {msgid!r} ({where})")
        elif _forms(message.string)[0] == msgid and language not in SAME_IN.get(msgid, ()):
            problems.append(f"left in English: {msgid!r} ({where})")
    assert not problems, f"{language}: {len(problems)} problems\n" + "\n".join(problems)


@pytest.mark.parametrize("language", _languages())
def test_every_translation_has_the_placeholders_of_its_source(language):
    problems = []
    for message in _catalog(language):
        if not message.id or not all(_forms(message.string)):
            continue
        # Each form of a plural carries the placeholders of the singular or the plural source.
        sources = {tuple(_placeholders(form)) for form in _forms(message.id)}
        for form in _forms(message.string):
            if tuple(_placeholders(form)) not in sources:
                problems.append(f"{message.id!r} -> {form!r}")
    assert not problems, f"{language}:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", _languages())
def test_the_compiled_catalog_is_the_one_the_po_file_says(language):
    """The .mo files are committed (a fresh clone runs without a compile step): each
    must hold exactly the .po's translations (``pybabel compile`` after editing one)."""
    mo_path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
    assert mo_path.exists(), f"run: pybabel compile -d portal/translations -l {language}"
    with open(mo_path, "rb") as mo:
        compiled = {_forms(m.id): _forms(m.string) for m in read_mo(mo) if m.id}
    source = {
        _forms(m.id): _forms(m.string) for m in _catalog(language) if m.id and all(_forms(m.string)) and not m.fuzzy
    }
    assert compiled == source, f"portal/translations/{language}: run pybabel compile -d portal/translations"


def test_a_plural_is_checked_form_by_form(tmp_path):
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale="ro")
    catalog.add(("%(num)s day", "%(num)s days"), ("%(num)s zi", "%(num)s zile", "%(num)s de zile"))
    (message,) = [m for m in catalog if m.id]
    sources = {tuple(_placeholders(form)) for form in _forms(message.id)}
    assert all(tuple(_placeholders(form)) in sources for form in _forms(message.string))
    assert tuple(_placeholders("zile")) not in sources


def test_the_placeholder_check_catches_a_differing_placeholder():
    # A guard on the guard: a renamed or dropped placeholder is a difference.
    assert _placeholders("Hello %(name)s, %(n)d") != _placeholders("Hola %(nombre)s, %(n)d")
    assert _placeholders("%(n)s minutes") != _placeholders("minutos")
    assert _placeholders("%(a)s and %(b)s") == _placeholders("%(b)s y %(a)s")
