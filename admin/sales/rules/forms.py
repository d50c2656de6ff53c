"""Assignment rule and team forms: shape only; ``portal.domains.sales.rules`` holds
the rules (names, conditions, one action, weights)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.validators import Length

from portal.core.parsing import PlainDecimalField, coerce_id
from portal.domains.sales.models_rules import RuleTarget

TARGET_LABELS = {
    RuleTarget.ANY: _l("Opportunities and leads"),
    RuleTarget.OPPORTUNITY: _l("Opportunities only"),
    RuleTarget.LEAD: _l("Leads only"),
}


class RuleForm(FlaskForm):
    """A rule: name, what it applies to, conditions (empty = any), one action."""

    name = StringField(_l("Name"), validators=[Length(max=120)])
    applies_to = SelectField(
        _l("Applies to"),
        default=RuleTarget.ANY,
        validate_choice=False,
        choices=lambda: [(key, TARGET_LABELS[key]) for key in RuleTarget.ALL],
    )
    source_id = SelectField(_l("Source"), coerce=coerce_id, default=0, validate_choice=False)
    type_id = SelectField(_l("Type"), coerce=coerce_id, default=0, validate_choice=False)
    zone = StringField(_l("Organization's zone"), validators=[Length(max=80)])
    city = StringField(_l("Organization's city"), validators=[Length(max=120)])
    amount_min = PlainDecimalField(_l("Amount from"), places=2)
    amount_max = PlainDecimalField(_l("Amount up to"), places=2)
    action = RadioField(
        _l("Assign to"),
        default="rep",
        validate_choice=False,
        choices=lambda: [("rep", _l("A named rep")), ("team", _l("Round robin among a team"))],
    )
    rep_id = SelectField(_l("Rep"), coerce=coerce_id, default=0, validate_choice=False)
    team_id = SelectField(_l("Team"), coerce=coerce_id, default=0, validate_choice=False)
    is_active = BooleanField(_l("Active"), default=True)


class TeamForm(FlaskForm):
    """A team's name; members and weights come as ``weight_<staff id>`` fields (empty
    or 0 = not a member), read by the view."""

    name = StringField(_l("Name"), validators=[Length(max=120)])
