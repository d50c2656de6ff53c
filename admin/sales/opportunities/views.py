"""Staff opportunity pages: the board (drag or select a stage), the list (search,
filters, sort, keyset pages, CSV), the form (new, edit, item lines), the page (its
proposals, Make proposal, lost, reopen).

Every opportunity is loaded or listed through ``portal.access.staff``: what a staff
member may not see is a 404, and so is what they may not change (technicians read).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from admin.forms import attach_errors
from admin.operations import attempt
from admin.sales.opportunities.forms import LostForm, MoveForm, OpportunityForm
from portal.access.staff import (
    lead_filter,
    opportunity_filter_parts,
    organization_filter,
    staff_contract,
    staff_may_create_opportunity,
    staff_may_see_contract,
    staff_may_see_organization,
    staff_may_work_contract,
    staff_may_work_opportunity,
    staff_opportunities_query,
    staff_opportunity,
)
from portal.core.csv_export import csv_response
from portal.core.errors import DomainError, InvalidInput
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.parsing import optional_id, parse_id
from portal.domains.contracts.models import Contract
from portal.domains.contracts.operations import (
    add_signed_services,
    contract_from_opportunity,
    contract_of_opportunity,
    contract_sites,
    proposed_site_id,
    revision_of_opportunity,
)
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem
from portal.domains.sales import lists, queries
from portal.domains.sales import opportunities as service
from portal.domains.sales.models import (
    Competitor,
    Lead,
    LeadStatus,
    LostReason,
    Opportunity,
    OpportunityType,
    Outcome,
    Source,
    Stage,
)
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import events_for

bp = Blueprint("opportunities", __name__, url_prefix="/sales")

BOARD = "admin/sales/opportunities/board.html"
INDEX = "admin/sales/opportunities/index.html"
FORM = "admin/sales/opportunities/form.html"
SHOW = "admin/sales/opportunities/show.html"
CHOICES_SHOWN = 500
SPARE_LINES = 1


def _may_create() -> None:
    if not staff_may_create_opportunity(current_user):
        abort(404)


# --- the board ---------------------------------------------------------------------------


def _board_context(show_closed: bool, message: str | None = None, error: bool = False) -> dict:
    stages = lists.entries(Stage) if show_closed else lists.open_stages()
    columns = queries.board(opportunity_filter_parts(current_user), stages)
    return dict(
        columns=columns,
        show_closed=show_closed,
        move_stages=[s for s in lists.entries(Stage) if s.outcome != Outcome.LOST],
        message=message,
        message_is_error=error,
        age_days=queries.age_days,
        # Every card came through the access filter: who sees it works it, unless a technician.
        may_work=staff_may_create_opportunity(current_user),
    )


@bp.get("/board")
def board():
    """A column per active open stage (won and lost behind a toggle), newest cards first."""
    show_closed = request.args.get("closed") == "1"
    return render_page(BOARD, block="board", **_board_context(show_closed))


@bp.post("/opportunities/<int:opportunity_id>/move")
def move(opportunity_id: int):
    """A card moved (dragged, or its select and button): htmx gets the board back, so a
    refused move snaps back with the reason; a plain post returns to where it came from."""
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    opportunity = service.load_opportunity(opportunity.id)
    form = MoveForm()
    stage_id = form.stage_id.data if not form.stage_id.errors else None
    stage = db.session.get(Stage, stage_id) if stage_id else None
    show_closed = request.form.get("closed") == "1"
    try:
        moved = service.move_opportunity(current_user, opportunity, stage)
        db.session.commit()
        status, message, error = 200, (_("Moved to %(stage)s.", stage=stage.name) if moved else None), False
    except InvalidInput as problem:
        db.session.rollback()
        status, message, error = 422, next(iter(problem.errors.values())), True
    except DomainError as problem:
        db.session.rollback()
        status, message, error = 409, str(problem), True
    if wants_partial():
        return render_page(BOARD, block="board", status=status, **_board_context(show_closed, message, error))
    if message:
        flash(message, "error" if error else "success")
    back = request.form.get("back")
    target = (
        url_for("admin.opportunities.show", opportunity_id=opportunity_id)
        if back == "show"
        else url_for("admin.opportunities.board", closed="1" if show_closed else None)
    )
    return redirect_after_post(target)


# --- the list and its CSV ----------------------------------------------------------------


def _filter_choices() -> dict:
    return dict(
        stages=lists.entries(Stage, active_only=False),
        types=lists.entries(OpportunityType, active_only=False),
        sources=lists.entries(Source, active_only=False),
        reps=list(
            db.session.scalars(
                select(StaffUser).where(StaffUser.is_enabled.is_(True)).order_by(StaffUser.name, StaffUser.id)
            )
        ),
    )


@bp.get("/opportunities")
def index():
    """The opportunities one may see; htmx asks for the results block as one types."""
    filters = queries.Filters.from_args(request.args)
    page = queries.list_page(
        staff_opportunities_query(current_user),
        filters,
        current_user.id,
        after=request.args.get("after"),
        before=request.args.get("before"),
    )
    return render_page(
        INDEX,
        block="results",
        page=page,
        filters=filters,
        keep=filters.args(),
        may_create=staff_may_create_opportunity(current_user),
        effective_probability=service.effective_probability,
        customer_name=service.customer_name,
        **_filter_choices(),
    )


@bp.get("/opportunities.csv")
def export():
    """Every filtered row (not just one page), streamed."""
    filters = queries.Filters.from_args(request.args)
    rows = queries.all_rows(staff_opportunities_query(current_user), filters, current_user.id)
    header = [
        _("Id"),
        _("Title"),
        _("Customer"),
        _("Stage"),
        _("Outcome"),
        _("Amount"),
        _("Currency"),
        _("Probability"),
        _("Expected close"),
        _("Sales rep"),
        _("Next contact"),
        _("Created"),
    ]

    def lines():
        for o in rows:
            yield [
                o.id,
                o.title,
                service.customer_name(o),
                o.stage.name,
                o.outcome,
                o.amount,
                o.currency,
                service.effective_probability(o),
                o.expected_close_on,
                o.rep.name if o.rep else "",
                o.next_contact_on,
                o.created_at,
            ]

    return csv_response("opportunities.csv", header, lines())


# --- the form ------------------------------------------------------------------------------


def _form_choices(form: OpportunityForm, opportunity: Opportunity | None) -> None:
    """What the selects offer: the active lists (plus the values this opportunity already
    has), the customers, contacts and open leads the user may see, enabled staff."""
    current = opportunity

    def keep(name):
        return [getattr(current, name)] if current is not None else []

    none = [(0, "—")]
    form.type_id.choices = [(e.id, e.name) for e in lists.entries(OpportunityType, keep_ids=keep("type_id"))]
    form.source_id.choices = none + [(e.id, e.name) for e in lists.entries(Source, keep_ids=keep("source_id"))]
    form.stage_id.choices = [
        (e.id, e.name)
        for e in lists.entries(Stage, keep_ids=keep("stage_id"))
        if e.outcome == Outcome.OPEN or (current is not None and e.id == current.stage_id)
    ]
    organizations = list(
        db.session.execute(
            select(Organization.id, Organization.name)
            .where(organization_filter(current_user), Organization.is_active.is_(True))
            .order_by(Organization.name_key, Organization.id)
            .limit(CHOICES_SHOWN)
        )
    )
    chosen_org = form.organization_id.data or (current.organization_id if current else None)
    if chosen_org and chosen_org not in {o.id for o in organizations}:
        extra = db.session.get(Organization, chosen_org)
        if extra is not None and staff_may_see_organization(current_user, extra.id):
            organizations.append((extra.id, extra.name))
    form.organization_id.choices = none + [(o.id, o.name) for o in organizations]
    contacts = db.session.execute(
        select(Contact.id, Contact.first_name, Contact.last_name, Organization.name)
        .join(Organization, Organization.id == Contact.organization_id)
        .where(organization_filter(current_user, Contact.organization_id), Contact.is_active.is_(True))
        .where(Contact.organization_id == chosen_org if chosen_org else Contact.id.is_not(None))
        .order_by(Organization.name_key, Contact.last_name, Contact.id)
        .limit(CHOICES_SHOWN)
    )
    form.contact_id.choices = none + [(c.id, f"{c.first_name} {c.last_name} · {c.name}") for c in contacts]
    leads = list(
        db.session.execute(
            select(Lead.id, Lead.name, Lead.company)
            .where(lead_filter(current_user), Lead.status == LeadStatus.OPEN)
            .order_by(Lead.id.desc())
            .limit(CHOICES_SHOWN)
        )
    )
    current_lead = current.lead_id if current else None
    if current_lead and current_lead not in {row.id for row in leads}:
        lead = db.session.get(Lead, current_lead)
        if lead is not None:
            leads.append((lead.id, lead.name, lead.company))
    form.lead_id.choices = none + [(l[0], f"{l[1]}{' · ' + l[2] if l[2] else ''}") for l in leads]
    keep_staff = {i for i in (keep("rep_id") + keep("next_contact_by_id")) if i}
    staff = db.session.scalars(
        select(StaffUser)
        .where((StaffUser.is_enabled.is_(True) & (StaffUser.role != "technician")) | StaffUser.id.in_(keep_staff))
        .order_by(StaffUser.name, StaffUser.id)
    )
    people = [(s.id, s.name) for s in staff]
    form.rep_id.choices = [(0, _("Assign by the rules"))] + people
    form.next_contact_by_id.choices = none + people


def _typed_lines() -> list[service.LineData]:
    """The item rows as typed (parallel lists of the row inputs); add/remove buttons
    change the rows without saving."""
    form = request.form
    descriptions = form.getlist("line_description")
    quantities = form.getlist("line_quantity")
    prices = form.getlist("line_unit_price")
    services = form.getlist("line_service_id")
    count = min(max(len(descriptions), len(quantities), len(prices), len(services)), service.MAX_LINES + 1)

    def at(values, i, default=""):
        return values[i] if i < len(values) and isinstance(values[i], str) else default

    return [
        service.LineData(
            description=at(descriptions, i)[:1000],
            quantity=at(quantities, i, "1")[:60],
            unit_price=at(prices, i)[:60],
            service_id=optional_id(at(services, i)),
        )
        for i in range(count)
    ]


def _input(form: OpportunityForm, lines: list[service.LineData]) -> service.OpportunityInput:
    def picked(field):
        return None if field.errors or not field.data else field.data

    return service.OpportunityInput(
        title=form.title.data or "",
        organization_id=picked(form.organization_id),
        contact_id=picked(form.contact_id),
        lead_id=picked(form.lead_id),
        type_id=picked(form.type_id),
        source_id=picked(form.source_id),
        stage_id=picked(form.stage_id),
        amount=form.amount.data or "",
        currency=form.currency.data or "",
        probability=form.probability.data or "",
        expected_close_on=None if form.expected_close_on.errors else form.expected_close_on.data,
        expected_close_invalid=bool(form.expected_close_on.errors),
        rep_id=picked(form.rep_id),
        next_contact_on=None if form.next_contact_on.errors else form.next_contact_on.data,
        next_contact_invalid=bool(form.next_contact_on.errors),
        next_contact_by_id=picked(form.next_contact_by_id),
        lines=lines,
    )


def _form_page(form, lines, opportunity=None, status=200, line_errors=None):
    catalog = list(
        db.session.scalars(select(CatalogItem).where(CatalogItem.is_active.is_(True)).order_by(CatalogItem.name))
    )
    rows = list(lines) + [service.LineData() for _ in range(SPARE_LINES if len(lines) < service.MAX_LINES else 0)]
    return render_page(
        FORM,
        block="form",
        status=status,
        form=form,
        opportunity=opportunity,
        lines=rows,
        line_errors=line_errors or {},
        catalog=catalog,
        stage_defaults={s.id: s.default_probability for s in lists.entries(Stage, active_only=False)},
    )


def _row_action(lines: list[service.LineData]) -> list[service.LineData] | None:
    """The Add line / Remove buttons: the rows changed, nothing saved (None: a save)."""
    if "add_line" in request.form:
        return [*lines, service.LineData()]
    remove = request.form.get("remove_line")
    if remove is not None:
        index = optional_id(str(int(remove) + 1)) if remove.isascii() and remove.isdigit() else None
        return [line for i, line in enumerate(lines) if index is None or i != index - 1]
    return None


def _split_errors(error: InvalidInput) -> tuple[InvalidInput, dict]:
    line_errors: dict = {}
    rest = {}
    for key, message in error.errors.items():
        if key.startswith("line-"):
            _line, index, name = key.split("-", 2)
            line_errors.setdefault(int(index), {})[name] = message
        else:
            rest[key] = message
    return InvalidInput(rest), line_errors


def _visible_org(organization_id: int) -> bool:
    return staff_may_see_organization(current_user, organization_id)


def _save(form, opportunity, operation):
    lines = _typed_lines()
    changed = _row_action(lines)
    if changed is not None:
        # Rows edited: the form again with what was typed, nothing saved or judged yet.
        return _form_page(form, changed, opportunity)
    form.validate()
    data = _input(form, lines)
    outcome = attempt(lambda: operation(data), keep_refusal=True)
    if outcome.ok:
        return redirect_after_post(url_for("admin.opportunities.show", opportunity_id=outcome.value))
    problem = outcome.error or InvalidInput({"": str(outcome.refusal)})
    rest, line_errors = _split_errors(problem)
    attach_errors(form, rest)
    kept = [l for l in lines if l.description.strip() or l.unit_price.strip() or l.service_id]
    _form_choices(form, opportunity)
    return _form_page(form, kept, opportunity, status=outcome.status, line_errors=line_errors)


@bp.route("/opportunities/new", methods=["GET", "POST"])
def new():
    _may_create()
    form = OpportunityForm()
    if request.method == "GET":
        form.stage_id.data = (lists.stage_by_key("new") or lists.first_stage(Outcome.OPEN) or Stage(id=0)).id
        sales_type = db.session.scalar(select(OpportunityType.id).where(OpportunityType.key == "sales"))
        form.type_id.data = sales_type or 0
        org = optional_id(request.args.get("organization_id"))
        if org and _visible_org(org):
            form.organization_id.data = org
        lead = optional_id(request.args.get("lead_id"))
        if lead:
            form.lead_id.data = lead
        if current_user.role == "sales":
            form.rep_id.data = current_user.id
    _form_choices(form, None)
    if request.method == "GET":
        return _form_page(form, [])

    def create(data):
        return service.create_opportunity(current_user, data, _visible_org).id

    return _save(form, None, create)


@bp.route("/opportunities/<int:opportunity_id>/edit", methods=["GET", "POST"])
def edit(opportunity_id: int):
    staff_opportunity(current_user, opportunity_id, work=True)
    opportunity = service.load_opportunity(opportunity_id)
    if request.method == "GET":
        form = OpportunityForm(obj=opportunity)
        form.amount.data = str(opportunity.amount)
        form.probability.data = "" if opportunity.probability is None else str(opportunity.probability)
        for name in ("organization_id", "contact_id", "lead_id", "source_id", "rep_id", "next_contact_by_id"):
            getattr(form, name).data = getattr(opportunity, name) or 0
        lines = [
            service.LineData(
                description=l.description,
                quantity=format(l.quantity.normalize(), "f"),
                unit_price=str(l.unit_price),
                service_id=l.service_id,
            )
            for l in opportunity.lines
        ]
        _form_choices(form, opportunity)
        return _form_page(form, lines, opportunity)
    form = OpportunityForm()
    _form_choices(form, opportunity)

    def update(data):
        service.update_opportunity(current_user, opportunity, data, _visible_org)
        return opportunity.id

    return _save(form, opportunity, update)


# --- the page and its actions -------------------------------------------------------------


def _show_context(opportunity: Opportunity, lost_form: LostForm | None = None) -> dict:
    lost_form = lost_form or LostForm()
    lost_form.reason_ids.choices = [(r.id, r.name) for r in lists.entries(LostReason)]
    lost_form.competitor_ids.choices = [(c.id, c.name) for c in lists.entries(Competitor)]
    move_form = MoveForm(stage_id=opportunity.stage_id)
    move_form.stage_id.choices = [
        (s.id, s.name) for s in lists.entries(Stage) if s.outcome != Outcome.LOST or s.id == opportunity.stage_id
    ]
    may_work = staff_may_work_opportunity(current_user, opportunity)
    contract = contract_of_opportunity(opportunity.id)
    # A campaign's opportunity came from a contract: once won, its signed services go
    # back onto that contract ("Add to contract") rather than into a new one.
    source = db.session.get(Contract, opportunity.contract_id) if opportunity.contract_id else None
    if source is not None and not staff_may_see_contract(current_user, source):
        source = None
    applied = revision_of_opportunity(opportunity.id) if source is not None else None
    # "Make contract" asks which property when the organization has several.
    sites = (
        contract_sites(opportunity.organization_id)
        if may_work
        and contract is None
        and source is None
        and opportunity.outcome == Outcome.WON
        and opportunity.organization_id
        else []
    )
    return dict(
        opportunity=opportunity,
        probability=service.effective_probability(opportunity),
        customer=service.customer_name(opportunity),
        may_work=may_work,
        lost_form=lost_form,
        move_form=move_form,
        events=events_for(Subject.OPPORTUNITY, opportunity.id, limit=100),
        contract=contract,
        source_contract=source,
        applied_revision=applied,
        may_change_source=bool(source) and may_work and staff_may_work_contract(current_user, source),
        contract_sites=sites,
        contract_site_id=proposed_site_id(opportunity, sites) if sites else None,
    )


@bp.get("/opportunities/<int:opportunity_id>")
def show(opportunity_id: int):
    staff_opportunity(current_user, opportunity_id)
    return render_page(SHOW, **_show_context(service.load_opportunity(opportunity_id)))


@bp.post("/opportunities/<int:opportunity_id>/lost")
def lost(opportunity_id: int):
    staff_opportunity(current_user, opportunity_id, work=True)
    opportunity = service.load_opportunity(opportunity_id)
    form = LostForm()
    form.validate()
    data = service.LostInput(
        reason_ids=[] if form.reason_ids.errors else list(form.reason_ids.data or []),
        competitor_ids=[] if form.competitor_ids.errors else list(form.competitor_ids.data or []),
        detail=(form.detail.data or "")[:6000],
    )
    outcome = attempt(lambda: service.mark_lost(current_user, opportunity, data), form=form, keep_refusal="detail")
    if outcome.ok:
        flash(_("Marked lost."), "success")
        return redirect_after_post(url_for("admin.opportunities.show", opportunity_id=opportunity_id))
    return render_page(SHOW, status=outcome.status, **_show_context(service.load_opportunity(opportunity_id), form))


@bp.post("/opportunities/<int:opportunity_id>/reopen")
def reopen(opportunity_id: int):
    staff_opportunity(current_user, opportunity_id, work=True)
    opportunity = service.load_opportunity(opportunity_id)
    attempt(lambda: service.reopen_opportunity(current_user, opportunity))
    flash(_("Reopened."), "success")
    return redirect_after_post(url_for("admin.opportunities.show", opportunity_id=opportunity_id))


@bp.post("/opportunities/<int:opportunity_id>/proposal")
def make_proposal(opportunity_id: int):
    """Story 7: a draft proposal from the opportunity, opened in the proposal editor."""
    staff_opportunity(current_user, opportunity_id, work=True)
    opportunity = service.load_opportunity(opportunity_id)
    outcome = attempt(lambda: service.make_proposal(current_user, opportunity).id)
    flash(_("Draft proposal made from the opportunity."), "success")
    return redirect_after_post(url_for("admin.proposals.show", proposal_id=outcome.value))


@bp.post("/opportunities/<int:opportunity_id>/contract/add")
def add_to_contract(opportunity_id: int):
    """A won campaign opportunity's signed services onto the contract it came from, in
    a new revision, opened on the contract's page (a second attempt: 409)."""
    staff_opportunity(current_user, opportunity_id, work=True)
    opportunity = service.load_opportunity(opportunity_id)
    if opportunity.contract_id is None:
        abort(404)
    contract = staff_contract(current_user, opportunity.contract_id, work=True)
    outcome = attempt(lambda: add_signed_services(current_user, opportunity).label)
    flash(
        _(
            "The signed services were added to %(number)s in %(revision)s.",
            number=contract.number,
            revision=outcome.value,
        ),
        "success",
    )
    return redirect_after_post(url_for("admin.contracts.show", contract_id=contract.id))


@bp.post("/opportunities/<int:opportunity_id>/contract")
def make_contract(opportunity_id: int):
    """A draft contract from a won opportunity's signed proposal, opened on its page
    (a second attempt is refused with the first contract's number: 409)."""
    staff_opportunity(current_user, opportunity_id, work=True)
    opportunity = service.load_opportunity(opportunity_id)
    raw = (request.form.get("site_id") or "").strip()
    # Absent: the proposed property; anything but one of the organization's active
    # properties (0 matches none) is refused with the message.
    site_id = (parse_id(raw) or 0) if raw else None
    outcome = attempt(lambda: contract_from_opportunity(current_user, opportunity, site_id=site_id).id)
    flash(_("Draft contract made from the signed proposal: check it, then activate it."), "success")
    return redirect_after_post(url_for("admin.contracts.show", contract_id=outcome.value))
