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
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import event, select

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


class AttachmentsUnavailable(Exception):
    """The attachments folder cannot take the files (read-only, full, gone)."""


WRITTEN = "attachment_files_written"


def storage_failed_message() -> str:
    return _(
        "The ticket was NOT sent: we could not store the attached files just now, so nothing was saved. "
        "Please try again in a few minutes, or send it without the files."
    )


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:  # "x": never overwrite, whatever the odds
        handle.write(data)


def store_uploads(ticket: Ticket, message: TicketMessage, uploads: Sequence[Upload]) -> list[TicketAttachment]:
    """Write the checked files under random names and add their rows.

    Files are written before the commit and belong to its transaction: a rollback (the
    write of a later file failed, the commit failed) removes them again, and a process
    that dies in between leaves orphans that ``sweep_orphans`` deletes. A folder that
    cannot take a file raises ``AttachmentsUnavailable`` with nothing left behind.
    """
    stored = []
    written: list[str] = db.session.info.setdefault(WRITTEN, [])
    for upload in uploads:
        key = secrets.token_hex(24)
        path = storage_path(key)
        try:
            _write_file(path, upload.data)
        except OSError as exc:
            _remove_quietly(path)
            _remove_files(written)
            raise AttachmentsUnavailable(str(exc)) from exc
        written.append(str(path))
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


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _remove_files(paths: list[str]) -> None:
    while paths:
        _remove_quietly(Path(paths.pop()))


@event.listens_for(db.session, "after_commit")
def _files_kept(session) -> None:
    session.info.pop(WRITTEN, None)


@event.listens_for(db.session, "after_rollback")
def _files_dropped(session) -> None:
    _remove_files(session.info.pop(WRITTEN, []))


def sweep_orphans(older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete stored files that have no attachment row and are older than ``older_than``
    (left by a process that died between writing and committing); the number removed."""
    root = Path(current_app.config["ATTACHMENTS_DIR"])
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than.total_seconds()
    candidates = {}
    for path in root.glob("??/*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                candidates[path.name] = path
        except OSError:
            continue
    removed = 0
    names = list(candidates)
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        known = set(
            db.session.scalars(select(TicketAttachment.storage_key).where(TicketAttachment.storage_key.in_(chunk)))
        )
        for name in chunk:
            if name not in known:
                _remove_quietly(candidates[name])
                removed += 1
    return removed


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
