"""Cost and margin of a proposal's lines (staff only; never on the portal).

The proposal editor includes ``admin/sales/proposals/_costs.html`` inside its lines
block, so the margins follow every line edit. Saving costs posts here: all lines at
once, all or nothing; a bad figure comes back on its line with 422, with everything
typed kept. A cost is not content (``portal.domains.sales.costs``): a signed proposal
takes costs too.
"""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin.operations import attempt
from portal.access import staff_proposal
from portal.core.errors import InvalidInput
from portal.core.htmx import redirect_after_post, render_page
from portal.domains.sales import costs as service

bp = Blueprint("sales_costs", __name__, url_prefix="/sales/proposals")

PAGE = "admin/sales/proposals/costs.html"


@bp.app_template_global()
def proposal_costs(proposal):
    """For the editor's include: cost and margin per line and in total."""
    return service.proposal_costs(proposal)


def _page(proposal, status: int = 200, typed: dict | None = None, errors: dict | None = None):
    return render_page(
        PAGE,
        block="costs",
        status=status,
        proposal=proposal,
        cost_typed=typed or {},
        cost_errors=errors or {},
    )


@bp.get("/<int:proposal_id>/costs")
def show(proposal_id: int):
    return _page(staff_proposal(current_user, proposal_id))


@bp.post("/<int:proposal_id>/costs")
def save(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    typed = {line.id: (request.form.get(f"unit_cost_{line.id}") or "")[:40] for line in proposal.lines}
    errors: dict[int, str] = {}
    parsed = {}
    for line in proposal.lines:
        if f"unit_cost_{line.id}" not in request.form:
            continue  # a line added since the form was shown keeps its cost
        try:
            parsed[line.id] = service.parse_unit_cost(typed[line.id])
        except InvalidInput as error:
            errors[line.id] = error.errors.get("unit_cost", str(error))

    def save_all():
        for line in proposal.lines:
            if line.id in parsed:
                try:
                    service.set_line_cost(line, parsed[line.id], current_user)
                except InvalidInput as error:
                    errors[line.id] = error.errors.get("unit_cost", str(error))
        if errors:
            raise InvalidInput({"": _("Some costs need attention.")})

    if not errors and attempt(save_all).ok:
        flash(_("Costs saved."), "success")
        return redirect_after_post(url_for("admin.proposals.show", proposal_id=proposal_id, _anchor="costs"))
    return _page(staff_proposal(current_user, proposal_id), status=422, typed=typed, errors=errors)
