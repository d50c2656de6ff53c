"""The property (site) forms: shape only; ``portal.domains.customers.sites`` holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from portal.core.parsing import coerce_id


class SiteForm(FlaskForm):
    name = StringField(_l("Property name"))
    address = TextAreaField(_l("Address"))


class PropertyForm(SiteForm):
    """The property page's form: also its zone, notes and site contact."""

    zone = StringField(_l("Zone"))
    notes = TextAreaField(_l("Notes (staff only)"))
    site_contact_id = SelectField(_l("Site contact"), coerce=coerce_id, default=0, validate_choice=False)
