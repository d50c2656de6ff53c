"""Which language a reader gets: each rung of portal/core/i18n.py, and headers that are
long or nonsense."""

from __future__ import annotations

import pytest

from portal.core.i18n import best_accepted, catalog_languages, normalise, resolve_locale

OFFERED = ["en", "es", "it", "ro"]


def choose(**rungs):
    return resolve_locale(offered=OFFERED, default="en", **rungs)


def test_the_contacts_preference_comes_first():
    choice = choose(contact="ro", cookie="it", organization="es", accept_language="it")
    assert (choice.locale, choice.rung) == ("ro", "contact")


def test_the_browsers_own_choice_comes_next():
    choice = choose(cookie="it", organization="es", accept_language="es")
    assert (choice.locale, choice.rung) == ("it", "cookie")


def test_then_the_organizations_default():
    choice = choose(organization="es", accept_language="it")
    assert (choice.locale, choice.rung) == ("es", "organization")


def test_then_accept_language_by_quality():
    choice = choose(accept_language="de-DE,de;q=0.9,it;q=0.5,ro;q=0.7")
    assert (choice.locale, choice.rung) == ("ro", "browser")


def test_then_the_instance_default():
    choice = resolve_locale(offered=OFFERED, default="it", accept_language="de, fr;q=0.5")
    assert (choice.locale, choice.rung) == ("it", "default")


def test_a_preference_without_a_catalog_falls_back_and_says_why():
    choice = choose(contact="de", organization="es")
    assert (choice.locale, choice.rung) == ("es", "organization")
    assert choice.skipped == (("contact", "de"),)
    choice = choose(contact="pt-BR", organization="fr")
    assert (choice.locale, choice.rung) == ("en", "default")
    assert choice.skipped == (("contact", "pt-BR"), ("organization", "fr"))


def test_regions_and_spellings_are_the_language():
    assert normalise("es-ES") == normalise("ES_es") == normalise(" es ") == "es"
    assert choose(contact="ro_RO").locale == "ro"
    assert choose(accept_language="it-CH;q=1").locale == "it"


@pytest.mark.parametrize(
    "header",
    [
        "x" * 4096,
        ("es;q=0.1," * 500)[:4096],
        "ro;q=abc, it;q=NaN, es;q=-1, ;;;, *;q=2",
        "\x00\x01,;q=,,=,q=0.5",
        "en-US-x-private-sub-tags-that-go-on-and-on-and-on-and-on-and-on;q=0.9",
        "é, ελληνικά, 中文;q=0.8",
        ",,,,,,;;;;;;",
        "1234, --, q=1",
    ],
)
def test_long_or_nonsense_accept_language_never_fails(header):
    choice = choose(accept_language=header)
    assert choice.locale in OFFERED


def test_a_4kb_header_is_read_quickly_and_its_first_good_tag_wins():
    header = "zz;q=0.9," * 400 + "it"
    assert len(header) > 3000
    # past the cut: the header's first 512 bytes hold no offered language
    assert best_accepted(header, OFFERED) is None
    assert best_accepted("it;q=0.2," + header, OFFERED) == "it"


def test_a_tag_with_quality_zero_is_refused():
    assert best_accepted("es;q=0, it;q=0.1", OFFERED) == "it"
    assert best_accepted("es;q=0", OFFERED) is None


def test_the_offered_languages_are_the_catalogs_present(tmp_path):
    for code in ("es", "ro"):
        (tmp_path / code / "LC_MESSAGES").mkdir(parents=True)
        (tmp_path / code / "LC_MESSAGES" / "messages.mo").write_bytes(b"")
    (tmp_path / "it" / "LC_MESSAGES").mkdir(parents=True)  # a folder without a compiled catalog
    assert catalog_languages(tmp_path) == {"es", "ro"}
    assert catalog_languages(tmp_path / "missing") == set()


def test_the_app_offers_its_catalogs_that_the_settings_list(app):
    assert app.config["LANGUAGES"] == ["en", "es", "it", "ro"]
    assert app.config["DEFAULT_LANGUAGE"] == "en"


def test_a_listed_language_without_a_catalog_is_left_out(tmp_path_factory):
    from tests.conftest import make_app

    other = make_app(tmp_path_factory, LANGUAGES=["en", "ro", "de"], DEFAULT_LANGUAGE="de")
    assert other.config["LANGUAGES"] == ["en", "ro"]
    assert other.config["DEFAULT_LANGUAGE"] == "en"
