"""The opportunity page's small forms: follow-up and logged activity (shape only)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, SelectField, TextAreaField
from wtforms.validators import Length, Optional

from portal.core.parsing import coerce_id


class FollowUpForm(FlaskForm):
    next_contact_on = DateField(_l("Next contact date"), validators=[Optional()])
    next_contact_by_id = SelectField(_l("Next contact by"), coerce=coerce_id, default=0, validate_choice=False)


class ActivityForm(FlaskForm):
    kind = SelectField(_l("What happened"), default="call", validate_choice=False)
    happened_at = DateTimeLocalField(
        _l("When"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[Optional()]
    )
    text = TextAreaField(_l("Notes"), validators=[Length(max=4000)])
