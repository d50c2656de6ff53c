"""Checks on a drawn signature: a real, non-blank PNG of sane size, and its strokes."""

from __future__ import annotations

import base64
import binascii
import io
import json

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_WIDTH = 4000
MAX_HEIGHT = 2000
MIN_INK_PIXELS = 40
MAX_STROKES_CHARS = 400_000


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
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return None, _("The signature must be a PNG image drawn in the box.")
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
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        return None, _("The signature could not be read. Please clear it and sign again.")
    return raw, None


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
    try:
        data = json.loads(strokes)
    except ValueError:
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
