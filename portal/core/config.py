"""Configuration, read from environment variables.

Everything a deployment changes is an environment variable; the defaults make a
newcomer's laptop work (SQLite in ``instance/``, mail kept in the outbox).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings for a running app; every value can come from the environment."""

    def __init__(self, instance_path: str) -> None:
        env = os.environ
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = env.get("SECRET_KEY") or _instance_secret(instance_path)
        self.SQLALCHEMY_DATABASE_URI = _normalise_db_url(
            env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'porchlight.db'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        # Links in email are built from this, never from the request's Host header.
        self.BASE_URL = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        secure = urlsplit(self.BASE_URL).scheme == "https"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", secure)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_NAME = "porchlight"
        self.PERMANENT_SESSION_LIFETIME = timedelta(days=int(env.get("SESSION_DAYS", "30")))
        # The cookie is re-sent only when the session changes, not on every page view.
        self.SESSION_REFRESH_EACH_REQUEST = False
        # Load balancers in front of the app that append to X-Forwarded-For/-Proto. With
        # 0 (the default) those headers are ignored: any client can send them.
        self.TRUSTED_PROXY_HOPS = int(env.get("TRUSTED_PROXY_HOPS", "0"))
        # Staff sessions end after this long without a request, and this long after login.
        self.STAFF_SESSION_IDLE_MINUTES = int(env.get("STAFF_SESSION_IDLE_MINUTES", "480"))
        self.STAFF_SESSION_MAX_DAYS = int(env.get("STAFF_SESSION_MAX_DAYS", "7"))
        self.PREFERRED_URL_SCHEME = "https" if secure else "http"
        self.WTF_CSRF_TIME_LIMIT = int(env.get("CSRF_TIME_LIMIT", "3600"))
        self.WTF_CSRF_SSL_STRICT = secure

        self.PORTAL_LINK_DAYS = int(env.get("PORTAL_LINK_DAYS", "30"))
        self.SUPPLIER_QUOTE_DAYS = int(env.get("SUPPLIER_QUOTE_DAYS", "14"))  # a supplier's link to send prices
        # Sign-in emails (a single-use link and a one-time code) work this long.
        self.PORTAL_SIGN_IN_MINUTES = int(env.get("PORTAL_SIGN_IN_MINUTES", "10"))
        self.DEFAULT_TIMEZONE = env.get("DEFAULT_TIMEZONE", "UTC")
        # Sales: an opportunity waiting on the customer closes as lost ("No reply") after
        # this many business days of silence (0: never), the rep warned this many days
        # before; days counted on the service calendar named SALES_CALENDAR (empty: the
        # default SLA's). Follow-up mails leave at this local hour.
        self.SALES_AUTO_CLOSE_DAYS = int(env.get("SALES_AUTO_CLOSE_DAYS", "10"))
        self.SALES_AUTO_CLOSE_WARN_DAYS = int(env.get("SALES_AUTO_CLOSE_WARN_DAYS", "2"))
        self.SALES_CALENDAR = env.get("SALES_CALENDAR", "")
        self.SALES_MORNING_HOUR = int(env.get("SALES_MORNING_HOUR", "7"))
        # The portal's languages: each needs a catalog in portal/translations (English,
        # the source, needs none); a listed language without one is left out. The
        # instance default is the last rung of the choice (portal/core/i18n.py).
        self.LANGUAGES = [code.strip() for code in env.get("LANGUAGES", "en,es,it,ro").split(",") if code.strip()]
        self.DEFAULT_LANGUAGE = env.get("DEFAULT_LANGUAGE", "en")
        self.BABEL_DEFAULT_LOCALE = self.DEFAULT_LANGUAGE
        self.BABEL_DEFAULT_TIMEZONE = "UTC"

        # Mail: with no MAIL_SERVER, messages are kept in the outbox and shown on the
        # admin Outbox page (the embedded default).
        self.MAIL_SERVER = env.get("MAIL_SERVER") or None
        self.MAIL_PORT = int(env.get("MAIL_PORT", "25"))
        self.MAIL_USERNAME = env.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD") or None
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
        self.MAIL_TIMEOUT = float(env.get("MAIL_TIMEOUT", "30"))
        self.MAIL_FROM = env.get("MAIL_FROM", "Porchlight <no-reply@porchlight.localhost>")
        self.OUTBOX_MAX_ATTEMPTS = int(env.get("OUTBOX_MAX_ATTEMPTS", "12"))
        # What customers see in every mail: the business's name and its colour (the
        # button, the stripe above the message). A colour that is not #rgb or #rrggbb
        # stops the app at start, with the variable named, rather than reach a style.
        self.BUSINESS_NAME = (env.get("BUSINESS_NAME") or "").strip() or None
        self.BRAND_COLOUR = hex_colour("BRAND_COLOUR", env.get("BRAND_COLOUR"), DEFAULT_BRAND_COLOUR)

        # Form size caps. A signature PNG is small; Flask's default form-field cap
        # (500 kB) would answer 413 before we can say which field is too large.
        # Ticket attachments: up to ATTACHMENT_MAX_FILES of ATTACHMENT_MAX_BYTES each per
        # message, kept outside static/ (served only through an access check).
        self.ATTACHMENT_MAX_BYTES = int(env.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
        self.ATTACHMENT_MAX_FILES = int(env.get("ATTACHMENT_MAX_FILES", "5"))
        self.ATTACHMENTS_DIR = env.get("ATTACHMENTS_DIR") or str(Path(instance_path) / "attachments")
        # A request may carry every attachment at its limit, plus the form around them.
        self.MAX_CONTENT_LENGTH = int(
            env.get("MAX_CONTENT_LENGTH", str(self.ATTACHMENT_MAX_FILES * self.ATTACHMENT_MAX_BYTES + 1024 * 1024))
        )
        self.MAX_FORM_MEMORY_SIZE = int(env.get("MAX_FORM_MEMORY_SIZE", str(8 * 1024 * 1024)))
        self.SIGNATURE_MAX_BYTES = int(env.get("SIGNATURE_MAX_BYTES", str(512 * 1024)))

        # The seal of signed-proposal certificates (PAdES): the instance's key and
        # certificate, made by ``flask evidence create-seal-key`` unless a real pair is
        # configured. The passphrase protects the key file (none for a dev key).
        seal_dir = Path(instance_path) / "seal"
        self.SEAL_KEY_PATH = env.get("SEAL_KEY_PATH") or str(seal_dir / "seal-key.pem")
        self.SEAL_CERT_PATH = env.get("SEAL_CERT_PATH") or str(seal_dir / "seal-cert.pem")
        self.SEAL_KEY_PASSPHRASE = env.get("SEAL_KEY_PASSPHRASE") or None
        # The public verify page hashes an upload of at most this many bytes, then forgets it.
        self.VERIFY_MAX_BYTES = int(env.get("VERIFY_MAX_BYTES", str(5 * 1024 * 1024)))

        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)

        self.ASSETS_DEBUG = False
        self.ASSETS_AUTO_BUILD = _bool("ASSETS_AUTO_BUILD", True)
        self.SEND_FILE_MAX_AGE_DEFAULT = int(env.get("STATIC_MAX_AGE", str(365 * 24 * 3600)))
        self.COMPRESS_MIMETYPES = [
            "text/html",
            "text/css",
            "text/plain",
            "application/javascript",
            "text/javascript",
            "application/json",
            "image/svg+xml",
        ]
        self.COMPRESS_ALGORITHM = ["gzip"]
        # Static files are streamed responses, compressed with this list; the
        # Flask-Compress default leaves gzip out, so a gzip-only client got the JS raw.
        self.COMPRESS_ALGORITHM_STREAMING = ["zstd", "br", "gzip"]
        self.COMPRESS_MIN_SIZE = 500
        # Level 3 compresses the proposal page in half the time of the default 6, about
        # 150 bytes (7 %) larger: a tenth of a cached page view was gzip.
        self.COMPRESS_LEVEL = int(env.get("COMPRESS_LEVEL", "3"))
        # Dynamic pages carry no ETag, and static files answer conditional requests
        # themselves (send_file): re-evaluating after compression only costs time.
        self.COMPRESS_EVALUATE_CONDITIONAL_REQUEST = False


DEFAULT_BRAND_COLOUR = "#1f5fa8"
_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_hex_colour(value: str | None) -> str | None:
    """``#rrggbb`` (lower case) for a ``#rgb`` or ``#rrggbb`` colour, else None."""
    value = (value or "").strip()
    if not _HEX_COLOUR.fullmatch(value):
        return None
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return f"#{digits}"


def hex_colour(name: str, value: str | None, default: str) -> str:
    """A colour setting: unset is the default, anything but a hex colour is an error."""
    if value is None or not value.strip():
        return default
    colour = parse_hex_colour(value)
    if colour is None:
        raise ValueError(f"{name} must be a colour written #rgb or #rrggbb (for example {default}), not {value!r}")
    return colour


def engine_options(url: str) -> dict:
    """Engine options per backend: SQLite waits on a writer instead of failing at once."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def _normalise_db_url(url: str) -> str:
    # Accept the common postgres:// and postgresql:// spellings; use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret(instance_path: str) -> str:
    """A random secret kept in ``instance/`` so a local run survives restarts."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        import secrets
        import tempfile

        # Written aside and linked into place: processes starting together (gunicorn
        # workers, test workers) never read a half-written key, and the first one wins.
        fd, draft = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as draft_file:
                draft_file.write(secrets.token_urlsafe(48))
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()
