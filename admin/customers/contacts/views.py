"""Staff contact pages: the contacts of an organization, a search over all the contacts
one may see, create, edit (details, organization, primary, portal access), deactivate.

Every contact and organization is loaded through ``portal.access.staff``: what a staff
member may not see is a 404, and technicians only read (their POSTs are 404 too).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import joinedload

from admin.customers.contacts.forms import COMMON_TIMEZONES, LEVEL_HELP, LEVEL_LABELS, ContactEditForm, ContactForm
from admin.operations import attempt
from portal.access.staff import (
    staff_contact,
    staff_contacts_query,
    staff_may_edit_contacts,
    staff_organization,
    staff_organizations_query,
)
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.i18n import language_options
from portal.core.parsing import parse_id, parse_page, parse_text
from portal.core.queries.search import search_key
from portal.domains.customers import contacts as service
from portal.domains.customers.languages import contact_language
from portal.domains.customers.models import Contact, Organization

bp = Blueprint("contacts", __name__)

SHOW = "admin/contacts/show.html"
PAGE_SIZE = 50
# The organization select lists this many (of possibly 100,000) and searches for the rest.
ORGANIZATION_CHOICES = 50
ACCESS_ENDED = _l("Portal links of this contact were revoked and their open portal sessions end now.")


def _page() -> int:
    return parse_page(request.args.get("page"))


def _organization_pages() -> bool:
    # The organization pages live in their own blueprint; link to them when it is there.
    return "admin.organizations.show" in current_app.view_functions


def _list_context() -> dict:
    return {"level_labels": LEVEL_LABELS, "organization_pages": _organization_pages()}


def _form_context() -> dict:
    return {
        "timezones": COMMON_TIMEZONES,
        "level_help": LEVEL_HELP,
        "level_labels": LEVEL_LABELS,
        "organization_pages": _organization_pages(),
    }


def _with_languages(form: ContactForm, contact: Contact | None = None) -> ContactForm:
    form.preferred_language.choices = language_options(
        contact.preferred_language if contact is not None else None,
        _("None: the organization's default, else the browser's"),
    )
    return form


def _input(
    form: ContactForm, organization: Organization | None = None, contact: Contact | None = None
) -> service.ContactInput:
    # A form without the language field (an older page) leaves the preference as it was.
    if "preferred_language" in request.form or contact is None:
        language = form.preferred_language.data or ""
    else:
        language = contact.preferred_language or ""
    return service.ContactInput(
        preferred_language=language,
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
        title=form.title.data or "",
        timezone=form.timezone.data or "",
        is_primary=bool(form.is_primary.data),
        portal_enabled=bool(form.portal_enabled.data),
        portal_level=form.portal_level.data,
        organization=organization,
    )


def _editable_organization(organization_id: int) -> Organization:
    organization = staff_organization(current_user, organization_id)
    if not staff_may_edit_contacts(current_user, organization):
        abort(404)
    return organization


def _contact(contact_id: int) -> Contact:
    return staff_contact(current_user, contact_id, options=[joinedload(Contact.organization)])


def _editable_contact(contact_id: int) -> Contact:
    contact = _contact(contact_id)
    if not staff_may_edit_contacts(current_user, contact.organization):
        abort(404)
    return contact


# --- lists ---------------------------------------------------------------------------


@bp.get("/contacts/")
def index():
    """Every contact of the organizations this staff member may see; htmx search."""
    query = parse_text(request.args.get("q"))
    page = _page()
    rows, has_next = service.list_contacts(service.matching(staff_contacts_query(current_user), query), page, PAGE_SIZE)
    return render_page(
        "admin/contacts/index.html",
        block="results",
        rows=rows,
        q=query,
        page=page,
        has_next=has_next,
        **_list_context(),
    )


@bp.get("/organizations/<int:organization_id>/contacts")
def for_organization(organization_id: int):
    organization = staff_organization(current_user, organization_id)
    page = _page()
    stmt = staff_contacts_query(current_user).where(Contact.organization_id == organization.id)
    rows, has_next = service.list_contacts(stmt, page, PAGE_SIZE)
    return render_page(
        "admin/contacts/organization.html",
        block="results",
        organization=organization,
        rows=rows,
        page=page,
        has_next=has_next,
        may_edit=staff_may_edit_contacts(current_user, organization),
        **_list_context(),
    )


# --- create --------------------------------------------------------------------------


@bp.route("/organizations/<int:organization_id>/contacts/new", methods=["GET", "POST"])
def new(organization_id: int):
    organization = _editable_organization(organization_id)
    form = _with_languages(ContactForm())
    status = 200
    if request.method == "GET":
        form.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
        # The first contact is usually the one to talk to: suggest it, don't decide it.
        form.is_primary.data = not service.has_primary_contact(organization.id)
    elif form.validate():
        created = attempt(lambda: service.create_contact(organization, _input(form)), form, keep_refusal=True)
        status = created.status
        if created.ok:
            contact = created.value
            flash(
                _("%(name)s was added to %(organization)s.", name=contact.full_name, organization=organization.name),
                "success",
            )
            return redirect_after_post(url_for(".show", contact_id=contact.id))
    else:
        status = 422
    return render_page(
        "admin/contacts/new.html", status=status, form=form, organization=organization, **_form_context()
    )


# --- the contact page ----------------------------------------------------------------


def _organization_choices(contact: Contact, query: str, selected_id: int | None) -> list[tuple[int, str]]:
    """Organizations to move the contact to: the current (and chosen) one, then the
    first active ones the staff member may see, by name or matching ``query``."""
    base = staff_organizations_query(current_user).with_only_columns(Organization.id, Organization.name)
    stmt = base.where(Organization.is_active.is_(True)).order_by(Organization.name_key, Organization.id)
    key = search_key(query)
    if key:
        stmt = stmt.where(Organization.name_key.startswith(key, autoescape=True))
    rows = [(row.id, row.name) for row in db.session.execute(stmt.limit(ORGANIZATION_CHOICES))]
    listed = {row[0] for row in rows}
    keep = {i for i in (contact.organization_id, selected_id) if i and i not in listed}
    if keep:
        extra = db.session.execute(base.where(Organization.id.in_(keep)).order_by(Organization.name_key))
        rows = [(row.id, row.name) for row in extra] + rows
    return rows


def _show(contact: Contact, form: ContactEditForm | None = None, status: int = 200):
    may_edit = staff_may_edit_contacts(current_user, contact.organization)
    context = {"contact": contact, "may_edit": may_edit, "organization_choices": [], "org_q": "", **_form_context()}
    if may_edit:
        form = _with_languages(form or ContactEditForm(formdata=None, obj=contact), contact)
        org_q = (request.args.get("org_q") or "").strip()[:100]
        selected = form.organization_id.data if isinstance(form.organization_id.data, int) else None
        if "org_q" in request.args:  # a search keeps the organization picked so far (if visible: see below)
            selected = parse_id(request.args.get("organization_id")) or selected
        context.update(
            form=form,
            org_q=org_q,
            selected_organization_id=selected or contact.organization_id,
            organization_choices=_organization_choices(contact, org_q, selected),
        )
        if "org_q" in request.args and wants_partial():  # the organization search: just the options
            return render_page(SHOW, block="organization_options", **context)
    context["open_links"] = service.open_link_count(contact)
    context["language"] = contact_language(contact)
    return render_page(SHOW, status=status, **context)


@bp.get("/contacts/<int:contact_id>")
def show(contact_id: int):
    return _show(_contact(contact_id))


@bp.post("/contacts/<int:contact_id>")
def update(contact_id: int):
    contact = _editable_contact(contact_id)
    form = ContactEditForm()
    if form.validate():
        target = None
        if form.organization_id.data and form.organization_id.data != contact.organization_id:
            target = _editable_organization(form.organization_id.data)
        saved = attempt(
            lambda: service.update_contact(contact, _input(form, organization=target, contact=contact)), form
        )
        if saved.ok:
            ended = saved.value
            flash(_("Saved."), "success")
            if ended:
                flash(str(ACCESS_ENDED), "warning")
            return redirect_after_post(url_for(".show", contact_id=contact.id))
    return _show(_contact(contact_id), form=form, status=422)


@bp.post("/contacts/<int:contact_id>/deactivate")
def deactivate(contact_id: int):
    contact = _editable_contact(contact_id)
    if contact.is_active:
        was_primary = contact.is_primary
        service.deactivate_contact(contact)
        db.session.commit()
        flash(_("%(name)s was deactivated.", name=contact.full_name), "success")
        flash(str(ACCESS_ENDED), "warning")
        if was_primary:
            flash(
                _(
                    "They were the primary contact of %(organization)s: choose another one.",
                    organization=contact.organization.name,
                ),
                "warning",
            )
    return redirect_after_post(url_for(".show", contact_id=contact_id))


@bp.post("/contacts/<int:contact_id>/reactivate")
def reactivate(contact_id: int):
    contact = _editable_contact(contact_id)
    outcome = attempt(lambda: service.reactivate_contact(contact))
    if outcome.error is not None:
        flash(
            _(
                "%(problem)s Change this contact's email first, or deactivate the other contact.",
                problem=outcome.error.errors.get("email", str(outcome.error)),
            ),
            "error",
        )
        return _show(_contact(contact_id), status=409)
    flash(_("%(name)s is active again. Their earlier portal links stay revoked.", name=contact.full_name), "success")
    return redirect_after_post(url_for(".show", contact_id=contact_id))
