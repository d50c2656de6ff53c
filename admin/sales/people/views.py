"""Staff availability and reminders (/admin/sales/people/): absences and the private
calendar feed.

- ``index``: everyone's upcoming absences, for admins and managers;
- ``show``: one person's absences (admins and managers edit anyone's, everyone their
  own) and, on their own page only, their calendar feed URL (issued, shown once,
  regenerated, revoked);
- ``calendar_feed``: the feed itself, anonymous (calendar apps send no cookie): the
  token in the URL is checked against its hash and the route is rate-limited. An
  unknown or revoked token is a 404 that says nothing more.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from admin.operations import attempt
from admin.sales.people.forms import AbsenceForm
from portal.access.staff.sales_rules import staff_may_edit_absences, staff_may_manage_feed, staff_may_see_people
from portal.core.extensions import db, limiter
from portal.core.htmx import redirect_after_post, render_page
from portal.domains.identity.models import StaffUser
from portal.domains.sales import followups
from portal.domains.sales import rules as service
from portal.domains.sales.assignment import local_today
from portal.domains.sales.models_rules import StaffAbsence

bp = Blueprint("sales_people", __name__, url_prefix="/sales/people")

INDEX = "admin/sales/people/index.html"
SHOW = "admin/sales/people/show.html"
# Calendar apps poll every few minutes to hours; this leaves room and stops guessing.
FEED_LIMIT = "60 per hour"


def _person(staff_id: int, edit: bool = False) -> StaffUser:
    """A staff member whose page the current user may open (their own, or anyone's for
    admins and managers), or 404."""
    person = db.session.get(StaffUser, staff_id)
    if person is None or not staff_may_edit_absences(current_user, person):
        abort(404)
    return person


@bp.get("/")
def index():
    if not staff_may_see_people(current_user):
        abort(404)
    today = local_today(current_user)
    people = service.sales_staff()
    absences: dict[int, list[StaffAbsence]] = {}
    for absence in db.session.scalars(
        select(StaffAbsence).where(StaffAbsence.ends_on >= today).order_by(StaffAbsence.starts_on, StaffAbsence.id)
    ):
        absences.setdefault(absence.staff_id, []).append(absence)
    return render_page(INDEX, people=people, absences=absences, today=today)


@bp.get("/me")
def me():
    return redirect(url_for(".show", staff_id=current_user.id))


def _page(person: StaffUser, form: AbsenceForm | None = None, status: int = 200, token: str | None = None):
    today = local_today(person)
    return render_page(
        SHOW,
        status=status,
        person=person,
        form=form or AbsenceForm(formdata=None),
        absences=service.absences_of(person, today),
        today=today,
        may_manage_feed=staff_may_manage_feed(current_user, person),
        feed=followups.feed_of(person),
        feed_url=url_for(".calendar_feed", token=token, _external=True) if token else None,
    )


@bp.get("/<int:staff_id>")
def show(staff_id: int):
    return _page(_person(staff_id))


@bp.post("/<int:staff_id>/absences")
def add_absence(staff_id: int):
    person = _person(staff_id)
    form = AbsenceForm()
    if not form.validate():
        return _page(person, form, status=422)
    added = attempt(
        lambda: service.add_absence(
            person,
            form.starts_on.data,
            form.ends_on.data,
            form.note.data or "",
            actor=current_user,
            today=local_today(person),
        ),
        form,
    )
    if not added.ok:
        return _page(_person(staff_id), form, status=422)
    flash(_("Absence added: rules skip %(name)s on those days.", name=person.name), "success")
    return redirect_after_post(url_for(".show", staff_id=staff_id))


@bp.post("/absences/<int:absence_id>/delete")
def delete_absence(absence_id: int):
    absence = db.session.get(StaffAbsence, absence_id)
    if absence is None:
        abort(404)
    person = _person(absence.staff_id)
    service.remove_absence(absence)
    db.session.commit()
    flash(_("Absence removed."), "success")
    return redirect_after_post(url_for(".show", staff_id=person.id))


def _own(staff_id: int) -> StaffUser:
    person = _person(staff_id)
    if not staff_may_manage_feed(current_user, person):
        abort(404)
    return person


@bp.post("/<int:staff_id>/feed")
def issue_feed(staff_id: int):
    """A new feed URL (the old one stops working), shown on this response only."""
    person = _own(staff_id)
    token = followups.issue_feed_token(person)
    db.session.commit()
    response = _page(person, token=token)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:staff_id>/feed/revoke")
def revoke_feed(staff_id: int):
    person = _own(staff_id)
    followups.revoke_feed(person)
    db.session.commit()
    flash(_("Calendar feed turned off: its URL no longer works."), "success")
    return redirect_after_post(url_for(".show", staff_id=staff_id))


@bp.get("/feed/<token>.ics")
@limiter.limit(FEED_LIMIT)
def calendar_feed(token: str):
    owner = followups.feed_owner(token)
    if owner is None:
        abort(404)
    response = Response(followups.calendar_feed(owner), mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Disposition"] = 'inline; filename="follow-ups.ics"'
    return response
