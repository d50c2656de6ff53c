"""Checks on a drawn signature: a real, non-blank PNG of sane size, and its strokes."""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import struct
import zlib

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_WIDTH = 4000
MAX_HEIGHT = 2000
MIN_INK_PIXELS = 40
MAX_STROKES_CHARS = 400_000
# ``SignaturePad.toData()`` is a list of strokes, each an object whose "points" is a list
# of objects: four levels. Anything nested deeper is not a drawing, and nested deeply
# enough it exhausts the JSON parser's recursion (a RecursionError, a 500).
MAX_STROKES_DEPTH = 6
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")
# A pad's PNG carries pixels, not text or colour profiles: a small zTXt/iTXt/iCCP chunk
# can inflate to megabytes (Pillow then raises ValueError, a 500), so compressed chunks
# may inflate to at most this, and no ancillary chunk may be larger.
MAX_ANCILLARY_BYTES = 64 * 1024
_COMPRESSED_CHUNKS = {b"zTXt", b"iTXt", b"iCCP"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_signature_png(data_url: str) -> tuple[bytes | None, str | None]:
    """The PNG bytes of a ``data:`` URL from the pad, or an error message for the user."""
    if not data_url:
        return None, _("Please draw your signature in the box.")
    if not data_url.startswith(DATA_URL_PREFIX):
        return None, _("The signature must be a PNG image drawn in the box.")
    limit = current_app.config["SIGNATURE_MAX_BYTES"]
    encoded = data_url[len(DATA_URL_PREFIX) :]
    if len(encoded) > limit * 4 // 3 + 4:
        return None, _("The signature image is too large (at most %(kb)s KB).", kb=limit // 1024)
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None, _("The signature could not be read. Please clear it and sign again.")
    if not raw.startswith(_PNG_SIGNATURE):
        return None, _("The signature must be a PNG image drawn in the box.")
    if not _ancillary_chunks_small(raw):
        return None, _("The signature image carries extra data. Please clear it and sign again.")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "PNG":
                return None, _("The signature must be a PNG image drawn in the box.")
            width, height = image.size
            if width > MAX_WIDTH or height > MAX_HEIGHT or width < 50 or height < 20:
                return None, _("The signature image has an unexpected size. Please sign again.")
            image.load()
            if _ink_pixels(image) < MIN_INK_PIXELS:
                return None, _("Please draw your signature in the box.")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        # ValueError: Pillow's "Decompressed Data Too Large" for a text chunk past its cap
        return None, _("The signature could not be read. Please clear it and sign again.")
    return raw, None


def _ancillary_chunks_small(raw: bytes) -> bool:
    """False when an ancillary chunk is large, or a compressed one inflates past the cap.

    Walks the chunk list without trusting it: a truncated or malformed list is left to
    Pillow, which refuses it with its own error."""
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(raw):
        length, kind = struct.unpack(">I4s", raw[offset : offset + 8])
        data = raw[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind[:1].isupper():  # critical chunk (IHDR, PLTE, IDAT, IEND): Pillow's to read
            continue
        if length > MAX_ANCILLARY_BYTES:
            return False
        if kind not in _COMPRESSED_CHUNKS:
            continue
        parts = data.split(b"\0", 1)  # keyword or profile name, then the rest
        if len(parts) != 2:
            continue
        rest = parts[1]
        if kind == b"iTXt":  # compression flag, method, language tag\0, translated keyword\0
            if rest[:1] != b"\1":
                continue
            rest = rest[2:].split(b"\0", 2)[-1]
        else:
            rest = rest[1:]  # the compression method byte
        try:
            inflated = zlib.decompressobj().decompress(rest, MAX_ANCILLARY_BYTES + 1)
        except zlib.error:
            continue  # corrupt: Pillow refuses or skips it
        if len(inflated) > MAX_ANCILLARY_BYTES:
            return False
    return True


def _ink_pixels(image: Image.Image) -> int:
    """How many pixels carry ink: opaque ones on a transparent pad, dark ones otherwise."""
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A")
        return sum(alpha.histogram()[32:])
    grey = image.convert("L")
    return sum(grey.histogram()[:160])


def validate_strokes(strokes: str) -> tuple[str | None, str | None]:
    """The pad's stroke data (``SignaturePad.toData()``) as canonical JSON, or an error."""
    if not strokes:
        return None, _("Please draw your signature in the box.")
    if len(strokes) > MAX_STROKES_CHARS:
        return None, _("The signature is too complex. Please clear it and sign again.")
    if _nesting_depth(strokes) > MAX_STROKES_DEPTH:
        return None, _("The signature could not be read. Please clear it and sign again.")
    try:
        data = json.loads(strokes, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None, _("The signature could not be read. Please clear it and sign again.")
    if not isinstance(data, list) or not data:
        return None, _("Please draw your signature in the box.")
    for stroke in data:
        points = stroke.get("points") if isinstance(stroke, dict) else None
        if not isinstance(points, list) or not all(
            isinstance(p, dict) and isinstance(p.get("x"), int | float) and isinstance(p.get("y"), int | float)
            for p in points
        ):
            return None, _("The signature could not be read. Please clear it and sign again.")
    return json.dumps(data, separators=(",", ":")), None


def _nesting_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest in JSON text (brackets inside strings left out),
    counted without recursion, before ``json.loads`` recurses into it."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    """NaN and Infinity are not coordinates (and not JSON)."""
    raise ValueError(name)
