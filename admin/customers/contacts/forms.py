"""Staff contact forms: shape and format only; the contact service holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from portal.core.parsing import coerce_id
from portal.domains.customers.models import PORTAL_LEVELS

# Offered as suggestions; any zoneinfo name is accepted (the service checks it).
COMMON_TIMEZONES = (
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Halifax",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Bucharest",
    "Europe/Athens",
    "Europe/Helsinki",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)

LEVEL_LABELS = {
    "requester": _l("Requester"),
    "organization": _l("Organization"),
    "organization_tree": _l("Organization and sub-organizations"),
}
LEVEL_HELP = {
    "requester": _l("Their own tickets and the proposals addressed to them."),
    "organization": _l("Everything of their organization."),
    "organization_tree": _l("Everything of their organization and of its sub-organizations."),
}


class ContactForm(FlaskForm):
    """A contact's details and portal access (new contacts: under the organization in the URL)."""

    first_name = StringField(_l("First name"), validators=[DataRequired(_l("Enter a first name.")), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[DataRequired(_l("Enter a last name.")), Length(max=100)])
    email = StringField(_l("Email"), validators=[DataRequired(_l("Enter an email address.")), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    title = StringField(_l("Job title"), validators=[Length(max=120)])
    timezone = StringField(_l("Time zone"), validators=[DataRequired(_l("Choose a time zone.")), Length(max=64)])
    is_primary = BooleanField(_l("Primary contact of the organization"))
    # The view lists the languages on offer (and a stored one without a catalog).
    preferred_language = SelectField(_l("Preferred language"), default="", validate_choice=False)
    portal_enabled = BooleanField(_l("Portal access"), default=True)
    portal_level = SelectField(
        _l("Portal level"),
        default="requester",
        choices=lambda: [(level, LEVEL_LABELS[level]) for level in PORTAL_LEVELS],
    )


class ContactEditForm(ContactForm):
    # The choices are the organizations the staff member may see, which can be many: the
    # page lists a few and searches for the rest, and the view loads the one posted
    # through the access module (so a value outside the list is not a form error).
    organization_id = SelectField(_l("Organization"), coerce=coerce_id, validate_choice=False)
