"""The absence form: shape only; ``portal.domains.sales.rules.add_absence`` checks it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional


class AbsenceForm(FlaskForm):
    starts_on = DateField(_l("First day"), validators=[Optional()])
    ends_on = DateField(_l("Last day"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Length(max=200)])
