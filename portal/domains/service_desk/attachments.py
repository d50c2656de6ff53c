"""Ticket attachments: checked by content, stored outside ``static/`` under random names.

A file's name and the browser's Content-Type are the uploader's claims; only the
bytes decide. Images must open in Pillow as one of the allowed formats, a PDF must
start like one, text must be UTF-8 without control bytes. Everything is checked
before anything is written, so a rejected upload leaves no file and no row.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from portal.core.extensions import db
from portal.domains.service_desk.models import Ticket, TicketAttachment, TicketMessage

# Pillow format -> the Content-Type we serve it with.
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
TEXT_SUFFIXES = {".txt": "text/plain", ".log": "text/plain", ".csv": "text/csv"}
# How a Pillow format is named to people.
IMAGE_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP"}


@dataclass(frozen=True)
class Upload:
    """A checked file, not yet stored."""

    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def allowed_types_label() -> str:
    """The accepted types, in words, from the same tables ``sniff`` checks against: a
    text file with another ending is refused, so the endings are listed."""
    return _(
        "photos (%(images)s), PDF and text files ending in %(suffixes)s",
        images=", ".join(IMAGE_NAMES.get(kind, kind) for kind in IMAGE_TYPES),
        suffixes=", ".join(TEXT_SUFFIXES),
    )


def accept_attribute() -> str:
    """The file input's ``accept``: what ``sniff`` takes (the browser's filter is a hint)."""
    return ",".join(["image/*", "application/pdf", *TEXT_SUFFIXES])


def clean_filename(name: str) -> str:
    """The uploader's file name, safe to show and to put in Content-Disposition."""
    name = unicodedata.normalize("NFC", os.path.basename((name or "").replace("\\", "/")))
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?;')
    return name.strip(" .")[:150] or "attachment"


def sniff(data: bytes, filename: str) -> str | None:
    """The content type the bytes really are, if it is on the allow-list."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            image.verify()
        return IMAGE_TYPES.get(kind or "")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        pass
    suffix = Path(filename).suffix.lower()
    if suffix in TEXT_SUFFIXES:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not any(ord(ch) < 32 and ch not in "\t\r\n\f" for ch in text):
            return TEXT_SUFFIXES[suffix]
    return None


def validate_uploads(files: Sequence, errors: dict[str, str], field: str = "attachments") -> list[Upload]:
    """Read and check the uploaded files (``FileStorage`` objects; empty ones, which
    browsers send for an untouched file input, are skipped). Problems go into
    ``errors[field]``, one clear sentence naming the file."""
    config = current_app.config
    files = [f for f in files if f is not None and getattr(f, "filename", "")]
    if len(files) > config["ATTACHMENT_MAX_FILES"]:
        errors[field] = _("Attach at most %(n)d files.", n=config["ATTACHMENT_MAX_FILES"])
        return []
    uploads: list[Upload] = []
    limit = config["ATTACHMENT_MAX_BYTES"]
    for storage in files:
        name = clean_filename(storage.filename)
        data = storage.stream.read(limit + 1)
        if len(data) > limit:
            errors[field] = _("%(name)s is larger than %(mb)s MB.", name=name, mb=f"{limit / 1024 / 1024:g}")
            return []
        if not data:
            errors[field] = _("%(name)s is empty.", name=name)
            return []
        content_type = sniff(data, name)
        if content_type is None:
            errors[field] = _(
                "%(name)s is not a file type we accept: %(types)s.", name=name, types=allowed_types_label()
            )
            return []
        uploads.append(Upload(name, content_type, data))
    return uploads


def storage_path(key: str) -> Path:
    return Path(current_app.config["ATTACHMENTS_DIR"]) / key[:2] / key


def store_uploads(ticket: Ticket, message: TicketMessage, uploads: Sequence[Upload]) -> list[TicketAttachment]:
    """Write the checked files under random names and add their rows."""
    stored = []
    for upload in uploads:
        key = secrets.token_hex(24)
        path = storage_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:  # "x": never overwrite, whatever the odds
            handle.write(upload.data)
        attachment = TicketAttachment(
            ticket_id=ticket.id,
            message_id=message.id,
            filename=upload.filename,
            content_type=upload.content_type,
            size=len(upload.data),
            sha256=upload.sha256,
            storage_key=key,
        )
        db.session.add(attachment)
        stored.append(attachment)
    if stored:
        db.session.flush()
    return stored


def upload_limits() -> dict:
    """The attachment limits, for the file inputs' hints and their early check in app.js."""
    config = current_app.config
    return {
        "max_files": config["ATTACHMENT_MAX_FILES"],
        "max_bytes": config["ATTACHMENT_MAX_BYTES"],
        "max_mb": f"{config['ATTACHMENT_MAX_BYTES'] / 1024 / 1024:g}",
        "types_label": allowed_types_label(),
        "accept": accept_attribute(),
    }
