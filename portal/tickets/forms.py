"""Portal ticket forms. They only read the request into typed values; the service
(``portal.services.tickets``) holds every rule and says what is wrong with what."""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField

from portal.models import PRIORITIES


def optional_id(value) -> int | None:
    """A select's value as an id, or None for the empty choice or anything not a number
    (the service then says "choose ...", instead of WTForms refusing the choice)."""
    if value is None or isinstance(value, int):
        return value
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class TicketForm(FlaskForm):
    """A new ticket. Choices are filled in by the view (issue types, sub-types, sites);
    ``validate_choice`` is off because the service checks them against the database."""

    title = StringField(_l("Title"), filters=[_strip])
    description = TextAreaField(_l("What happened?"))
    issue_type_id = SelectField(_l("What is it about?"), coerce=optional_id, validate_choice=False)
    sub_issue_type_id = SelectField(_l("What kind of problem?"), coerce=optional_id, validate_choice=False)
    priority = SelectField(_l("How urgent is it?"), choices=list(PRIORITIES), default="normal",
                           validate_choice=False)
    site_id = SelectField(_l("Which site?"), coerce=optional_id, validate_choice=False)
    attachments = MultipleFileField(_l("Photos or files"))
    submission_key = HiddenField()  # one ticket per form, however often it is sent


class ReplyForm(FlaskForm):
    """A contact's reply on their ticket."""

    body = TextAreaField(_l("Your reply"))
    attachments = MultipleFileField(_l("Photos or files"))


def upload_limits() -> dict:
    """The attachment limits, for the file inputs' hints and their early check in app.js."""
    config = current_app.config
    return {"max_files": config["ATTACHMENT_MAX_FILES"], "max_bytes": config["ATTACHMENT_MAX_BYTES"],
            "max_mb": f"{config['ATTACHMENT_MAX_BYTES'] / 1024 / 1024:g}"}


def ticket_form_context(form: TicketForm, organization_id: int, sub_types_endpoint: str) -> dict:
    """What the new-ticket fields (tickets/_ticket_fields.html) show, on the portal and
    for staff taking a call: the choices, the sub-types of the chosen type, the limits."""
    from portal.services import tickets

    kinds, sites = tickets.ticket_choices(organization_id)
    chosen = form.issue_type_id.data if any(k.id == form.issue_type_id.data for k in kinds) else None
    return dict(form=form, kinds=kinds, subs=tickets.sub_issue_types(chosen), sites=sites if len(sites) > 1 else [],
                priorities=[(p, tickets.priority_label(p)) for p in PRIORITIES],
                sub_types_endpoint=sub_types_endpoint, **upload_limits())
