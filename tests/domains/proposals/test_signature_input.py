"""Malformed signatures are bad input, not a 500: strokes nested past the parser's
recursion, and PNGs whose text or profile chunks inflate to megabytes."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from portal.demo import DEMO_STROKES
from portal.domains.proposals import signing
from tests.factories import page_form, sign_form

COULD_NOT_READ = "The signature could not be read"
EXTRA_DATA = "The signature image carries extra data"


def _png(pnginfo=None, **save) -> str:
    """An inked pad-sized PNG as a data URL, with extra chunks."""
    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(10, 10), (280, 80)], fill=(16, 32, 74, 255), width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=pnginfo, **save)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _text_png(text: str, compressed: bool) -> str:
    info = PngImagePlugin.PngInfo()
    if compressed:
        info.add_text("Comment", text, zip=True)  # zTXt
    else:
        info.add_text("Comment", text)  # tEXt
    return _png(info)


def _itxt_png(text: str) -> str:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Comment", text, lang="en", tkey="Comment", zip=True)
    return _png(info)


@pytest.mark.parametrize(
    "data_url",
    [
        pytest.param(_text_png("A" * 8_000_000, compressed=True), id="zTXt-8MB"),
        pytest.param(_itxt_png("A" * 8_000_000), id="iTXt-8MB"),
        pytest.param(_png(icc_profile=b"\0" * 8_000_000), id="iCCP-8MB"),
        pytest.param(_text_png(os.urandom(60_000).hex(), compressed=False), id="tEXt-120KB"),
    ],
)
def test_a_png_whose_ancillary_chunk_inflates_past_the_cap_is_refused(app, data_url):
    assert len(data_url) < 200_000  # small on the wire
    with app.app_context():
        png, error = signing.decode_signature_png(data_url)
    assert png is None and error.startswith(EXTRA_DATA)


def test_a_png_whose_text_chunk_pillow_refuses_is_bad_input(app, monkeypatch):
    """Past our cap check, Pillow's own limit raises ValueError: still a message."""
    monkeypatch.setattr(signing, "MAX_ANCILLARY_BYTES", 10**9)
    with app.app_context():
        png, error = signing.decode_signature_png(_text_png("A" * 8_000_000, compressed=True))
    assert png is None and error.startswith(COULD_NOT_READ)


def test_a_png_with_small_text_chunks_is_still_a_signature(app):
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "pad", zip=True)
    info.add_text("Title", "signature")
    with app.app_context():
        png, error = signing.decode_signature_png(_png(info, icc_profile=b"\0" * 2000))
    assert error is None and png


@pytest.mark.parametrize("opening", ["[", "{", '[{"points":'])
def test_strokes_nested_past_the_parsers_recursion_are_refused(app, opening):
    strokes = opening * 100_000
    with app.app_context():
        data, error = signing.validate_strokes(strokes[: signing.MAX_STROKES_CHARS])
    assert data is None and error.startswith(COULD_NOT_READ)


def test_strokes_nested_a_little_deeper_than_a_drawing_are_refused(app):
    strokes = json.dumps([{"points": [{"x": 1, "y": 2, "extra": [[[[1]]]]}]}])
    with app.app_context():
        data, error = signing.validate_strokes(strokes)
    assert data is None and error.startswith(COULD_NOT_READ)


def test_brackets_inside_strings_do_not_count_as_nesting(app):
    strokes = json.dumps([{"penColor": "[[[[[[[[[[", "points": [{"x": 1, "y": 2, "time": 3}]}])
    with app.app_context():
        data, error = signing.validate_strokes(strokes)
    assert error is None and json.loads(data)[0]["penColor"] == "[[[[[[[[[["


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_strokes_with_non_finite_coordinates_are_refused(app, constant):
    with app.app_context():
        data, error = signing.validate_strokes(f'[{{"points":[{{"x":{constant},"y":1}}]}}]')
    assert data is None and error.startswith(COULD_NOT_READ)


def test_the_pads_own_strokes_still_validate(app):
    with app.app_context():
        data, error = signing.validate_strokes(DEMO_STROKES)
    assert error is None and json.loads(data) == json.loads(DEMO_STROKES)


def _open(client, open_link, delivered):
    page = open_link(client, delivered.token)
    assert page.status_code == 200
    return page_form(page.get_data(as_text=True))["seen_hash"]


def test_the_sign_form_answers_422_to_deeply_nested_strokes_and_keeps_the_name(make, client, open_link):
    delivered = make.delivered()
    seen_hash = _open(client, open_link, delivered)
    data = sign_form(delivered.proposal, seen_hash=seen_hash, signer_name="Cora Nested", strokes="[" * 100_000)
    response = client.post(f"/p/proposals/{delivered.proposal.id}/sign", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert COULD_NOT_READ in html and "Cora Nested" in html


def test_the_sign_form_answers_422_to_an_inflating_png_and_keeps_the_drawing(make, client, open_link):
    delivered = make.delivered()
    seen_hash = _open(client, open_link, delivered)
    bomb = _text_png("A" * 8_000_000, compressed=True)
    data = sign_form(delivered.proposal, seen_hash=seen_hash, signature_png=bomb)
    response = client.post(f"/p/proposals/{delivered.proposal.id}/sign", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert EXTRA_DATA in html
    assert json.loads(page_form_strokes(html)) == json.loads(DEMO_STROKES)  # the pad redraws it


def page_form_strokes(html: str) -> str:
    import re
    from html import unescape

    match = re.search(r'name="strokes" value="([^"]*)"', html)
    assert match, "no strokes field"
    return unescape(match.group(1))
