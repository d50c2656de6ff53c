"""Service setup forms: shape only; ``portal.domains.service_desk.setup`` holds the rules
(durations, week patterns, names, the default SLA, a status per state)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.core.parsing import coerce_id
from portal.domains.service_desk.models import PRIORITIES, TicketState

PRIORITY_LABELS = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
STATE_LABELS = {
    TicketState.OPEN: _l("Open"),
    TicketState.WAITING: _l("Waiting on customer"),
    TicketState.CLOSED: _l("Closed"),
}
WEEKDAY_LABELS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)


class SlaForm(FlaskForm):
    """An SLA: name, calendar, shared or custom, default, and per priority a
    first-response and a resolution target typed as hours ("4", "1.5", "1:30").
    The ``first_<priority>`` and ``resolution_<priority>`` fields are added below."""

    name = StringField(_l("Name"), validators=[Length(max=120)])
    calendar_id = SelectField(_l("Service hours"), coerce=coerce_id, default=0, validate_choice=False)
    is_shared = BooleanField(_l("Shared (offered to every customer); untick for one customer's own SLA"), default=True)
    is_default = BooleanField(_l("The default SLA (for customers without one)"))


for _priority in PRIORITIES:
    setattr(SlaForm, f"first_{_priority}", StringField(_l("First response")))
    setattr(SlaForm, f"resolution_{_priority}", StringField(_l("Resolution")))


class CalendarForm(FlaskForm):
    """A service-hours calendar: name, time zone and a text per weekday (``day_0`` is
    Monday), such as "09:00-12:00, 13:00-17:00" or empty for closed."""

    name = StringField(_l("Name"), validators=[Length(max=120)])
    timezone = StringField(_l("Time zone"), default="UTC", validators=[Length(max=64)])


for _weekday, _label in enumerate(WEEKDAY_LABELS):
    setattr(CalendarForm, f"day_{_weekday}", StringField(_label, validators=[Length(max=200)]))


class HolidayForm(FlaskForm):
    day = DateField(_l("Date"), validators=[Optional()])
    holiday_name = StringField(_l("Name"), validators=[Length(max=120)])


class StatusForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=60)])
    state = SelectField(
        _l("Means"),
        default=TicketState.OPEN,
        validate_choice=False,
        choices=lambda: [(state, STATE_LABELS[state]) for state in TicketState.ALL],
    )
    position = IntegerField(_l("Position"), validators=[Optional()])


class IssueTypeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=120)])
    parent_id = SelectField(_l("Under"), coerce=coerce_id, default=0, validate_choice=False)
    sla_id = SelectField(_l("SLA"), coerce=coerce_id, default=0, validate_choice=False)
