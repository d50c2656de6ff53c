"""The one parsing layer: ids, page numbers, decimals and the bounded ``<int:>`` converter."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.routing import Map, Rule

from portal.core.parsing import (
    MAX_ID,
    MAX_PAGE,
    BoundedIntConverter,
    PlainDecimalField,
    coerce_id,
    optional_id,
    parse_decimal,
    parse_id,
    parse_page,
)

NOT_IDS = ["", " ", "0", "-1", "+1", "²", "١٢", "1_000", "1.0", "1e3", "0x10", str(MAX_ID + 1), str(2**64), "9" * 400]


@pytest.mark.parametrize("value", NOT_IDS + [None, 0, -5, MAX_ID + 1, True, 1.5, ["1"]])
def test_parse_id_refuses_what_no_id_column_holds(value):
    assert parse_id(value) is None


@pytest.mark.parametrize(("value", "expected"), [("1", 1), (" 42 ", 42), ("007", 7), (str(MAX_ID), MAX_ID), (9, 9)])
def test_parse_id_takes_ascii_digits_within_an_id_column(value, expected):
    assert parse_id(value) == expected


def test_optional_id_is_parse_id_for_select_values():
    assert optional_id("12") == 12
    assert optional_id(None) is None
    assert optional_id("") is None
    assert optional_id(str(2**64)) is None
    assert optional_id("²") is None


def test_coerce_id_keeps_zero_as_the_none_choice_and_refuses_the_rest():
    assert coerce_id("0") == 0
    assert coerce_id(0) == 0
    assert coerce_id("17") == 17
    for bad in ("", "-1", "²", str(2**64), "sNaN", None):
        with pytest.raises(ValueError):
            coerce_id(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 1),
        ("", 1),
        ("0", 1),
        ("-3", 1),
        ("²", 1),
        ("abc", 1),
        ("3", 3),
        (str(2**64), 1),
        (str(MAX_PAGE + 1), MAX_PAGE),
    ],
)
def test_parse_page_is_a_page_from_one_to_the_maximum(value, expected):
    assert parse_page(value) == expected


def test_parse_page_default_and_maximum_are_the_callers():
    assert parse_page("x", default=2) == 2
    assert parse_page("50", maximum=10) == 10


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "sNaN",
        "-sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "1e999",
        "1E+999999999",
        "1e-2",
        "²",
        "١٢",
        "1_000",
        "",
        ".",
        "-",
        "1.2.3",
        "1,5",
        "1234567890",  # ten integer digits: a Numeric(12, 3) holds nine
        "1." + "0" * 101,
        Decimal("sNaN"),
        Decimal("Infinity"),
        None,
        1.5,
    ],
)
def test_parse_decimal_refuses_what_no_numeric_column_holds(value):
    assert parse_decimal(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", Decimal("1")),
        (" 2.5 ", Decimal("2.5")),
        ("-0", Decimal("0")),
        (".5", Decimal("0.5")),
        ("3.", Decimal("3")),
        ("999999999.999", Decimal("999999999.999")),
        (Decimal("4.25"), Decimal("4.25")),
        (7, Decimal("7")),
    ],
)
def test_parse_decimal_takes_plain_decimals(value, expected):
    assert parse_decimal(value) == expected


def test_parse_decimal_counts_integer_digits_by_the_columns_scale():
    assert parse_decimal("9999999999.99", digits=12, places=2) == Decimal("9999999999.99")
    assert parse_decimal("99999999999", digits=12, places=2) is None


@pytest.mark.parametrize("value", ["sNaN", "NaN", "Infinity", "1e999", "²", "x"])
def test_plain_decimal_field_gives_a_message_instead_of_a_value_that_raises(app, value):
    from wtforms import Form

    class F(Form):
        amount = PlainDecimalField(places=2)

    with app.test_request_context():
        form = F(MultiDict({"amount": value}))
        assert not form.validate()
        assert form.amount.errors
        assert form.amount.data is None


def test_plain_decimal_field_reads_a_number_and_leaves_empty_as_none(app):
    from wtforms import Form

    class F(Form):
        amount = PlainDecimalField(places=2)

    with app.test_request_context():
        assert F(MultiDict({"amount": "12.50"})).amount.data == Decimal("12.50")
        assert F(MultiDict({"amount": ""})).amount.data is None


def test_bounded_int_converter_refuses_past_an_id_column_and_non_ascii_digits():
    url_map = Map([Rule("/p/<int:item>", endpoint="item")], converters={"int": BoundedIntConverter})
    urls = url_map.bind("example.test")
    assert urls.match(f"/p/{MAX_ID}") == ("item", {"item": MAX_ID})
    for path in (f"/p/{MAX_ID + 1}", f"/p/{2**64}", "/p/١٢", "/p/²"):
        with pytest.raises(Exception) as caught:
            urls.match(path)
        assert getattr(caught.value, "code", None) == 404, path


def test_every_int_route_of_the_app_is_bounded(app):
    checked = 0
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if f"<int:{name}>" in rule.rule:
                assert isinstance(converter, BoundedIntConverter), rule.rule
                assert converter.max == MAX_ID, rule.rule
                checked += 1
    assert checked > 40  # every id route of portal and admin


@pytest.mark.parametrize(
    "path",
    [
        f"/p/proposals/{2**64}",
        f"/tickets/{2**64}",
        f"/admin/proposals/{2**64}",
        f"/admin/tickets/{2**63}/attachments/1",
    ],
)
def test_an_id_past_64_bits_in_the_path_is_a_404(client, make, login, path):
    login(client, make.staff(role="admin"))
    assert client.get(path).status_code == 404


def test_parse_text_trims_caps_and_turns_nul_into_a_space():
    from portal.core.parsing import parse_text

    assert parse_text("  a\x00b  ") == "a b"
    assert parse_text("x" * 500) == "x" * 100
    assert parse_text(None) == ""
    assert parse_text(["a"]) == ""


def test_requests_carry_no_nul_in_query_strings_or_form_fields(app):
    from flask import request

    with app.test_request_context("/?q=a%00b&q=c", method="POST", data={"note": "x\x00y", "n": "1"}):
        assert request.args.getlist("q") == ["ab", "c"]
        assert request.form["note"] == "xy" and request.form["n"] == "1"
