"""Staff lead forms: shape and format only; ``portal.domains.sales.leads`` holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length

from portal.core.parsing import coerce_id


class LeadForm(FlaskForm):
    """A lead typed by staff. Source and rep choices come from the view (0: none; a rep
    left empty goes to the assignment rules). The service checks every rule, so the
    lengths here only keep a huge paste from reaching it."""

    name = StringField(_l("Name"), validators=[Length(max=200)])
    company = StringField(_l("Company"), validators=[Length(max=200)])
    email = StringField(_l("Email"), validators=[Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    address = TextAreaField(_l("Address"), validators=[Length(max=2000)])
    source_id = SelectField(_l("Source"), coerce=coerce_id, default=0, validate_choice=False)
    rep_id = SelectField(_l("Sales rep"), coerce=coerce_id, default=0, validate_choice=False)
    notes = TextAreaField(_l("Notes"), validators=[Length(max=5000)])


class ConvertToCustomerForm(FlaskForm):
    """The new customer's details; fields of a record that already exists are ignored
    (that record is reused)."""

    organization_name = StringField(_l("Organization name"), validators=[Length(max=200)])
    billing_address = TextAreaField(_l("Billing address"), validators=[Length(max=2000)])
    first_name = StringField(_l("First name"), validators=[Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[Length(max=100)])
    email = StringField(_l("Email"), validators=[Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
