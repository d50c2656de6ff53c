"""Staff contract pages: the list (search by number or organization, filter by status,
keyset pages), the new-contract form, the contract page (header, included and
optional services of the revision in force, edited through htmx partials as in the
proposal editor, its revisions, activate / cancel) and each old revision, to read.

Every contract is loaded or listed through ``portal.access.staff``: what a staff
member may not see is a 404, and so is what they may not change (technicians read).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from admin.contracts.editor.forms import CancelForm, ContractForm, ContractLineForm
from admin.operations import attempt, handle_refusals
from portal.access.staff import (
    organization_filter,
    staff_contract,
    staff_contracts_query,
    staff_may_see_organization,
    staff_may_work_contracts,
)
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import optional_id, parse_text
from portal.domains.contracts import operations as service
from portal.domains.contracts import queries
from portal.domains.contracts.models import Contract, ContractStatus
from portal.domains.customers.models import Organization, Site
from portal.domains.proposals.models import CatalogItem
from portal.domains.sales.models import OpportunityType
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import events_for

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

INDEX = "admin/contracts/index.html"
NEW = "admin/contracts/new.html"
SHOW = "admin/contracts/show.html"
REVISION = "admin/contracts/revision.html"
CHOICES_SHOWN = 500


@bp.get("/")
def index():
    """The contracts one may see; htmx asks for the results block as one types."""
    q = parse_text(request.args.get("q"), queries.MAX_QUERY)
    status = request.args.get("status") or ""
    if status not in ContractStatus.ALL:
        status = ""
    page = queries.list_page(staff_contracts_query(current_user), q, status or None, request.args.get("after"))
    keep = {key: value for key, value in (("q", q), ("status", status)) if value}
    return render_page(
        INDEX,
        block="results",
        page=page,
        q=q,
        status_filter=status,
        statuses=ContractStatus.ALL,
        keep=keep,
    )


def _visible_org(organization_id: int) -> bool:
    return staff_may_see_organization(current_user, organization_id)


def _header_choices(form: ContractForm, contract: Contract | None = None) -> None:
    """The organizations one may see (the chosen one kept), that organization's
    properties, and the opportunity types."""
    none = [(0, "—")]
    organization_id = contract.organization_id if contract else form.organization_id.data
    if contract is None:
        organizations = list(
            db.session.execute(
                select(Organization.id, Organization.name)
                .where(organization_filter(current_user), Organization.is_active.is_(True))
                .order_by(Organization.name_key, Organization.id)
                .limit(CHOICES_SHOWN)
            )
        )
        if organization_id and organization_id not in {o.id for o in organizations} and _visible_org(organization_id):
            extra = db.session.get(Organization, organization_id)
            if extra is not None:
                organizations.append((extra.id, extra.name))
        form.organization_id.choices = none + [(o.id, o.name) for o in organizations]
    sites = (
        db.session.execute(
            select(Site.id, Site.name, Site.is_active)
            .where(Site.organization_id == organization_id)
            .order_by(Site.is_active.desc(), Site.name, Site.id)
        ).all()
        if organization_id and _visible_org(organization_id)
        else []
    )
    keep_site = contract.site_id if contract else None
    form.site_id.choices = none + [(s.id, s.name) for s in sites if s.is_active or s.id == keep_site]
    kinds = db.session.scalars(select(OpportunityType).order_by(OpportunityType.position, OpportunityType.id))
    form.type_id.choices = none + [
        (k.id, k.name) for k in kinds if k.is_active or (contract and k.id == contract.type_id)
    ]


def _header_input(form: ContractForm, organization_id: int | None) -> service.ContractInput:
    invalid = {name: bool(getattr(form, name).errors) for name in ("starts_on", "ends_on")}
    for name, bad in invalid.items():
        if bad:
            getattr(form, name).errors = []  # the operation says it, once, in its words
    return service.ContractInput(
        organization_id=organization_id,
        site_id=form.site_id.data or None,
        starts_on=None if invalid["starts_on"] else form.starts_on.data,
        ends_on=None if invalid["ends_on"] else form.ends_on.data,
        starts_invalid=invalid["starts_on"],
        ends_invalid=invalid["ends_on"],
        title=form.title.data or "",
        billing_cycle=form.billing_cycle.data or "",
        currency=form.currency.data or "",
        type_id=form.type_id.data or None,
        notes=form.notes.data or "",
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Type a contract: organization, property, dates, billing cycle, type. Choosing
    the organization reloads the form's block with its properties (htmx), or the
    *Show its properties* button does without JavaScript."""
    if not staff_may_work_contracts(current_user):
        abort(404)
    form = ContractForm()
    if request.method == "GET":
        form = ContractForm(formdata=None)
        chosen = optional_id(request.args.get("organization_id"))
        if chosen and _visible_org(chosen):
            form.organization_id.data = chosen
        site = optional_id(request.args.get("site_id"))
        if site:
            form.site_id.data = site
    _header_choices(form)
    if request.method == "GET" or "pick_organization" in request.form:
        return render_page(NEW, block="contract_form", form=form)
    form.validate()
    created = attempt(
        lambda: (
            service.create_contract(
                current_user, _header_input(form, form.organization_id.data or None), visible_org=_visible_org
            ).id
        ),
        form,
    )
    if created.ok:
        flash(_("Contract made as a draft: add its services, then activate it."), "success")
        return redirect_after_post(url_for(".show", contract_id=created.value))
    return render_page(NEW, block="contract_form", status=422, form=form)


def _line_form(line=None, formdata=None, catalog=()) -> ContractLineForm:
    form = (
        ContractLineForm(formdata=formdata, obj=line)
        if formdata is not None
        else ContractLineForm(formdata=None, obj=line)
    )
    form.service_id.choices = list(catalog)
    if line is not None and formdata is None:
        form.service_id.data = line.service_id
    return form


def _catalog_choices() -> list[tuple[int, str]]:
    items = db.session.scalars(select(CatalogItem).where(CatalogItem.is_active.is_(True)).order_by(CatalogItem.name))
    return [(0, "—")] + [(i.id, f"{i.name} ({i.unit_price} {i.currency})") for i in items]


def _page(contract: Contract, status: int = 200, block: str | None = None, **forms):
    """The contract page (or one of its blocks) with its forms."""
    catalog = _catalog_choices()
    revision = contract.current_revision
    line_forms = {line.id: _line_form(line, catalog=catalog) for line in (revision.lines if revision else [])}
    line_forms.update(forms.pop("line_forms", {}))
    new_line = forms.pop("new_line", None) or _line_form(catalog=catalog)
    new_line.service_id.choices = catalog
    header = forms.pop("header", None)
    if header is None:
        header = ContractForm(formdata=None, obj=contract)
        header.type_id.data = contract.type_id or 0
    _header_choices(header, contract)
    return render_page(
        SHOW,
        block=block,
        status=status,
        contract=contract,
        revision=revision,
        included=service.included_lines(revision),
        optional=service.optional_lines(revision),
        line_forms=line_forms,
        new_line=new_line,
        header=header,
        cancel_form=forms.pop("cancel_form", None) or CancelForm(formdata=None),
        revisions=service.revisions_of(contract),
        events=events_for(Subject.CONTRACT, contract.id, limit=100),
        editable=contract.status in (ContractStatus.DRAFT, ContractStatus.ACTIVE),
    )


@bp.get("/<int:contract_id>")
def show(contract_id: int):
    return _page(staff_contract(current_user, contract_id))


@bp.get("/<int:contract_id>/revisions/<int:number>")
def revision(contract_id: int, number: int):
    """One revision as it was (superseded ones never change)."""
    contract = staff_contract(current_user, contract_id)
    shown = service.load_revision(contract, number)
    if shown is None:
        abort(404)
    return render_page(
        REVISION,
        contract=contract,
        revision=shown,
        included=service.included_lines(shown),
        optional=service.optional_lines(shown),
        revisions=service.revisions_of(contract),
    )


def _refused(error: DomainError):
    """A refusal on a contract's page: the page again (or its services block for
    htmx), the message shown, 409."""
    contract = staff_contract(current_user, request.view_args["contract_id"])
    flash(str(error), "error")
    return _page(contract, status=409, block="services")


handle_refusals(bp, _refused)


@bp.post("/<int:contract_id>/header")
def update_header(contract_id: int):
    contract = staff_contract(current_user, contract_id, work=True)
    form = ContractForm()
    _header_choices(form, contract)
    form.validate()
    saved = attempt(
        lambda: service.update_contract(current_user, contract, _header_input(form, contract.organization_id)), form
    )
    if saved.ok:
        flash(_("Saved."), "success")
        return redirect_after_post(url_for(".show", contract_id=contract_id))
    return _page(staff_contract(current_user, contract_id), status=422, block="header", header=form)


def _line_input(form: ContractLineForm) -> service.LineInput:
    return service.LineInput(
        service_id=form.service_id.data or None,
        kind=form.kind.data or "",
        quantity=form.quantity.data if form.quantity.data is not None else "",
        unit_price=form.unit_price.data,
        description=form.description.data or "",
        position=form.position.data,
    )


def _save_line(contract: Contract, line_id: int | None = None):
    form = _line_form(formdata=request.form, catalog=_catalog_choices())
    if form.validate():
        if line_id is None:
            saved = attempt(lambda: service.add_line(current_user, contract, _line_input(form)), form)
        else:
            saved = attempt(lambda: service.update_line(current_user, contract, line_id, _line_input(form)), form)
        if saved.ok:
            if request.htmx:
                return _page(staff_contract(current_user, contract.id), block="services")
            flash(_("Saved."), "success")
            return redirect_after_post(url_for(".show", contract_id=contract.id, _anchor="services"))
    contract = staff_contract(current_user, contract.id)
    forms = {"new_line": form} if line_id is None else {"line_forms": {line_id: form}}
    return _page(contract, status=422, block="services", **forms)


@bp.post("/<int:contract_id>/lines")
def add_line(contract_id: int):
    return _save_line(staff_contract(current_user, contract_id, work=True))


@bp.post("/<int:contract_id>/lines/<int:line_id>")
def update_line(contract_id: int, line_id: int):
    return _save_line(staff_contract(current_user, contract_id, work=True), line_id)


@bp.post("/<int:contract_id>/lines/<int:line_id>/delete")
def delete_line(contract_id: int, line_id: int):
    contract = staff_contract(current_user, contract_id, work=True)
    attempt(lambda: service.remove_line(current_user, contract, line_id))
    if request.htmx:
        return _page(staff_contract(current_user, contract_id), block="services")
    flash(_("Service removed."), "success")
    return redirect_after_post(url_for(".show", contract_id=contract_id, _anchor="services"))


@bp.post("/<int:contract_id>/activate")
def activate(contract_id: int):
    contract = staff_contract(current_user, contract_id, work=True)
    changed = attempt(lambda: service.activate_contract(current_user, contract)).value
    flash(_("Contract activated.") if changed else _("This contract was already active."), "success")
    return redirect_after_post(url_for(".show", contract_id=contract_id))


@bp.post("/<int:contract_id>/cancel")
def cancel(contract_id: int):
    contract = staff_contract(current_user, contract_id, work=True)
    form = CancelForm()
    reason = (form.reason.data or "").strip()[:500]
    changed = attempt(lambda: service.cancel_contract(current_user, contract, reason)).value
    flash(_("Contract cancelled.") if changed else _("This contract was already cancelled."), "success")
    return redirect_after_post(url_for(".show", contract_id=contract_id))
