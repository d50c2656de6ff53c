"""An organization's properties (``sites``), in a section of the organization page: add
and deactivate; and each property's own page: its zone, notes and site contact, and
its contracts.

The section is ``admin/sites/_sites.html``, included by the organization page and by
this blueprint's own page (the list of an organization's sites, which is also where a
plain, script-less form with a mistake comes back with 422). htmx posts swap the
section in place. Who may see the organization sees its sites; who may edit it
(``staff_may_edit_organization``: not technicians) adds and deactivates them.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin.customers.sites.forms import PropertyForm, SiteForm
from admin.operations import attempt
from portal.access.staff import staff_may_edit_organization, staff_organization
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.domains.contracts import queries as contract_queries
from portal.domains.customers import sites as service
from portal.domains.customers.models import Contact, Organization, Site

bp = Blueprint("sites", __name__)

PAGE = "admin/sites/index.html"
SECTION = "admin/sites/_sites.html"
PROPERTY = "admin/sites/show.html"


def sites_context(organization: Organization, form: SiteForm | None = None) -> dict:
    """What the sites section needs (the organization page calls this too)."""
    return {
        "sites": service.organization_sites(organization.id),
        "site_form": form or SiteForm(formdata=None),
        "may_edit_sites": staff_may_edit_organization(current_user, organization),
    }


def _editable(organization_id: int) -> Organization:
    organization = staff_organization(current_user, organization_id)
    if not staff_may_edit_organization(current_user, organization):
        abort(404)
    return organization


def _answer(organization: Organization, form: SiteForm | None = None, status: int = 200, message: str = ""):
    """htmx: the section, swapped in place; a plain form: back to the organization
    page after a change, or this blueprint's page with the mistake (422)."""
    context = {"organization": organization, **sites_context(organization, form)}
    if wants_partial():
        return render_template(SECTION, **context), status
    if status >= 400:
        return render_page(PAGE, status=status, **context)
    flash(message, "success")
    return redirect_after_post(url_for("admin.organizations.show", organization_id=organization.id, _anchor="sites"))


@bp.get("/organizations/<int:organization_id>/sites")
def index(organization_id: int):
    organization = staff_organization(current_user, organization_id)
    return render_page(PAGE, organization=organization, **sites_context(organization))


@bp.post("/organizations/<int:organization_id>/sites")
def create(organization_id: int):
    organization = _editable(organization_id)
    form = SiteForm()
    added = attempt(lambda: service.add_site(organization, form.name.data, form.address.data), form, keep_refusal=True)
    if not added.ok:
        return _answer(_editable(organization_id), form, status=422)
    return _answer(organization, message=_("Property %(name)s added.", name=added.value.name))


@bp.post("/sites/<int:site_id>/deactivate")
def deactivate(site_id: int):
    site = db.session.get(Site, site_id)
    if site is None:
        abort(404)
    organization = _editable(site.organization_id)
    service.deactivate_site(site)
    db.session.commit()
    return _answer(
        organization, message=_("Property %(name)s deactivated: new tickets can no longer choose it.", name=site.name)
    )


def _site(site_id: int) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        abort(404)
    return site


def _property_page(site: Site, organization: Organization, form: PropertyForm | None = None, status: int = 200):
    if form is None:
        form = PropertyForm(formdata=None, obj=site)
        form.site_contact_id.data = site.site_contact_id or 0
    form.site_contact_id.choices = [(0, "—")] + service.site_contact_choices(organization.id)
    contact = db.session.get(Contact, site.site_contact_id) if site.site_contact_id else None
    return render_page(
        PROPERTY,
        block="property_form",
        status=status,
        site=site,
        organization=organization,
        site_contact=contact,
        form=form,
        contracts=contract_queries.contracts_of(site_id=site.id),
        may_edit=staff_may_edit_organization(current_user, organization) and site.is_active,
    )


@bp.get("/sites/<int:site_id>")
def show(site_id: int):
    """The property page: address, zone, notes, site contact, and its contracts."""
    site = _site(site_id)
    return _property_page(site, staff_organization(current_user, site.organization_id))


@bp.post("/sites/<int:site_id>")
def update(site_id: int):
    site = _site(site_id)
    organization = _editable(site.organization_id)
    form = PropertyForm()
    form.validate()
    # A contact id the select could not read goes on as no such contact (-1), so the
    # operation's one message says "choose" rather than the form's "Invalid choice".
    contact_id = -1 if form.site_contact_id.errors else form.site_contact_id.data or None
    form.site_contact_id.errors = []
    saved = attempt(
        lambda: service.update_site(
            site,
            form.name.data,
            form.address.data or "",
            form.zone.data or "",
            form.notes.data or "",
            contact_id,
        ),
        form,
        keep_refusal=True,
    )
    if not saved.ok:
        site = _site(site_id)
        return _property_page(site, organization, form, status=saved.status)
    flash(_("Property %(name)s saved.", name=site.name), "success")
    return redirect_after_post(url_for("admin.sites.show", site_id=site_id))
