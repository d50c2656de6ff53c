"""Supplier quotations of an opportunity: ask suppliers, compare answers, copy costs.

- ``new`` (GET, POST): choose supplier contacts (organizations flagged as suppliers)
  and ask them for prices on the opportunity's items; each gets an email with a link.
- ``compare`` (GET): the answers side by side, the cheapest per item marked; the page
  also holds the form that copies the chosen prices into one of the opportunity's
  proposals as line costs (``copy``, POST).

The opportunity page shows ``admin/sales/opportunities/_supplier_quotes.html``.
Loaded and authorized through ``portal.access.staff.opportunities``: whoever sees the
opportunity sees its quotations; whoever may work it (not technicians) asks and copies.
"""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from admin.operations import attempt
from admin.sales.quotes.forms import CopyCostsForm, SupplierQuoteRequestForm
from portal.access.staff.opportunities import staff_may_work_opportunity, staff_opportunity
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import parse_id
from portal.domains.proposals.models import Proposal
from portal.domains.proposals.operations import load_proposal
from portal.domains.sales import supplier_quotes as service

bp = Blueprint("sales_quotes", __name__, url_prefix="/sales/opportunities")

NEW = "admin/sales/quotes/new.html"
COMPARE = "admin/sales/quotes/compare.html"


@bp.app_template_global()
def supplier_quote_requests(opportunity):
    """For the opportunity page's include: its requests, answered or not (3 statements)."""
    return service.requests_for(opportunity.id)


def _contact_choices() -> list[tuple[int, str]]:
    return [(c.id, f"{c.organization.name} · {c.full_name} <{c.email}>") for c in service.supplier_contacts()]


@bp.route("/<int:opportunity_id>/supplier-quotes/new", methods=["GET", "POST"])
def new(opportunity_id: int):
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    form = SupplierQuoteRequestForm()
    form.contact_ids.choices = _contact_choices()
    if request.method == "POST":
        if form.validate():
            sent = attempt(
                lambda: service.request_supplier_quotes(
                    opportunity, form.contact_ids.data or [], current_user, form.message.data or ""
                ),
                form,
                keep_refusal="contact_ids",
            )
            if sent.ok:
                flash(
                    _("Asked %(n)s supplier contacts for prices. The emails are in the outbox.", n=len(sent.value)),
                    "success",
                )
                return redirect_after_post(url_for(".compare", opportunity_id=opportunity_id))
        opportunity = staff_opportunity(current_user, opportunity_id, work=True)
        return render_page(NEW, status=422, opportunity=opportunity, form=form)
    return render_page(NEW, opportunity=opportunity, form=form)


def _proposals(opportunity_id: int) -> list[Proposal]:
    return list(
        db.session.scalars(
            select(Proposal)
            .where(Proposal.opportunity_id == opportunity_id)
            .order_by(Proposal.number.desc(), Proposal.revision.desc())
        )
    )


def _compare_page(opportunity, status: int = 200, form: CopyCostsForm | None = None, chosen=None, errors=None):
    proposals = _proposals(opportunity.id)
    if form is None:
        form = CopyCostsForm(formdata=None)
        form.proposal_id.data = proposals[0].id if proposals else 0
    form.proposal_id.choices = [(p.id, f"{p.label} · {p.title} ({p.currency})") for p in proposals]
    comparison = service.compare(opportunity)
    if chosen is None:
        chosen = {item.opportunity_line_id: item.cheapest_request_id for item in comparison.items}
    return render_page(
        COMPARE,
        status=status,
        opportunity=opportunity,
        comparison=comparison,
        form=form,
        chosen=chosen,
        choice_errors=errors or {},
        can_work=staff_may_work_opportunity(current_user, opportunity),
    )


@bp.get("/<int:opportunity_id>/supplier-quotes")
def compare(opportunity_id: int):
    return _compare_page(staff_opportunity(current_user, opportunity_id))


@bp.post("/<int:opportunity_id>/supplier-quotes/copy")
def copy(opportunity_id: int):
    opportunity = staff_opportunity(current_user, opportunity_id, work=True)
    form = CopyCostsForm()
    form.proposal_id.choices = [(p.id, p.label) for p in _proposals(opportunity_id)]
    chosen: dict[int, int] = {}
    for key, value in request.form.items():
        name, _sep, number = key.partition("_")
        line_id, request_id = parse_id(number), parse_id(value)
        if name == "choice" and line_id and request_id:
            chosen[line_id] = request_id
    proposal = None
    if form.validate():
        proposal = load_proposal(form.proposal_id.data) if form.proposal_id.data else None
        if proposal is None or proposal.opportunity_id != opportunity.id:
            form.proposal_id.errors = [*form.proposal_id.errors, _("Choose one of this opportunity's proposals.")]
            proposal = None
    if proposal is not None:
        copied = attempt(lambda: service.copy_costs_to_proposal(opportunity, proposal, chosen, current_user), form)
        if copied.ok:
            result = copied.value
            flash(
                _("Copied %(n)s supplier prices into %(label)s as line costs.", n=result.copied, label=proposal.label),
                "success",
            )
            if result.unmatched:
                flash(
                    _(
                        "No line of the proposal matches: %(items)s. Set those costs in the editor.",
                        items=", ".join(result.unmatched),
                    ),
                    "error",
                )
            return redirect_after_post(url_for("admin.proposals.show", proposal_id=proposal.id, _anchor="costs"))
        errors = {
            int(key.partition("_")[2]): message
            for key, message in (copied.error.errors.items() if copied.error else ())
            if key.startswith("choice_")
        }
        opportunity = staff_opportunity(current_user, opportunity_id, work=True)
        return _compare_page(opportunity, status=422, form=form, chosen=chosen, errors=errors)
    if not form.proposal_id.errors:
        form.proposal_id.errors = [_("Choose one of this opportunity's proposals.")]
    return _compare_page(opportunity, status=422, form=form, chosen=chosen)
