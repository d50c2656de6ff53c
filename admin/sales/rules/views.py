"""Assignment rules and teams (/admin/sales/rules/): admins edit them, managers read
the list, everyone else gets a 404.

Thin views: load, read the form's shape, call ``portal.domains.sales.rules`` (which
holds the rules and flushes) through ``attempt`` (one commit), 303. Invalid forms come
back filled in with status 422.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin.operations import attempt, saved_or_form
from admin.sales.rules.forms import TARGET_LABELS, RuleForm, TeamForm
from portal.access.staff.sales_rules import staff_may_edit_assignment_rules, staff_may_see_assignment_rules
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import parse_id
from portal.domains.sales import rules as service
from portal.domains.sales.models import OpportunityType, Source
from portal.domains.sales.models_rules import AssignmentRule, SalesTeam
from portal.domains.sales.rules import MAX_WEIGHT

bp = Blueprint("sales_rules", __name__, url_prefix="/sales/rules")

INDEX = "admin/sales/rules/index.html"
RULE_FORM = "admin/sales/rules/rule_form.html"
TEAM_FORM = "admin/sales/rules/team_form.html"


@bp.before_request
def only_admins_and_managers():
    """Managers read the list; everything else (forms, changes) is for admins."""
    if request.endpoint == "admin.sales_rules.index":
        allowed = staff_may_see_assignment_rules(current_user)
    else:
        allowed = staff_may_edit_assignment_rules(current_user)
    if not allowed:
        abort(404)


@bp.get("/")
def index():
    return render_page(
        INDEX,
        rules=service.list_rules(),
        teams=service.list_teams(),
        target_labels=TARGET_LABELS,
        sources={s.id: s.name for s in db.session.scalars(db.select(Source))},
        types={t.id: t.name for t in db.session.scalars(db.select(OpportunityType))},
        may_edit=staff_may_edit_assignment_rules(current_user),
    )


# --- rules -------------------------------------------------------------------------


def _choices(model) -> list[tuple[int, str]]:
    rows = db.session.scalars(db.select(model).order_by(model.position, model.id))
    return [(0, _("Any"))] + [(row.id, row.name if row.is_active else f"{row.name} ({_('inactive')})") for row in rows]


def _rule_page(form: RuleForm, rule: AssignmentRule | None, status: int = 200):
    form.source_id.choices = _choices(Source)
    form.type_id.choices = _choices(OpportunityType)
    form.rep_id.choices = [(0, _("Choose a rep"))] + [(u.id, u.name) for u in service.sales_staff()]
    form.team_id.choices = [(0, _("Choose a team"))] + [(t.id, t.name) for t in service.list_teams()]
    return render_page(RULE_FORM, status=status, form=form, rule=rule)


def _rule_input(form: RuleForm) -> service.RuleInput:
    return service.RuleInput(
        name=form.name.data or "",
        applies_to=form.applies_to.data or "",
        source_id=form.source_id.data or None,
        type_id=form.type_id.data or None,
        zone=form.zone.data or "",
        city=form.city.data or "",
        amount_min=form.amount_min.data,
        amount_max=form.amount_max.data,
        action=form.action.data or "",
        rep_id=form.rep_id.data or None,
        team_id=form.team_id.data or None,
        is_active=bool(form.is_active.data),
    )


def _save_rule(form: RuleForm, rule: AssignmentRule | None):
    if not form.validate():
        return None
    saved = attempt(lambda: service.save_rule(rule, _rule_input(form)), form)
    return saved.value if saved.ok else None


@bp.route("/new", methods=["GET", "POST"])
def new_rule():
    if request.method == "GET":
        return _rule_page(RuleForm(formdata=None), None)
    form = RuleForm()
    return saved_or_form(
        _save_rule(form, None),
        lambda: _rule_page(form, None, status=422),
        lambda rule: _("Rule %(name)s added at the end of the list.", name=rule.name),
        url_for(".index"),
    )


@bp.route("/<int:rule_id>", methods=["GET", "POST"])
def edit_rule(rule_id: int):
    rule = db.get_or_404(AssignmentRule, rule_id)
    if request.method == "GET":
        form = RuleForm(formdata=None, obj=rule)
        form.action.data = "team" if rule.team_id else "rep"
        form.source_id.data, form.type_id.data = rule.source_id or 0, rule.type_id or 0
        form.rep_id.data, form.team_id.data = rule.rep_id or 0, rule.team_id or 0
        return _rule_page(form, rule)
    form = RuleForm()
    return saved_or_form(
        _save_rule(form, rule),
        lambda: _rule_page(form, db.get_or_404(AssignmentRule, rule_id), status=422),
        _("Saved. New opportunities and leads follow the rules from now on."),
        url_for(".index"),
    )


@bp.post("/<int:rule_id>/move")
def move_rule(rule_id: int):
    rule = db.get_or_404(AssignmentRule, rule_id)
    direction = request.form.get("direction", "")
    if direction not in ("up", "down"):
        abort(400)
    service.move_rule(rule, direction)
    db.session.commit()
    return redirect_after_post(url_for(".index", _anchor=f"rule-{rule_id}"))


@bp.post("/<int:rule_id>/delete")
def delete_rule(rule_id: int):
    rule = db.get_or_404(AssignmentRule, rule_id)
    name = rule.name
    service.delete_rule(rule)
    db.session.commit()
    flash(_("Rule %(name)s deleted.", name=name), "success")
    return redirect_after_post(url_for(".index"))


# --- teams -------------------------------------------------------------------------


def _team_page(form: TeamForm, team: SalesTeam | None, weights: dict[int, str], status: int = 200):
    return render_page(
        TEAM_FORM,
        status=status,
        form=form,
        team=team,
        people=service.sales_staff(),
        weights=weights,
        max_weight=MAX_WEIGHT,
    )


def _typed_weights() -> tuple[dict[int, str], dict[int, int], str | None]:
    """What was typed per person, the members it makes, and the first problem."""
    typed: dict[int, str] = {}
    members: dict[int, int] = {}
    problem = None
    for key, value in request.form.items():
        if not key.startswith("weight_"):
            continue
        staff_id = parse_id(key.removeprefix("weight_"))
        text = (value or "").strip()
        if staff_id is None:
            problem = _("Choose members from the list.")
            continue
        typed[staff_id] = text[:10]
        if not text or text == "0":
            continue
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_WEIGHT:
            problem = problem or _("Weights go from 1 to %(n)s (empty: not a member).", n=MAX_WEIGHT)
            continue
        members[staff_id] = int(text)
    return typed, members, problem


def _save_team(form: TeamForm, team: SalesTeam | None):
    typed, members, problem = _typed_weights()
    if not form.validate() or problem:
        if problem:
            form.form_errors.append(problem)
        return None, typed
    saved = attempt(
        lambda: service.save_team(team, service.TeamInput(name=form.name.data or "", members=members)), form
    )
    return (saved.value if saved.ok else None), typed


@bp.route("/teams/new", methods=["GET", "POST"])
def new_team():
    if request.method == "GET":
        return _team_page(TeamForm(formdata=None), None, {})
    form = TeamForm()
    team, typed = _save_team(form, None)
    return saved_or_form(
        team,
        lambda: _team_page(form, None, typed, status=422),
        lambda added: _("Team %(name)s added.", name=added.name),
        url_for(".index"),
    )


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
def edit_team(team_id: int):
    team = db.get_or_404(SalesTeam, team_id)
    if request.method == "GET":
        weights = {member.staff_id: str(member.weight) for member in team.members}
        return _team_page(TeamForm(formdata=None, obj=team), team, weights)
    form = TeamForm()
    saved, typed = _save_team(form, team)
    return saved_or_form(
        saved,
        lambda: _team_page(form, db.get_or_404(SalesTeam, team_id), typed, status=422),
        lambda saved_team: _("Team %(name)s saved.", name=saved_team.name),
        url_for(".index"),
    )
