"""The site form: shape only; ``portal.domains.customers.sites`` holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField


class SiteForm(FlaskForm):
    name = StringField(_l("Site name"))
    address = TextAreaField(_l("Address"))
