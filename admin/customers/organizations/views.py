"""Staff organization pages: the list (search, sort, pages), create and edit (details,
parent, billing settings, account manager and team), deactivate, and the organization
page (tree, contacts and proposals with or without sub-organizations, onboarding).

Every organization is loaded or listed through ``portal.access.staff``: what a staff
member may not see is a 404, and so is what they may not change (technicians read).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields import SelectChoice

from admin.customers.organizations.forms import (
    INVOICE_TEMPLATE_LABELS,
    PORTAL_LEVEL_LABELS,
    TAX_REGION_LABELS,
    OrganizationForm,
)
from admin.customers.sites.views import sites_context
from admin.forms import attach_errors
from admin.operations import attempt
from portal.access.staff import (
    sees_everything,
    staff_may_create_organization,
    staff_may_edit_organization,
    staff_may_see_organization,
    staff_organization,
    staff_organizations_query,
    staff_proposals_query,
    staff_visible_organization_ids,
)
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.i18n import language_options
from portal.core.parsing import parse_id
from portal.domains.contracts import queries as contract_queries
from portal.domains.customers import organizations as service
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.queries import organization_proposal_counts, organization_proposals
from portal.domains.service_desk.models import Sla
from portal.domains.service_desk.sla import AppliedSla, applied_sla

bp = Blueprint("organizations", __name__, url_prefix="/organizations")

INDEX = "admin/organizations/index.html"
FORM = "admin/organizations/form.html"
SHOW = "admin/organizations/show.html"
STATUSES = ("active", "inactive", "all")
# The parent select lists this many (of possibly 100,000) and searches for the rest.
PARENT_CHOICES = 50
CONTACTS_SHOWN = 100
PROPOSALS_SHOWN = 50


# --- the list ------------------------------------------------------------------------


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.args.get(name) or default
    return value if value in allowed else default


@bp.get("/")
def index():
    """The organizations one may see; htmx asks for the results block as one types."""
    filters = {
        "q": (request.args.get("q") or "").strip()[:100],
        "status": _choice("status", STATUSES, "active"),
        "sort": _choice("sort", service.SORTS, "name"),
        "dir": _choice("dir", ("asc", "desc"), "asc"),
    }
    page = service.list_organizations(
        staff_organizations_query(current_user),
        filters["q"],
        filters["status"],
        filters["sort"],
        filters["dir"] == "desc",
        after=request.args.get("after"),
        before=request.args.get("before"),
    )
    # The Parent column names a parent only when its page would open for this user.
    visible_parents = staff_visible_organization_ids(current_user, {o.parent_id for o in page.organizations})
    return render_page(
        INDEX,
        block="results",
        page=page,
        filters=filters,
        visible_parents=visible_parents,
        may_create=staff_may_create_organization(current_user),
    )


# --- create and edit -----------------------------------------------------------------


def _editable(organization_id: int, *options) -> Organization:
    organization = staff_organization(current_user, organization_id, options=options)
    if not staff_may_edit_organization(current_user, organization):
        abort(404)
    return organization


def _staff_choices(organization: Organization | None) -> list[tuple[int, str]]:
    """Enabled staff by name, plus anyone disabled since who still holds a place here."""
    keep = set()
    if organization is not None:
        keep = {user.id for user in organization.team}
        if organization.account_manager_id:
            keep.add(organization.account_manager_id)
    stmt = (
        select(StaffUser)
        .where(StaffUser.is_enabled.is_(True) | StaffUser.id.in_(keep))
        .order_by(StaffUser.name, StaffUser.id)
    )
    return [
        (user.id, user.name if user.is_enabled else _("%(name)s (disabled)", name=user.name))
        for user in db.session.scalars(stmt)
    ]


def _parent_choices(organization: Organization | None, query: str, selected: int | None) -> list[tuple[int, str]]:
    """Parents to choose from: none, the current and chosen ones, then the first visible
    active organizations by name (or matching ``query``), never the organization itself
    or one below it (the service refuses those too)."""
    visible = staff_organizations_query(current_user)
    exclude = service.subtree_query(organization.id) if organization is not None else None
    rows = service.choose_organizations(visible, query, exclude=exclude, limit=PARENT_CHOICES)
    listed = {row[0] for row in rows}
    keep = {i for i in (organization.parent_id if organization else None, selected) if i and i not in listed}
    extra = []
    if keep:
        found = dict(
            db.session.execute(
                visible.with_only_columns(Organization.id, Organization.name).where(Organization.id.in_(keep))
            ).all()
        )
        for i in sorted(keep):
            if i in found:
                extra.append((i, found[i]))
            elif organization is not None and i == organization.parent_id:
                # The parent is someone else's customer: keep it without naming it.
                extra.append((i, _("The current parent (not visible to you)")))
    return [(0, _("None: a top-level organization"))] + extra + rows


def _form_page(form: OrganizationForm, organization: Organization | None, status: int = 200):
    parent_q = (request.args.get("parent_q") or "").strip()[:100]
    selected = form.parent_id.data if isinstance(form.parent_id.data, int) else None
    if organization is not None and request.method == "GET" and selected is None:
        selected = organization.parent_id
    context = {
        "form": form,
        "organization": organization,
        "parent_q": parent_q,
        "parent_choices": _parent_choices(organization, parent_q, selected),
        "selected_parent_id": selected or 0,
    }
    if "parent_q" in request.args and wants_partial():  # the parent search: just the options
        return render_page(FORM, block="parent_options", **context)
    return render_page(FORM, block="organization_form", status=status, **context)


def _load_parent(form: OrganizationForm, organization: Organization | None) -> tuple[Organization | None, bool]:
    """The chosen parent through the access module; (None, False) and a field error for
    one the staff member may not see (the same message as for one that does not exist).
    The current parent stays allowed even when someone else's customer."""
    parent_id = form.parent_id.data or 0
    if not parent_id:
        return None, True
    parent = db.session.get(Organization, parent_id)
    unchanged = organization is not None and parent_id == organization.parent_id
    if parent is None or not (unchanged or staff_may_see_organization(current_user, parent_id)):
        form.parent_id.errors = [*form.parent_id.errors, _("Choose a parent organization from the list.")]
        return None, False
    return parent, True


def _input(
    form: OrganizationForm, parent: Organization | None, organization: Organization | None = None
) -> service.OrganizationInput:
    manager = db.session.get(StaffUser, form.account_manager_id.data) if form.account_manager_id.data else None
    return service.OrganizationInput(
        name=form.name.data or "",
        city=form.city.data or "",
        zone=form.zone.data or "",
        parent=parent,
        bill_to_parent=bool(form.bill_to_parent.data),
        invoice_template=form.invoice_template.data,
        tax_region=form.tax_region.data,
        tax_id=form.tax_id.data or "",
        billing_address=form.billing_address.data or "",
        billing_attention=form.billing_attention.data or "",
        billing_reviewed=bool(form.billing_reviewed.data),
        account_manager=manager,
        # A form without the SLA field (an older page) leaves the SLA as it was.
        sla_id=(form.sla_id.data or None)
        if "sla_id" in request.form
        else (organization.sla_id if organization is not None else None),
        is_supplier=bool(form.is_supplier.data),
        default_language=(form.default_language.data or "")
        if "default_language" in request.form
        else ((organization.default_language or "") if organization is not None else ""),
    )


def _save(form: OrganizationForm, organization: Organization | None) -> Organization | None:
    """Validate and save through the service (``organization`` None: create); the
    organization, committed, or None with the messages on ``form`` (nothing written)."""
    creating = organization is None
    valid = form.validate()
    parent, parent_ok = _load_parent(form, organization)
    if not (valid and parent_ok):
        # Run the rules anyway, so that every broken one shows at once.
        errors = service.organization_errors(_input(form, parent, organization), organization)
        if not parent_ok:
            errors.pop("bill_to_parent", None)
        attach_errors(form, InvalidInput({k: v for k, v in errors.items() if not getattr(form, k).errors}))
        return None
    data = _input(form, parent, organization)
    team = set(form.team_ids.data or [])

    def save() -> Organization:
        saved = organization
        if creating:
            saved = service.create_organization(data)
            manages = data.account_manager is not None and data.account_manager.id == current_user.id
            if not sees_everything(current_user) and current_user.id not in team and not manages:
                # Whoever adds a customer can see it afterwards: they join its account team.
                team.add(current_user.id)
        else:
            service.update_organization(saved, data)
        service.set_account_team(saved, team)
        return saved

    return attempt(save, form).value


def _sla_choices() -> list[SelectChoice]:
    """Inherit, then the shared SLAs, then the custom ones (each group by name)."""
    shared, custom = _("Shared SLAs"), _("Custom SLAs")
    slas = db.session.execute(
        select(Sla.id, Sla.name, Sla.is_shared, Sla.is_default).order_by(Sla.is_shared.desc(), Sla.name)
    )
    return [SelectChoice(0, _("Inherit (parent's, else the default)"))] + [
        SelectChoice(
            sla_id, _("%(name)s (default)", name=name) if is_default else name, optgroup=shared if is_shared else custom
        )
        for sla_id, name, is_shared, is_default in slas
    ]


def _with_staff_choices(form: OrganizationForm, organization: Organization | None) -> OrganizationForm:
    staff = _staff_choices(organization)
    form.account_manager_id.choices = [(0, _("None"))] + staff
    form.team_ids.choices = staff
    form.sla_id.choices = _sla_choices()
    form.default_language.choices = language_options(
        organization.default_language if organization is not None else None,
        _("None: each contact's browser decides, else the instance default"),
    )
    return form


@bp.route("/new", methods=["GET", "POST"])
def new():
    if not staff_may_create_organization(current_user):
        abort(404)
    form = _with_staff_choices(OrganizationForm(), None)
    if request.method == "GET":
        form.parent_id.data = parse_id(request.args.get("parent")) or 0
        if not sees_everything(current_user):
            form.team_ids.data = [current_user.id]
        return _form_page(form, None)
    organization = _save(form, None)
    if organization is None:
        return _form_page(form, None, status=422)
    flash(_("%(name)s was added.", name=organization.name), "success")
    return redirect_after_post(url_for(".show", organization_id=organization.id))


@bp.route("/<int:organization_id>/edit", methods=["GET", "POST"])
def edit(organization_id: int):
    organization = _editable(organization_id, selectinload(Organization.team))
    if request.method == "GET":
        form = _with_staff_choices(OrganizationForm(formdata=None, obj=organization), organization)
        form.parent_id.data = organization.parent_id or 0
        form.account_manager_id.data = organization.account_manager_id or 0
        form.team_ids.data = [user.id for user in organization.team]
        form.billing_reviewed.data = organization.billing_reviewed_at is not None
        form.sla_id.data = organization.sla_id or 0
        form.default_language.data = organization.default_language or ""
        return _form_page(form, organization)
    form = _with_staff_choices(OrganizationForm(), organization)
    if _save(form, organization) is None:
        # Reloaded: a rollback expired it (and the form keeps what was typed).
        organization = _editable(organization_id, selectinload(Organization.team))
        return _form_page(form, organization, status=422)
    flash(_("Saved."), "success")
    if not staff_may_see_organization(current_user, organization_id):
        # They took themselves off the team: the organization left their list.
        flash(_("You are no longer on its account team, so it is no longer in your list."), "success")
        return redirect_after_post(url_for(".index"))
    return redirect_after_post(url_for(".show", organization_id=organization_id))


@bp.post("/<int:organization_id>/deactivate")
def deactivate(organization_id: int):
    organization = _editable(organization_id)
    service.deactivate_organization(organization)
    db.session.commit()
    flash(
        _("%(name)s is inactive: it leaves the default list and takes no new contacts.", name=organization.name),
        "success",
    )
    return redirect_after_post(url_for(".show", organization_id=organization_id))


@bp.post("/<int:organization_id>/reactivate")
def reactivate(organization_id: int):
    organization = _editable(organization_id)
    service.reactivate_organization(organization)
    db.session.commit()
    flash(_("%(name)s is active again.", name=organization.name), "success")
    return redirect_after_post(url_for(".show", organization_id=organization_id))


# --- the organization page -------------------------------------------------------------


@dataclass
class ChecklistItem:
    label: str
    done: bool
    url: str | None
    note: str = ""


def _contacts_url(organization: Organization) -> str:
    # The contact pages are their own blueprint; until it is registered, the list below.
    if "admin.contacts.for_organization" in current_app.view_functions:
        return url_for("admin.contacts.for_organization", organization_id=organization.id)
    return url_for(".show", organization_id=organization.id, _anchor="contacts")


def _checklist(organization: Organization, may_edit: bool) -> list[ChecklistItem]:
    facts = service.onboarding(organization, applied_sla(organization))
    edit_url = url_for(".edit", organization_id=organization.id) if may_edit else None
    contacts = _contacts_url(organization)
    return [
        ChecklistItem(
            _("Account team set"),
            facts.account_team,
            edit_url and f"{edit_url}#team",
            _("An account manager or at least one team member."),
        ),
        ChecklistItem(
            _("Primary contact chosen"),
            facts.primary_contact,
            contacts,
            _("The default recipient of notifications after the sale."),
        ),
        ChecklistItem(
            _("Portal enabled for a contact"),
            facts.portal_contact,
            contacts,
            _("At least one active contact can use the customer portal."),
        ),
        ChecklistItem(
            _("Billing settings reviewed"),
            facts.billing_reviewed,
            edit_url and f"{edit_url}#billing",
            _('Tick "Billing settings reviewed" on the edit page once they are right.'),
        ),
        ChecklistItem(_("SLA chosen"), facts.sla_chosen, edit_url and f"{edit_url}#sla", _sla_note(facts.sla)),
    ]


def _sla_note(applied: AppliedSla) -> str:
    """Which SLA the organization's tickets run on, and why."""
    if applied.source == "here":
        return _("%(sla)s, chosen for this organization.", sla=applied.sla_name)
    if applied.source == "inherited":
        if staff_may_see_organization(current_user, applied.from_id):
            return _("%(sla)s, inherited from %(parent)s.", sla=applied.sla_name, parent=applied.from_name)
        return _("%(sla)s, inherited from a parent organization.", sla=applied.sla_name)
    if applied.source == "default":
        return _("None chosen: tickets use the default SLA, %(sla)s.", sla=applied.sla_name)
    return _("None chosen and there is no default SLA: tickets get no due times.")


@bp.get("/<int:organization_id>")
def show(organization_id: int):
    organization = staff_organization(
        current_user,
        organization_id,
        options=[joinedload(Organization.account_manager), selectinload(Organization.team)],
    )
    include_subs = request.args.get("subs") == "1"
    visible = staff_organizations_query(current_user)
    proposals = staff_proposals_query(current_user)
    subtree = service.visible_subtree(organization, visible)
    scope = subtree if include_subs else [organization.id]
    context = {
        "organization": organization,
        "include_subs": include_subs,
        "contact_counts": service.contact_counts(organization, subtree),
        "proposal_counts": organization_proposal_counts(organization.id, subtree, proposals),
        "contacts": service.organization_contacts(scope, CONTACTS_SHOWN),
        "proposals": organization_proposals(scope, proposals, PROPOSALS_SHOWN),
        "contacts_shown": CONTACTS_SHOWN,
        "proposals_shown": PROPOSALS_SHOWN,
        "level_labels": PORTAL_LEVEL_LABELS,
        "contact_pages": "admin.contacts.show" in current_app.view_functions,
    }
    if wants_partial():  # the sub-organization switch: contacts and proposals only
        return render_page(SHOW, block="related", **context)
    may_edit = staff_may_edit_organization(current_user, organization)
    return render_page(
        SHOW,
        **context,
        may_edit=may_edit,
        tree=service.organization_tree(organization, visible),
        checklist=_checklist(organization, may_edit),
        contacts_url=_contacts_url(organization),
        invoice_templates=INVOICE_TEMPLATE_LABELS,
        tax_regions=TAX_REGION_LABELS,
        **sites_context(organization),
        contracts=contract_queries.contracts_of(organization_id=organization.id),
    )
