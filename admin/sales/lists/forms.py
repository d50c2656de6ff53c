"""The sales lists' setup form: shape only; ``sales.lists`` holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField

from portal.domains.sales.models import Outcome


class EntryForm(FlaskForm):
    name = StringField(_l("Name"))
    position = StringField(_l("Order"))
    is_active = BooleanField(_l("Active"), default=True)
    outcome = SelectField(
        _l("Outcome"),
        choices=lambda: [(Outcome.OPEN, _l("Open")), (Outcome.WON, _l("Won")), (Outcome.LOST, _l("Lost"))],
        default=Outcome.OPEN,
        validate_choice=False,
    )
    default_probability = StringField(_l("Default probability (%)"), default="0")
    is_waiting_on_customer = BooleanField(_l("Waiting on the customer"))
