"""The Optional Service Opportunity screen's form: shape only; the rules (a used name,
a service nobody offers, a window that ends before it starts) are in
``portal.domains.campaigns.operations``."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.core.parsing import coerce_id


class CampaignForm(FlaskForm):
    """One service, the filters (empty: any) and, to run it, a name. The preview reads
    the same fields from the query string (without CSRF: a GET changes nothing)."""

    service_id = SelectField(_l("Service"), coerce=coerce_id, default=0, validate_choice=False)
    zone = StringField(_l("Zone"), validators=[Length(max=80)])
    organization_id = SelectField(_l("Organization"), coerce=coerce_id, default=0, validate_choice=False)
    include_sub_organizations = BooleanField(_l("Include its sub-organizations"))
    rep_id = SelectField(_l("Sales rep (account manager)"), coerce=coerce_id, default=0, validate_choice=False)
    ends_from = DateField(
        _l("Contract ends from"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"}
    )
    ends_to = DateField(_l("Contract ends by"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"})
    name = StringField(_l("Campaign name"), validators=[Length(max=120)])


class RerunForm(FlaskForm):
    """Run again: the run the page showed, so a second click on it changes nothing."""

    run = StringField()
