"""Staff lead pages: the list (search, filters by status, source and rep, keyset
pages), a new lead typed by staff, the lead page (details, possible duplicates,
timeline) and its actions: convert into a customer, convert into an opportunity,
discard.

Every lead is loaded or listed through ``portal.access.staff.leads``: what a staff
member may not see is a 404 (technicians see no leads at all).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from admin.forms import attach_errors
from admin.operations import attempt
from admin.sales.leads.forms import ConvertToCustomerForm, LeadForm
from portal.access.staff import sees_everything, staff_visible_organization_ids
from portal.access.staff.leads import staff_lead, staff_leads_query, staff_may_work_leads
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import optional_id, parse_text
from portal.domains.sales import leads as service
from portal.domains.sales.models import Lead, LeadStatus, Opportunity
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import events_for

bp = Blueprint("leads", __name__, url_prefix="/sales/leads")

INDEX = "admin/sales/leads/index.html"
NEW = "admin/sales/leads/new.html"
SHOW = "admin/sales/leads/show.html"
STATUSES = (*LeadStatus.ALL, "all")


@bp.before_request
def sales_only():
    """Leads are sales work: technicians get a 404 on every lead page."""
    if not staff_may_work_leads(current_user):
        abort(404)


@bp.context_processor
def sales_nav():
    """The sales sub-nav links the opportunity pages: shown once they are registered."""
    return {"sales_nav": "admin.opportunities.board" in current_app.view_functions}


def _filters() -> service.LeadFilters:
    status = request.args.get("status") or LeadStatus.OPEN
    rep = parse_text(request.args.get("rep"), 12)
    return service.LeadFilters(
        q=parse_text(request.args.get("q"), 100),
        status=status if status in STATUSES else LeadStatus.OPEN,
        source_id=optional_id(request.args.get("source_id")),
        rep=rep if rep in ("me", "none") or optional_id(rep) else "",
    )


@bp.get("/")
def index():
    """The leads one may see, newest first; htmx asks for the results block."""
    filters = _filters()
    page = service.list_leads(staff_leads_query(current_user), filters, current_user, after=request.args.get("after"))
    return render_page(
        INDEX,
        block="results",
        page=page,
        filters=filters,
        statuses=[(s, service.status_label(s)) for s in LeadStatus.ALL],
        sources=service.source_choices(),
        reps=service.rep_choices(),
        status_label=service.status_label,
    )


# --- a new lead ------------------------------------------------------------------------


def _with_choices(form: LeadForm) -> LeadForm:
    form.source_id.choices = [(0, _("None"))] + service.source_choices()
    form.rep_id.choices = [(0, _("Assign by the rules"))] + [(u.id, u.name) for u in service.rep_choices()]
    return form


def _input(form: LeadForm) -> service.LeadInput:
    return service.LeadInput(
        name=form.name.data or "",
        company=form.company.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
        address=form.address.data or "",
        notes=form.notes.data or "",
        source_id=form.source_id.data or None if isinstance(form.source_id.data, int) else None,
        rep_id=form.rep_id.data or None if isinstance(form.rep_id.data, int) else None,
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = _with_choices(LeadForm())
    if request.method == "GET":
        return render_page(NEW, block="lead_form", form=_with_choices(LeadForm(formdata=None)))
    if not form.validate():
        # The service's messages too, so that every broken rule shows at once.
        errors = service.lead_errors(_input(form))
        attach_errors(form, InvalidInput({k: v for k, v in errors.items() if not getattr(form, k).errors}))
        return render_page(NEW, block="lead_form", form=form, status=422)
    outcome = attempt(lambda: service.create_lead(_input(form), actor=current_user), form)
    if not outcome.ok:
        return render_page(NEW, block="lead_form", form=form, status=outcome.status)
    flash(_("The lead %(name)s was added.", name=outcome.value.name), "success")
    return redirect_after_post(url_for(".show", lead_id=outcome.value.id))


# --- the lead page ---------------------------------------------------------------------

LEAD_OPTIONS = (joinedload(Lead.rep), joinedload(Lead.source))


def _page(lead: Lead, form: ConvertToCustomerForm | None = None, status: int = 200):
    duplicates = service.possible_duplicates(lead)
    organization_ids = {o.id for o in duplicates.organizations} | {c.organization_id for c in duplicates.contacts}
    if lead.organization_id:
        organization_ids.add(lead.organization_id)
    if form is None:
        form = ConvertToCustomerForm(formdata=None, obj=service.customer_defaults(lead))
    return render_page(
        SHOW,
        block="convert" if status != 200 else None,
        lead=lead,
        duplicates=duplicates,
        # Links only to the records this staff member may open.
        openable=staff_visible_organization_ids(current_user, organization_ids),
        contact_pages="admin.contacts.show" in current_app.view_functions,
        opportunity_pages="admin.opportunities.show" in current_app.view_functions,
        form=form,
        events=events_for(Subject.LEAD, lead.id),
        status_label=service.status_label,
        origin_label=service.origin_label,
        converted_at=service.converted_at(lead) if lead.status == LeadStatus.CONVERTED else None,
        status=status,
    )


def _reload(lead_id: int) -> Lead:
    """The lead again after a rollback, with the page's loader options: ``session.get``
    would refresh an expired lead's columns only (its relationships raise), so the
    leads leave the session first (the signed-in user stays)."""
    for obj in [o for o in db.session if isinstance(o, Lead)]:
        db.session.expunge(obj)
    return staff_lead(current_user, lead_id, options=LEAD_OPTIONS)


@bp.get("/<int:lead_id>")
def show(lead_id: int):
    return _page(staff_lead(current_user, lead_id, options=LEAD_OPTIONS))


def _act(
    lead_id: int,
    action: Callable[[Lead], object],
    success: str | Callable[[Any], str],
    redirect: Callable[[Any], str | None] | None = None,
    form: ConvertToCustomerForm | None = None,
):
    """Run one of the lead page's actions on the lead: a refusal or bad input keeps
    the lead page with its status (flashed, or on ``form`` when there is one); on
    success flash ``success`` (a text, or made from the action's value) and go to
    ``redirect``'s address (made from the value) when it gives one, else back to
    the lead page."""
    lead = staff_lead(current_user, lead_id)
    outcome = attempt(lambda: action(lead), form, True)
    if not outcome.ok:
        if form is None:
            flash(str(outcome.refusal or outcome.error), "error")
        return _page(_reload(lead_id), form, status=outcome.status)
    flash(success(outcome.value) if callable(success) else success, "success")
    target = redirect(outcome.value) if redirect is not None else None
    return redirect_after_post(target or url_for(".show", lead_id=lead_id))


def _converted_message(done: service.Conversion) -> str:
    """What a conversion into a customer made or reused, for the flash."""
    return _(
        "Converted: %(org)s (%(org_how)s) and %(contact)s (%(contact_how)s).",
        org=done.organization.name,
        org_how=_("an existing organization, reused") if done.reused_organization else _("a new organization"),
        contact=done.contact.full_name,
        contact_how=_("an existing contact, reused") if done.reused_contact else _("a new contact"),
    )


@bp.post("/<int:lead_id>/convert/customer")
def convert_customer(lead_id: int):
    form = ConvertToCustomerForm()
    data = service.CustomerInput(
        organization_name=form.organization_name.data or "",
        billing_address=form.billing_address.data or "",
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
    )
    join = not sees_everything(current_user)
    return _act(
        lead_id,
        lambda lead: service.convert_to_customer(lead, data, current_user, join_team=join),
        _converted_message,
        form=form,
    )


def _opportunity_page(opportunity: Opportunity) -> str | None:
    """The new opportunity's page, once the opportunity pages are registered."""
    if "admin.opportunities.show" in current_app.view_functions:
        return url_for("admin.opportunities.show", opportunity_id=opportunity.id)
    return None


@bp.post("/<int:lead_id>/convert/opportunity")
def convert_opportunity(lead_id: int):
    return _act(
        lead_id,
        lambda lead: service.convert_to_opportunity(lead, current_user),
        lambda opportunity: _("Converted into the opportunity %(title)s.", title=opportunity.title),
        redirect=_opportunity_page,
    )


@bp.post("/<int:lead_id>/take")
def take(lead_id: int):
    """Pick an unassigned lead up: it becomes the staff member's own."""
    return _act(lead_id, lambda lead: service.take_lead(lead, current_user), _("The lead is yours now."))


@bp.post("/<int:lead_id>/discard")
def discard(lead_id: int):
    return _act(lead_id, lambda lead: service.discard_lead(lead, current_user), _("The lead was discarded."))
