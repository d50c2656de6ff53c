"""The opportunity page's follow-up, activity and assignment sections.

The page (``admin/sales/opportunities/show.html``) includes ``_followup.html``,
``_activity.html`` and ``_assignment.html``; each section asks the context processor
below for what it shows (``sales_followup_panel(opportunity)``, ...), so the page's own
view needs to know nothing about them. Posts go through htmx and swap the section
in place; without JavaScript they answer 303 back to the page, or, with a mistake, this
blueprint's own small page with the form and the message (422), nothing typed lost.

Who may: anyone who may work the opportunity (``staff_opportunity(..., work=True)``;
technicians only read, and see no forms).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin.operations import attempt
from admin.sales.followup.forms import ActivityForm, FollowUpForm
from portal.access.staff.opportunities import staff_may_work_opportunity, staff_opportunity
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.domains.identity.models import StaffUser
from portal.domains.sales import activity as activities
from portal.domains.sales import autoclose, followups
from portal.domains.sales.assignment import assignment_note, local_today, reassign_automatically
from portal.domains.sales.models import Opportunity
from portal.domains.sales.models_rules import ActivityKind
from portal.domains.sales.rules import sales_staff

bp = Blueprint("sales_followup", __name__, url_prefix="/sales/opportunities")

PAGE = "admin/sales/opportunities/section.html"
SECTIONS = {
    "followup": "admin/sales/opportunities/_followup.html",
    "activity": "admin/sales/opportunities/_activity.html",
    "assignment": "admin/sales/opportunities/_assignment.html",
}


def _zone(user) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(user, "timezone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def followup_panel(opportunity: Opportunity, form: FollowUpForm | None = None) -> dict:
    """What ``_followup.html`` shows: the form (filled from the opportunity) and the
    person's name."""
    if form is None:
        form = FollowUpForm(
            formdata=None,
            next_contact_on=opportunity.next_contact_on,
            next_contact_by_id=opportunity.next_contact_by_id or current_user.id,
        )
    people = sales_staff()
    form.next_contact_by_id.choices = [(0, _("Choose a person"))] + [(p.id, p.name) for p in people]
    by = next((p for p in people if p.id == opportunity.next_contact_by_id), None)
    if by is None and opportunity.next_contact_by_id:
        by = db.session.get(StaffUser, opportunity.next_contact_by_id)
    return {
        "form": form,
        "by": by,
        "may_work": staff_may_work_opportunity(current_user, opportunity),
        "today": local_today(current_user),
    }


def activity_panel(opportunity: Opportunity, form: ActivityForm | None = None) -> dict:
    """What ``_activity.html`` shows: the log form, the latest entries, and the
    auto-close state (days left, or the reopen button)."""
    labels = activities.kind_labels()
    if form is None:
        now_local = datetime.now(UTC).astimezone(_zone(current_user)).replace(tzinfo=None, second=0, microsecond=0)
        form = ActivityForm(formdata=None, happened_at=now_local)
    form.kind.choices = [(kind, labels[kind]) for kind in ActivityKind.ALL]
    return {
        "form": form,
        "labels": labels,
        "entries": activities.recent_activities(opportunity.id),
        "closure": autoclose.closure_of(opportunity),
        "days_left": autoclose.closes_on(opportunity),
        "may_work": staff_may_work_opportunity(current_user, opportunity),
    }


def assignment_panel(opportunity: Opportunity) -> dict:
    """What ``_assignment.html`` shows: the flag when no rule could assign it."""
    return {
        "flag": assignment_note(opportunity),
        "may_work": staff_may_work_opportunity(current_user, opportunity),
    }


@bp.app_context_processor
def sales_panels():
    return {
        "sales_followup_panel": followup_panel,
        "sales_activity_panel": activity_panel,
        "sales_assignment_panel": assignment_panel,
    }


def _answer(section: str, opportunity_id: int, status: int = 200, message: str = "", **forms):
    """htmx: the section, swapped in place. A plain form: back to the opportunity page,
    or, with a mistake, the section on a page of its own (422)."""
    opportunity = staff_opportunity(current_user, opportunity_id)
    context = {"opportunity": opportunity, **forms}
    if wants_partial():
        return render_page(SECTIONS[section], status=status, **context)
    if status >= 400:
        return render_page(PAGE, status=status, section=SECTIONS[section], **context)
    if message:
        flash(message, "success")
    return redirect_after_post(url_for("admin.opportunities.show", opportunity_id=opportunity_id))


@bp.post("/<int:opportunity_id>/follow-up")
def set_follow_up(opportunity_id: int):
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    form = FollowUpForm()
    if not form.validate():
        return _answer("followup", opportunity_id, 422, followup_form=form)
    by = db.session.get(StaffUser, form.next_contact_by_id.data) if form.next_contact_by_id.data else None
    saved = attempt(
        lambda: followups.set_follow_up(
            opportunity, form.next_contact_on.data, by, actor=current_user, today=local_today(current_user)
        ),
        form,
    )
    if not saved.ok:
        return _answer("followup", opportunity_id, 422, followup_form=form)
    return _answer("followup", opportunity_id, message=_("Follow-up set."))


@bp.post("/<int:opportunity_id>/follow-up/clear")
def clear_follow_up(opportunity_id: int):
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    followups.clear_follow_up(opportunity, actor=current_user)
    db.session.commit()
    return _answer("followup", opportunity_id, message=_("Follow-up cleared."))


@bp.post("/<int:opportunity_id>/activities")
def log_activity(opportunity_id: int):
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    form = ActivityForm()
    form.kind.choices = [(kind, kind) for kind in ActivityKind.ALL]
    if not form.validate():
        return _answer("activity", opportunity_id, 422, activity_form=form)
    happened_at = None
    if form.happened_at.data is not None:
        local = form.happened_at.data.replace(tzinfo=_zone(current_user))
        happened_at = local.astimezone(UTC).replace(tzinfo=None)
    saved = attempt(
        lambda: activities.log_activity(
            opportunity, form.kind.data or "", happened_at, form.text.data or "", actor=current_user
        ),
        form,
    )
    if not saved.ok:
        return _answer("activity", opportunity_id, 422, activity_form=form)
    return _answer("activity", opportunity_id, message=_("Logged."))


@bp.post("/<int:opportunity_id>/reopen-no-reply")
def reopen(opportunity_id: int):
    """One click: a closed-for-no-reply opportunity is open again (409 otherwise)."""
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    attempt(lambda: autoclose.reopen_opportunity(opportunity, actor=current_user))
    flash(_("Reopened: the no-reply count starts again today."), "success")
    return redirect_after_post(url_for("admin.opportunities.show", opportunity_id=opportunity_id))


@bp.post("/<int:opportunity_id>/auto-assign")
def auto_assign(opportunity_id: int):
    """Set the rep to "automatic": the assignment rules choose (or flag it)."""
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    done = attempt(lambda: reassign_automatically(opportunity, actor=current_user))
    rep = done.value
    message = (
        _("Assigned to %(name)s by the rules.", name=rep.name)
        if rep is not None
        else _("No rule could assign it: it stays unassigned and is flagged for the managers.")
    )
    flash(message, "success" if rep is not None else "error")
    return redirect_after_post(url_for("admin.opportunities.show", opportunity_id=opportunity_id))
