"""Portal ticket forms. They only read the request into typed values; the service
(``portal.domains.service_desk.tickets``) holds every rule and says what is wrong with what."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField

from portal.core.parsing import optional_id
from portal.domains.service_desk.models import PRIORITIES


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class TicketForm(FlaskForm):
    """A new ticket. Choices are filled in by the view (issue types, sub-types, sites);
    ``validate_choice`` is off because the service checks them against the database."""

    title = StringField(_l("Title"), filters=[_strip])
    description = TextAreaField(_l("What happened?"))
    issue_type_id = SelectField(_l("What is it about?"), coerce=optional_id, validate_choice=False)
    sub_issue_type_id = SelectField(_l("What kind of problem?"), coerce=optional_id, validate_choice=False)
    priority = SelectField(_l("How urgent is it?"), choices=list(PRIORITIES), default="normal", validate_choice=False)
    site_id = SelectField(_l("Which site?"), coerce=optional_id, validate_choice=False)
    attachments = MultipleFileField(_l("Photos or files"))
    submission_key = HiddenField()  # one ticket per form, however often it is sent


class ReplyForm(FlaskForm):
    """A contact's reply on their ticket."""

    body = TextAreaField(_l("Your reply"))
    attachments = MultipleFileField(_l("Photos or files"))
