"""Opportunity forms: shape and format only; the sales operations hold the rules
(each field's message comes from there, so a plain POST and htmx say the same)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.core.parsing import coerce_id
from portal.domains.sales.lists import CURRENCIES


class OpportunityForm(FlaskForm):
    title = StringField(_l("Title"))
    organization_id = SelectField(_l("Customer"), coerce=coerce_id, default=0, validate_choice=False)
    contact_id = SelectField(_l("Contact"), coerce=coerce_id, default=0, validate_choice=False)
    lead_id = SelectField(_l("From lead"), coerce=coerce_id, default=0, validate_choice=False)
    type_id = SelectField(_l("Type"), coerce=coerce_id, default=0, validate_choice=False)
    source_id = SelectField(_l("Source"), coerce=coerce_id, default=0, validate_choice=False)
    stage_id = SelectField(_l("Stage"), coerce=coerce_id, default=0, validate_choice=False)
    amount = StringField(_l("Amount"))
    currency = SelectField(
        _l("Currency"), choices=lambda: [(c, c) for c in CURRENCIES], default="USD", validate_choice=False
    )
    probability = StringField(_l("Probability (%)"))
    expected_close_on = DateField(
        _l("Expected close"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"}
    )
    rep_id = SelectField(_l("Sales rep"), coerce=coerce_id, default=0, validate_choice=False)
    next_contact_on = DateField(
        _l("Next contact date"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"}
    )
    next_contact_by_id = SelectField(_l("Next contact by"), coerce=coerce_id, default=0, validate_choice=False)


class MoveForm(FlaskForm):
    stage_id = SelectField(_l("Move to"), coerce=coerce_id, default=0, validate_choice=False)


class LostForm(FlaskForm):
    reason_ids = SelectMultipleField(_l("Reasons"), coerce=coerce_id, validate_choice=False)
    competitor_ids = SelectMultipleField(_l("Competitors"), coerce=coerce_id, validate_choice=False)
    detail = TextAreaField(_l("Detail"), validators=[Length(max=5000)])
