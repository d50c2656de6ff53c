"""Service setup for admins and managers: SLAs, service-hours calendars, ticket
statuses and issue types. Everyone else gets a 404, as for a page that does not exist.

Thin views: load, validate the form's shape, call ``portal.domains.service_desk.setup``
(which holds the rules and flushes), commit once, 303. Invalid forms come back filled
in with status 422; a refused action (the last active status of a state) is a
message on the list page.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields import SelectChoice

from admin.customers.contacts.forms import COMMON_TIMEZONES
from admin.forms import attach_errors
from admin.operations import attempt, saved_or_form
from admin.service_desk.setup.forms import (
    PRIORITY_LABELS,
    STATE_LABELS,
    WEEKDAY_LABELS,
    CalendarForm,
    HolidayForm,
    IssueTypeForm,
    SlaForm,
    StatusForm,
)
from portal.access.staff import staff_may_configure_service
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.parsing import parse_id
from portal.domains.service_desk import setup as service
from portal.domains.service_desk.models import PRIORITIES, IssueType, ServiceCalendar, Sla, TicketStatus

bp = Blueprint("service", __name__, url_prefix="/service")

SLAS = "admin/service/slas.html"
SLA_FORM = "admin/service/sla_form.html"
CALENDARS = "admin/service/calendars.html"
CALENDAR_FORM = "admin/service/calendar_form.html"
STATUSES = "admin/service/statuses.html"
STATUS_FORM = "admin/service/status_form.html"
ISSUE_TYPES = "admin/service/issue_types.html"
ISSUE_TYPE_FORM = "admin/service/issue_type_form.html"
USERS_SHOWN = 20


@bp.before_request
def only_admins_and_managers():
    """Service setup changes every customer's clocks: admins and managers only."""
    if not staff_may_configure_service(current_user):
        abort(404)


@bp.get("/")
def index():
    return redirect(url_for(".slas"))


def _sla_choices(none_label: str) -> list[SelectChoice]:
    """``none_label`` first, then shared and custom SLAs in two groups."""
    shared, custom = _("Shared SLAs"), _("Custom SLAs")
    choices = [SelectChoice(0, none_label)]
    for sla in service.list_slas():
        label = _("%(name)s (default)", name=sla.name) if sla.is_default else sla.name
        choices.append(SelectChoice(sla.id, label, optgroup=shared if sla.is_shared else custom))
    return choices


# --- SLAs ------------------------------------------------------------------------------


@bp.get("/slas")
def slas():
    return render_page(
        SLAS,
        slas=service.list_slas(),
        usage=service.sla_usage(),
        priorities=PRIORITIES,
        priority_labels=PRIORITY_LABELS,
        duration=service.format_duration,
    )


def _sla_form_page(form: SlaForm, sla: Sla | None, status: int = 200):
    form.calendar_id.choices = [(0, _("Round the clock (24x7, UTC)"))] + [
        (calendar.id, f"{calendar.name} · {calendar.timezone}") for calendar in service.list_calendars()
    ]
    organizations, kinds = service.sla_users(sla.id, USERS_SHOWN) if sla else ([], [])
    usage = service.sla_usage().get(sla.id, service.SlaUsage()) if sla else service.SlaUsage()
    return render_page(
        SLA_FORM,
        block="sla_form",
        status=status,
        form=form,
        sla=sla,
        priorities=PRIORITIES,
        priority_labels=PRIORITY_LABELS,
        organizations=organizations,
        kinds=kinds,
        usage=usage,
        users_shown=USERS_SHOWN,
    )


def _sla_input(form: SlaForm) -> service.SlaInput:
    return service.SlaInput(
        name=form.name.data or "",
        calendar_id=form.calendar_id.data or None,
        is_shared=bool(form.is_shared.data),
        is_default=bool(form.is_default.data),
        targets={
            p: (getattr(form, f"first_{p}").data or "", getattr(form, f"resolution_{p}").data or "") for p in PRIORITIES
        },
    )


def _checked_save(form, data, errors_of, save, current):
    """The form's own checks and the service's rules together (every message at once),
    then the save, committed; None when anything is refused (nothing written)."""
    valid = form.validate()
    errors = errors_of(data, current)[0]
    if not valid or errors:
        db.session.rollback()
        attach_errors(form, InvalidInput({k: v for k, v in errors.items() if not getattr(form, k).errors}))
        return None
    return attempt(lambda: save(current, data), form).value


def _save_sla(form: SlaForm, sla: Sla | None) -> Sla | None:
    return _checked_save(form, _sla_input(form), service.sla_errors, service.save_sla, sla)


@bp.route("/slas/new", methods=["GET", "POST"])
def new_sla():
    if request.method == "GET":
        form = SlaForm(formdata=None, calendar_id=1 if db.session.get(ServiceCalendar, 1) else 0)
        return _sla_form_page(form, None)
    form = SlaForm()
    return saved_or_form(
        _save_sla(form, None),
        lambda: _sla_form_page(form, None, status=422),
        lambda sla: _("%(name)s was added.", name=sla.name),
        url_for(".slas"),
    )


@bp.route("/slas/<int:sla_id>", methods=["GET", "POST"])
def edit_sla(sla_id: int):
    sla = db.get_or_404(Sla, sla_id)
    if request.method == "GET":
        form = SlaForm(formdata=None, obj=sla, calendar_id=sla.calendar_id or 0)
        for target in sla.targets:
            getattr(form, f"first_{target.priority}").data = service.format_duration(target.first_response_minutes)
            getattr(form, f"resolution_{target.priority}").data = service.format_duration(target.resolution_minutes)
        return _sla_form_page(form, sla)
    form = SlaForm()
    return saved_or_form(
        _save_sla(form, sla),
        lambda: _sla_form_page(form, db.get_or_404(Sla, sla_id), status=422),
        _("Saved. Tickets opened from now on use the new targets."),
        url_for(".slas"),
    )


# --- calendars -----------------------------------------------------------------------


@bp.get("/calendars")
def calendars():
    found = service.list_calendars()
    return render_page(
        CALENDARS,
        calendars=found,
        usage=service.calendar_usage(),
        weeks={c.id: [service.format_day(day) for day in service.calendar_week(c)] for c in found},
        weekdays=WEEKDAY_LABELS,
    )


def _calendar_page(
    form: CalendarForm,
    calendar: ServiceCalendar | None,
    status: int = 200,
    holiday_form: HolidayForm | None = None,
    block: str = "calendar_form",
):
    preview = service.preview_due(calendar) if calendar is not None else None
    return render_page(
        CALENDAR_FORM,
        block=block,
        status=status,
        form=form,
        calendar=calendar,
        holiday_form=holiday_form or HolidayForm(formdata=None),
        preview=preview,
        timezones=COMMON_TIMEZONES,
        day_fields=[getattr(form, f"day_{d}") for d in range(7)],
    )


def _calendar_input(form: CalendarForm) -> service.CalendarInput:
    return service.CalendarInput(
        name=form.name.data or "",
        timezone=form.timezone.data or "",
        week=[getattr(form, f"day_{d}").data or "" for d in range(7)],
    )


def _save_calendar(form: CalendarForm, calendar: ServiceCalendar | None) -> ServiceCalendar | None:
    return _checked_save(form, _calendar_input(form), service.calendar_errors, service.save_calendar, calendar)


@bp.route("/calendars/new", methods=["GET", "POST"])
def new_calendar():
    if request.method == "GET":
        days = {f"day_{d}": service.DEFAULT_DAY for d in range(5)}
        return _calendar_page(CalendarForm(formdata=None, **days), None)
    form = CalendarForm()
    return saved_or_form(
        _save_calendar(form, None),
        lambda: _calendar_page(form, None, status=422),
        lambda calendar: _("%(name)s was added. Add its holidays below.", name=calendar.name),
        lambda calendar: url_for(".edit_calendar", calendar_id=calendar.id),
    )


@bp.route("/calendars/<int:calendar_id>", methods=["GET", "POST"])
def edit_calendar(calendar_id: int):
    calendar = db.get_or_404(ServiceCalendar, calendar_id)
    if request.method == "GET":
        days = {f"day_{d}": service.format_day(day) for d, day in enumerate(service.calendar_week(calendar))}
        return _calendar_page(CalendarForm(formdata=None, obj=calendar, **days), calendar)
    form = CalendarForm()
    return saved_or_form(
        _save_calendar(form, calendar),
        lambda: _calendar_page(form, db.get_or_404(ServiceCalendar, calendar_id), status=422),
        _("Saved. Tickets opened from now on are timed by these hours."),
        url_for(".edit_calendar", calendar_id=calendar_id),
    )


@bp.post("/calendars/<int:calendar_id>/holidays")
def add_holiday(calendar_id: int):
    calendar = db.get_or_404(ServiceCalendar, calendar_id)
    holiday_form = HolidayForm()
    valid = holiday_form.validate()
    if (
        not valid
        or not attempt(
            lambda: service.add_holiday(calendar, holiday_form.day.data, holiday_form.holiday_name.data or ""),
            holiday_form,
        ).ok
    ):
        return _holidays(calendar_id, status=422, holiday_form=holiday_form)
    return _holidays(calendar_id)


@bp.post("/calendars/<int:calendar_id>/holidays/<int:holiday_id>/remove")
def remove_holiday(calendar_id: int, holiday_id: int):
    calendar = db.get_or_404(ServiceCalendar, calendar_id)
    if not service.remove_holiday(calendar, holiday_id):
        abort(404)
    db.session.commit()
    return _holidays(calendar_id)


def _holidays(calendar_id: int, status: int = 200, holiday_form: HolidayForm | None = None):
    """After a holiday change: htmx gets the holidays block (a redirect to the same page
    with an #anchor would not reload it); a plain form, the calendar page (or 422 page)."""
    if status == 200 and not wants_partial():
        return redirect_after_post(url_for(".edit_calendar", calendar_id=calendar_id, _anchor="holidays"))
    calendar = db.get_or_404(ServiceCalendar, calendar_id)
    days = {f"day_{d}": service.format_day(day) for d, day in enumerate(service.calendar_week(calendar))}
    form = CalendarForm(formdata=None, obj=calendar, **days)
    return _calendar_page(form, calendar, status=status, holiday_form=holiday_form, block="holidays")


# --- ticket statuses ---------------------------------------------------------------------


def _statuses_page(form: StatusForm, status: int = 200):
    return render_page(
        STATUSES,
        status=status,
        form=form,
        statuses=service.list_statuses(),
        usage=service.status_usage(),
        state_labels=STATE_LABELS,
    )


@bp.route("/statuses", methods=["GET", "POST"])
def statuses():
    """The statuses, and a form to add one at the end."""
    if request.method == "GET":
        return _statuses_page(StatusForm(formdata=None))
    form = StatusForm()
    added = (
        attempt(lambda: service.add_status(form.name.data or "", form.state.data), form) if form.validate() else None
    )
    if added is None or not added.ok:
        return _statuses_page(form, status=422)
    flash(_("%(name)s was added.", name=added.value.name), "success")
    return redirect_after_post(url_for(".statuses"))


@bp.route("/statuses/<int:status_id>", methods=["GET", "POST"])
def edit_status(status_id: int):
    ticket_status = db.get_or_404(TicketStatus, status_id)
    if request.method == "GET":
        form = StatusForm(formdata=None, obj=ticket_status)
        return render_page(
            STATUS_FORM, form=form, ticket_status=ticket_status, in_use=service.status_usage().get(status_id, 0)
        )
    form = StatusForm()
    if (
        not form.validate()
        or not attempt(
            lambda: service.update_status(ticket_status, form.name.data or "", form.state.data, form.position.data),
            form,
        ).ok
    ):
        return render_page(
            STATUS_FORM,
            status=422,
            form=form,
            ticket_status=db.get_or_404(TicketStatus, status_id),
            in_use=service.status_usage().get(status_id, 0),
        )
    flash(_("Saved."), "success")
    return redirect_after_post(url_for(".statuses"))


def _status_action(status_id: int, action, done):
    """Run ``action`` on the status; a refusal (NotAllowed) becomes the list's message."""
    ticket_status = db.get_or_404(TicketStatus, status_id)
    name = ticket_status.name
    outcome = attempt(lambda: action(ticket_status), keep_refusal=True)
    if outcome.refusal is not None:
        flash(str(outcome.refusal), "error")
    else:
        flash(done(name), "success")
    return redirect_after_post(url_for(".statuses"))


@bp.post("/statuses/<int:status_id>/deactivate")
def deactivate_status(status_id: int):
    return _status_action(
        status_id,
        service.deactivate_status,
        lambda name: _("%(name)s is inactive: staff can no longer choose it.", name=name),
    )


@bp.post("/statuses/<int:status_id>/reactivate")
def reactivate_status(status_id: int):
    return _status_action(status_id, service.reactivate_status, lambda name: _("%(name)s is active again.", name=name))


@bp.post("/statuses/<int:status_id>/delete")
def delete_status(status_id: int):
    return _status_action(status_id, service.delete_status, lambda name: _("%(name)s was deleted.", name=name))


# --- issue types -------------------------------------------------------------------------


def _issue_type_choices(form: IssueTypeForm) -> IssueTypeForm:
    form.sla_id.choices = _sla_choices(_("No override: the organization's SLA"))
    form.parent_id.choices = [(0, _("Nothing: a top-level issue type"))] + [
        (kind.id, kind.name) for kind, _children in service.issue_type_tree()
    ]
    return form


def _issue_types_page(form: IssueTypeForm, status: int = 200):
    return render_page(
        ISSUE_TYPES,
        status=status,
        form=form,
        tree=service.issue_type_tree(),
        sla_names={sla.id: sla.name for sla in service.list_slas()},
    )


@bp.route("/issue-types", methods=["GET", "POST"])
def issue_types():
    """The tree of issue types and sub-types, and a form to add one."""
    if request.method == "GET":
        form = IssueTypeForm(formdata=None, parent_id=parse_id(request.args.get("parent")) or 0)
        return _issue_types_page(_issue_type_choices(form))
    form = _issue_type_choices(IssueTypeForm())
    added = (
        attempt(
            lambda: service.add_issue_type(form.name.data or "", form.parent_id.data or None, form.sla_id.data or None),
            form,
        )
        if form.validate()
        else None
    )
    if added is None or not added.ok:
        return _issue_types_page(_issue_type_choices(form), status=422)
    flash(_("%(name)s was added.", name=added.value.name), "success")
    return redirect_after_post(url_for(".issue_types"))


@bp.route("/issue-types/<int:issue_type_id>", methods=["GET", "POST"])
def edit_issue_type(issue_type_id: int):
    kind = db.get_or_404(IssueType, issue_type_id)
    if request.method == "GET":
        form = IssueTypeForm(formdata=None, obj=kind, sla_id=kind.sla_id or 0)
        return render_page(ISSUE_TYPE_FORM, form=_issue_type_choices(form), kind=kind)
    form = _issue_type_choices(IssueTypeForm())
    if (
        not form.validate()
        or not attempt(lambda: service.update_issue_type(kind, form.name.data or "", form.sla_id.data or None), form).ok
    ):
        return render_page(ISSUE_TYPE_FORM, status=422, form=form, kind=db.get_or_404(IssueType, issue_type_id))
    flash(_("Saved."), "success")
    return redirect_after_post(url_for(".issue_types"))


@bp.post("/issue-types/<int:issue_type_id>/move")
def move_issue_type(issue_type_id: int):
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400)
    service.move_issue_type(db.get_or_404(IssueType, issue_type_id), direction)
    db.session.commit()
    return redirect_after_post(url_for(".issue_types", _anchor=f"issue-type-{issue_type_id}"))


@bp.post("/issue-types/<int:issue_type_id>/deactivate")
def deactivate_issue_type(issue_type_id: int):
    kind = db.get_or_404(IssueType, issue_type_id)
    service.set_issue_type_active(kind, False)
    db.session.commit()
    flash(_("%(name)s is inactive: it leaves the new-ticket form.", name=kind.name), "success")
    return redirect_after_post(url_for(".issue_types"))


@bp.post("/issue-types/<int:issue_type_id>/reactivate")
def reactivate_issue_type(issue_type_id: int):
    kind = db.get_or_404(IssueType, issue_type_id)
    service.set_issue_type_active(kind, True)
    db.session.commit()
    flash(_("%(name)s is active again.", name=kind.name), "success")
    return redirect_after_post(url_for(".issue_types"))
