"""Staff ticket forms: shape only; the ticket services hold the rules (what a status,
priority or assignee may be, what a message and its files must be)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import Length

from portal.core.parsing import coerce_id
from portal.domains.service_desk.models import PRIORITIES
from portal.domains.service_desk.tickets import MAX_BODY, priority_label


class MessageForm(FlaskForm):
    """The composer: one text, sent as a public reply or kept as an internal note
    (two buttons, two routes)."""

    body = TextAreaField(_l("Message"), validators=[Length(max=MAX_BODY)])
    attachments = MultipleFileField(_l("Attachments"))


class StatusForm(FlaskForm):
    # Choices are the active statuses (set by the view); the service refuses the rest.
    status_id = SelectField(_l("Status"), coerce=coerce_id, validate_choice=False)


class PriorityForm(FlaskForm):
    priority = SelectField(
        _l("Priority"), validate_choice=False, choices=lambda: [(p, priority_label(p)) for p in PRIORITIES]
    )


class AssignForm(FlaskForm):
    # 0: nobody. Choices are the staff who may see the customer (set by the view).
    assignee_id = SelectField(_l("Assignee"), coerce=coerce_id, default=0, validate_choice=False)


class BulkAssignForm(FlaskForm):
    ticket_ids = SelectMultipleField(_l("Tickets"), coerce=coerce_id, validate_choice=False)
    assignee_id = SelectField(_l("Assign selected to"), coerce=coerce_id, default=0, validate_choice=False)
