"""The Optional Service Opportunity screen and the campaign pages (/admin/campaigns/).

Admins and managers only (``portal.access.staff.campaigns``); everyone else gets a
404. Thin views: read the form, call ``portal.domains.campaigns`` (operations through
``attempt``: one commit, bad input 422 on the form, refusals 409 by the shared
handler), render one template per page with its blocks for htmx.

- ``new``: GET shows the form and the preview for the filters in the query string (an
  htmx change of any field swaps the ``preview`` block); POST runs (303 to the
  campaign, or the form again with 422).
- ``show``: the campaign's summary, results and items; ``progress`` is the block the
  page polls (every 2 s while the run goes on; the done block has no trigger, so the
  polling stops by itself); ``?state=&after=`` swaps the ``items`` block.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from admin.campaigns.forms import CampaignForm, RerunForm
from admin.forms import attach_errors
from admin.operations import attempt
from admin.sales.reports.charts import bar_chart
from portal.access.staff.campaigns import staff_may_run_campaigns
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.parsing import parse_id
from portal.domains.campaigns import operations as service
from portal.domains.campaigns import queries
from portal.domains.campaigns.preview import offered_services, preview
from portal.domains.contracts.models import Contract, ContractStatus
from portal.domains.customers.models import Organization
from portal.domains.proposals.models import CatalogItem
from portal.domains.sales.rules import sales_staff

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

INDEX = "admin/campaigns/index.html"
NEW = "admin/campaigns/new.html"
SHOW = "admin/campaigns/show.html"
# Dates outside these years are typos (1900, 20277), not a contract's end.
YEARS = (2000, 2100)
MAX_ORGANIZATION_CHOICES = 500


@bp.before_request
def only_admins_and_managers():
    if not staff_may_run_campaigns(current_user):
        abort(404)


def _get(campaign_id: int):
    campaign = queries.load_campaign(campaign_id)
    if campaign is None:
        abort(404)
    return campaign


# --- the screen ----------------------------------------------------------------------


def _choices(form: CampaignForm) -> None:
    offered = offered_services()
    listed = {service_id for service_id, _name, _n in offered}
    others = db.session.execute(
        select(CatalogItem.id, CatalogItem.name).where(CatalogItem.is_active).order_by(CatalogItem.name)
    ).all()
    form.service_id.choices = (
        [(0, _("Choose a service"))]
        + [(i, _("%(name)s (%(n)s contracts)", name=name, n=n)) for i, name, n in offered]
        + [(i, _("%(name)s (no contract offers it)", name=name)) for i, name in others if i not in listed]
    )
    # Organizations with an active contract, and their parents (for "with sub-organizations").
    with_contracts = select(Contract.organization_id).where(Contract.status == ContractStatus.ACTIVE)
    parents = select(Organization.parent_id).where(Organization.id.in_(with_contracts))
    organizations = db.session.execute(
        select(Organization.id, Organization.name)
        .where(Organization.id.in_(with_contracts) | Organization.id.in_(parents))
        .order_by(Organization.name_key, Organization.id)
        .limit(MAX_ORGANIZATION_CHOICES)
    ).all()
    form.organization_id.choices = [(0, _("Any organization"))] + [(i, name) for i, name in organizations]
    form.rep_id.choices = [(0, _("Any sales rep"))] + [(u.id, u.name) for u in sales_staff()]


def _sane(field) -> tuple[date | None, bool]:
    if field.errors:
        return None, True
    value = field.data
    if value is not None and not YEARS[0] <= value.year <= YEARS[1]:
        return None, True
    return value, False


def _input(form: CampaignForm) -> service.CampaignInput:
    def picked(field):
        return None if field.errors or not field.data else field.data

    ends_from, from_invalid = _sane(form.ends_from)
    ends_to, to_invalid = _sane(form.ends_to)
    return service.CampaignInput(
        name=form.name.data or "",
        service_id=picked(form.service_id),
        zone=form.zone.data or "",
        organization_id=picked(form.organization_id),
        include_sub_organizations=bool(form.include_sub_organizations.data),
        rep_id=picked(form.rep_id),
        ends_from=ends_from,
        ends_to=ends_to,
        ends_from_invalid=from_invalid,
        ends_to_invalid=to_invalid,
    )


def _preview_of(form: CampaignForm):
    """The preview for the form's filters, or None (no service yet, or a bad filter:
    its message is on the form)."""
    data = _input(form)
    if data.service_id is None:
        return None
    try:
        filters = service.clean_filters(data)
    except InvalidInput as error:
        attach_errors(form, error)
        return None
    return preview(filters, after=parse_id(request.args.get("after")))


def _screen(form: CampaignForm, status: int = 200, block: str | None = "preview"):
    _choices(form)
    found = _preview_of(form)
    return render_page(NEW, block=block, status=status, form=form, found=found, query=_query(form))


def _query(form: CampaignForm) -> dict:
    """The filters as query-string values (the preview's next-page link keeps them)."""
    values = {
        "service_id": form.service_id.data or "",
        "zone": form.zone.data or "",
        "organization_id": form.organization_id.data or "",
        "rep_id": form.rep_id.data or "",
        "ends_from": form.ends_from.raw_data[0] if form.ends_from.raw_data else "",
        "ends_to": form.ends_to.raw_data[0] if form.ends_to.raw_data else "",
    }
    if form.include_sub_organizations.data:
        values["include_sub_organizations"] = "y"
    return {key: value for key, value in values.items() if value not in ("", None, 0)}


@bp.get("/new")
def new():
    form = CampaignForm(request.args if request.args else None, meta={"csrf": False})
    if request.args:
        form.validate()
        # The name is only checked on Run; a preview never complains about it.
        form.name.errors = []
    status = 422 if any(f.errors for f in form if f.name != "name") else 200
    return _screen(form, status=status)


@bp.post("/new")
def run():
    form = CampaignForm()
    if not form.validate():
        return _screen(form, status=422, block="form")
    started = attempt(lambda: service.start_campaign(current_user, _input(form)), form)
    if not started.ok:
        return _screen(form, status=started.status, block="form")
    flash(_("Campaign “%(name)s” is running; you may close this page.", name=started.value.name), "success")
    return redirect_after_post(url_for(".show", campaign_id=started.value.id))


# --- the campaigns -------------------------------------------------------------------


@bp.get("/")
def index():
    campaigns, next_before = queries.list_campaigns(before=parse_id(request.args.get("before")))
    return render_page(INDEX, block="campaigns", campaigns=campaigns, next_before=next_before)


def _state_filter() -> str | None:
    state = request.args.get("state") or None
    return state if state in queries.State.FILTERS else None


def _funnel(results: queries.Results):
    labels = {
        "made": _("Opportunities made"),
        "delivered": _("Proposal delivered"),
        "signed": _("Signed"),
        "won": _("Won"),
    }
    return bar_chart(_("Funnel"), [(labels[key], [count]) for key, count in results.funnel], [_("Opportunities")])


STATE_LABELS = {
    queries.State.OPEN: _l("Open"),
    queries.State.DELIVERED: _l("Proposal delivered"),
    queries.State.SIGNED: _l("Signed"),
    queries.State.WON: _l("Won"),
    queries.State.LOST: _l("Lost"),
    queries.State.NO_REPLY: _l("No reply"),
    "skipped": _l("Skipped"),
    "failed": _l("Failed"),
    "pending": _l("Not yet made"),
}


def _state_labels() -> dict[str, str]:
    return {key: str(label) for key, label in STATE_LABELS.items()}


def _show(campaign, block: str | None = None, status: int = 200):
    state = _state_filter()
    rows, next_after = queries.item_page(campaign, state=state, after=parse_id(request.args.get("after")))
    results = queries.results(campaign)
    return render_page(
        SHOW,
        block=block,
        status=status,
        campaign=campaign,
        progress=queries.progress(campaign),
        time_left=queries.time_left_text,
        results=results,
        funnel=_funnel(results),
        rows=rows,
        next_after=next_after,
        state=state,
        state_labels=_state_labels(),
        rerun_form=RerunForm(formdata=None, run=str(campaign.run_count)),
    )


@bp.get("/<int:campaign_id>")
def show(campaign_id: int):
    return _show(_get(campaign_id), block="items")


@bp.get("/<int:campaign_id>/progress")
def progress(campaign_id: int):
    """The polled block; once done, it also tells the page (``HX-Trigger``) to reload
    the items list, which was empty while the run had not enumerated them yet."""
    campaign = _get(campaign_id)
    response = _show(campaign, block="progress")
    if campaign.is_done and wants_partial():
        response.headers["HX-Trigger"] = "campaign-done"
    return response


@bp.post("/<int:campaign_id>/rerun")
def rerun(campaign_id: int):
    campaign = _get(campaign_id)
    seen = parse_id(request.form.get("run"))
    if seen is None:
        flash(_("Reload the page and press Run again once more."), "error")
        return _show(campaign, status=422)
    done = attempt(lambda: service.rerun_campaign(current_user, campaign, seen))
    if done.ok and done.value:
        flash(_("Running again: new qualifying contracts and failed ones are tried; made ones stay."), "success")
    elif done.ok:
        flash(_("This campaign was already run again; here is where it stands."), "info")
    return redirect_after_post(url_for(".show", campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/deliver")
def deliver(campaign_id: int):
    campaign = _get(campaign_id)
    done = attempt(lambda: service.request_delivery(current_user, campaign))
    if done.value:
        flash(_("Delivering every draft proposal of the campaign, one mail each."), "success")
    else:
        flash(_("Delivery was already asked for; the proposals go out once."), "info")
    return redirect_after_post(url_for(".show", campaign_id=campaign_id))
