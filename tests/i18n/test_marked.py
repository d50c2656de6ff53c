"""Every word a template shows is marked for translation (``_()``), the admin area's
too: the admin stays English, but a catalog for it would be a catalog, not a rewrite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(
    [
        *ROOT.glob("portal/templates/**/*.html"),
        *ROOT.glob("portal/templates/**/*.txt"),
        *ROOT.glob("admin/templates/**/*.html"),
    ]
)
# What may stand outside ``_()``: entities and punctuation, CSS class names in blocks,
# and htmx attributes written by a macro.
ALLOWED = re.compile(r"^(?:&[a-z]+;|[\s·—–:/()\[\]<>,.|-])*$|^admin$|^(?:hx-[a-z-]+=\"[^\"]*\"\s*)+$")
WORD = re.compile(r"[^\W\d_]{2,}")
# A format shown as an example ("PC-XXXX-XXXX"), the same in every language.
FORMAT_EXAMPLE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)+$")


def unmarked(source: str) -> list[str]:
    """The visible text of a template that no ``_()`` covers."""
    text = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    found = [
        m.group(2)
        for m in re.finditer(r'\b(placeholder|title|aria-label|alt)="([^"]*)"', text)
        if WORD.search(m.group(2)) and not FORMAT_EXAMPLE.match(m.group(2))
    ]
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    for line in text.splitlines():
        line = line.strip()
        if WORD.search(line) and not ALLOWED.match(line):
            found.append(line)
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_template_text_is_marked_for_translation(path):
    assert unmarked(path.read_text()) == []


def test_the_check_finds_unmarked_text():
    assert unmarked('<p>{{ _("Fine") }}</p><p>Forgot this</p>') == ["Forgot this"]
    assert unmarked('<input placeholder="Type here">') == ["Type here"]
    assert unmarked("<p>{{ _('Fine') }} &lt;{{ email }}&gt;</p>") == []
