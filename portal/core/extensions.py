"""Extension objects, created unbound and initialised in ``create_app``."""

from __future__ import annotations

from flask import request
from flask_assets import Environment
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from htmx_flask import Htmx
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from portal.core.csrf import PortalCSRFProtect

# Named constraints, so migrations can drop and alter them on every engine.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = PortalCSRFProtect()
assets = Environment()
babel = Babel()
compress = Compress()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address)


def form_email() -> str:
    """Rate-limit key: the address typed into a login form, whatever the client's IP."""
    return (request.form.get("email") or "").strip().lower() or get_remote_address()
