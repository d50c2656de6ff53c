"""Staff proposal pages: list, build, deliver, decide, revise, inspect the signature."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from admin.copied_links import copied_link_page
from admin.operations import attempt, handle_refusals
from admin.proposals.editor.forms import DeliverForm, LineForm, LostForm, ProposalCreateForm, ProposalHeaderForm
from portal.access import staff_proposal, staff_proposals_query
from portal.access.staff import organization_filter, staff_may_sell
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import parse_id
from portal.domains.customers.models import Contact
from portal.domains.identity import links as link_service
from portal.domains.identity.models import PortalLink
from portal.domains.proposals import operations as service
from portal.domains.proposals import queries
from portal.domains.proposals.models import CatalogItem, Proposal
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import events_for

bp = Blueprint("proposals", __name__, url_prefix="/proposals")

EDITOR = "admin/proposals/show.html"


@bp.get("/")
def index():
    status = request.args.get("status") or None
    if status not in (None, *queries.STATUS_FILTERS):
        status = None
    after = request.args.get("after") or None
    page = queries.list_proposals(staff_proposals_query(current_user), status, after)
    # the filter is ``status_filter``: ``status`` is render_page's HTTP status
    return render_page(
        "admin/proposals/index.html",
        block="results",
        rows=page.rows,
        can_sell=staff_may_sell(current_user),
        status_filter=status,
        after=after,
        next_cursor=page.next_cursor,
        statuses=queries.STATUS_FILTERS,
    )


def _contact_choices(organization_id: int | None = None) -> list[tuple[int, str]]:
    """Active portal contacts of the organizations this staff member may see."""
    stmt = (
        select(Contact)
        .options(joinedload(Contact.organization))
        .where(
            Contact.is_active.is_(True),
            Contact.portal_enabled.is_(True),
            organization_filter(current_user, Contact.organization_id),
        )
    )
    if organization_id is not None:
        stmt = stmt.where(Contact.organization_id == organization_id)
    contacts = db.session.scalars(stmt.order_by(Contact.last_name, Contact.first_name)).all()
    return [(c.id, f"{c.full_name} <{c.email}> · {c.organization.name}") for c in contacts]


@bp.route("/new", methods=["GET", "POST"])
def new():
    if not staff_may_sell(current_user):
        abort(404)
    form = ProposalCreateForm()
    form.contact_id.choices = [(0, "—")] + _contact_choices()
    organization_id = parse_id(request.args.get("organization_id"))
    if request.method == "GET" and organization_id:
        # Started from an organization: address it to its primary contact by default.
        form.contact_id.data = db.session.scalar(
            select(Contact.id).where(
                Contact.organization_id == organization_id, Contact.is_primary.is_(True), Contact.is_active.is_(True)
            )
        )
    if form.validate_on_submit():
        contact = db.session.get(Contact, form.contact_id.data)
        if contact is None or not contact.is_active:
            form.contact_id.errors.append(_("Choose a contact."))
        else:
            created = attempt(
                lambda: service.create_proposal(
                    current_user, contact, form.title.data, form.currency.data, form.terms.data or ""
                ),
                form,
            )
            if created.ok:
                return redirect_after_post(url_for(".show", proposal_id=created.value.id))
    status = 422 if request.method == "POST" else 200
    return render_page("admin/proposals/new.html", status=status, form=form)


def _catalog_items() -> list[CatalogItem]:
    return list(
        db.session.scalars(select(CatalogItem).where(CatalogItem.is_active.is_(True)).order_by(CatalogItem.name))
    )


def _catalog_choices(items: list[CatalogItem] | None = None) -> list[tuple[int, str]]:
    items = _catalog_items() if items is None else items
    return [(0, _("Free text"))] + [(i.id, f"{i.name} ({i.unit_price} {i.currency})") for i in items]


def _line_form(line=None, formdata=None, catalog=None) -> LineForm:
    form = LineForm(formdata=formdata, obj=line) if formdata is not None else LineForm(formdata=None, obj=line)
    form.catalog_item_id.choices = catalog
    if line is not None and formdata is None:
        form.catalog_item_id.data = line.catalog_item_id or 0
    return form


def _editor(proposal: Proposal, status: int = 200, block: str | None = None, line_errors: dict | None = None, **forms):
    items = _catalog_items()
    catalog = _catalog_choices(items)
    line_forms = {line.id: _line_form(line, catalog=catalog) for line in proposal.lines}
    line_forms.update(forms.pop("line_forms", {}))
    for form in line_forms.values():
        form.catalog_item_id.choices = catalog
    new_line = forms.pop("new_line", None) or _line_form(catalog=catalog)
    new_line.catalog_item_id.choices = catalog
    # The chosen catalog service, shown (description and list price) before it is added.
    preview = next((item for item in items if item.id == new_line.catalog_item_id.data), None)
    header = forms.pop("header", None) or ProposalHeaderForm(formdata=None, obj=proposal)
    deliver = forms.pop("deliver", None) or DeliverForm(formdata=None, contact_id=proposal.contact_id)
    deliver.contact_id.choices = _contact_choices(proposal.organization_id)
    lost = forms.pop("lost", None) or LostForm(formdata=None)
    events = events_for(Subject.PROPOSAL, proposal.id)
    revisions = db.session.execute(
        select(Proposal.id, Proposal.revision, Proposal.status, Proposal.lost_reason, Proposal.signed_at)
        .where(Proposal.number == proposal.number)
        .order_by(Proposal.revision)
    ).all()
    return render_page(
        EDITOR,
        block=block,
        status=status,
        proposal=proposal,
        totals=service.totals_of(proposal),
        line_forms=line_forms,
        new_line=new_line,
        preview=preview,
        header=header,
        deliver=deliver,
        lost=lost,
        links=link_service.links_for_target("proposal", proposal.id),
        events=events,
        revisions=revisions,
        line_errors=line_errors or {},
        can_edit=staff_may_sell(current_user),
    )


@bp.get("/<int:proposal_id>")
def show(proposal_id: int):
    return _editor(staff_proposal(current_user, proposal_id))


@bp.get("/<int:proposal_id>/catalog-preview")
def catalog_preview(proposal_id: int):
    """The new-line form's preview of a catalog service: the block for htmx, else the
    editor with that service chosen."""
    proposal = staff_proposal(current_user, proposal_id)
    new_line = _line_form(catalog=[])
    new_line.catalog_item_id.data = request.args.get("catalog_item_id", 0, type=int)
    return _editor(proposal, block="catalog_preview", new_line=new_line)


def _line_input(form: LineForm) -> service.LineInput:
    return service.LineInput(
        description=form.description.data or "",
        quantity=form.quantity.data,
        unit_price=form.unit_price.data,
        is_optional=bool(form.is_optional.data),
        position=form.position.data,
        catalog_item_id=form.catalog_item_id.data or None,
    )


def _save_line(proposal: Proposal, line=None):
    catalog = _catalog_choices()
    form = _line_form(formdata=request.form, catalog=catalog)
    key = line.id if line else "new"
    if form.validate():
        if line is None:
            saved = attempt(lambda: service.add_line(proposal, _line_input(form)), form)
        else:
            saved = attempt(lambda: service.update_line(proposal, line, _line_input(form)), form)
        if saved.ok:
            if request.htmx:
                return _editor(staff_proposal(current_user, proposal.id), block="lines")
            return redirect_after_post(url_for(".show", proposal_id=proposal.id, _anchor="lines"))
    proposal = staff_proposal(current_user, proposal.id)
    forms = {"new_line": form} if line is None else {"line_forms": {line.id: form}}
    return _editor(proposal, status=422, block="lines", line_errors={key: True}, **forms)


def _refused(error: DomainError):
    """A refusal on a proposal's page: its editor again, the message flashed, 409."""
    proposal = staff_proposal(current_user, request.view_args["proposal_id"])
    flash(str(error), "error")
    return _editor(proposal, status=409)


handle_refusals(bp, _refused)


@bp.post("/<int:proposal_id>/lines")
def add_line(proposal_id: int):
    return _save_line(staff_proposal(current_user, proposal_id, edit=True))


def _line_of(proposal: Proposal, line_id: int):
    line = next((line for line in proposal.lines if line.id == line_id), None)
    if line is None:
        abort(404)
    return line


@bp.post("/<int:proposal_id>/lines/<int:line_id>")
def update_line(proposal_id: int, line_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    return _save_line(proposal, _line_of(proposal, line_id))


@bp.post("/<int:proposal_id>/lines/<int:line_id>/delete")
def delete_line(proposal_id: int, line_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    attempt(lambda: service.remove_line(proposal, _line_of(proposal, line_id)))
    if request.htmx:
        return _editor(staff_proposal(current_user, proposal_id), block="lines")
    return redirect_after_post(url_for(".show", proposal_id=proposal_id, _anchor="lines"))


@bp.post("/<int:proposal_id>/header")
def update_header(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    form = ProposalHeaderForm()
    if form.validate():
        saved = attempt(
            lambda: service.update_header(
                proposal, form.title.data, form.terms.data or "", form.internal_notes.data or ""
            ),
            form,
        )
        if saved.ok:
            flash(_("Saved."), "success")
            return redirect_after_post(url_for(".show", proposal_id=proposal_id))
    return _editor(staff_proposal(current_user, proposal_id), status=422, header=form)


@bp.post("/<int:proposal_id>/deliver")
def deliver(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    form = DeliverForm()
    form.contact_id.choices = _contact_choices(proposal.organization_id)
    if not form.validate():
        return _editor(proposal, status=422, deliver=form)
    contact = db.session.get(Contact, form.contact_id.data)
    if not attempt(lambda: service.deliver_proposal(proposal, current_user, contact), form).ok:
        return _editor(staff_proposal(current_user, proposal_id), status=422, deliver=form)
    flash(_("Delivered to %(email)s. The email is in the outbox.", email=contact.email), "success")
    return redirect_after_post(url_for(".show", proposal_id=proposal_id))


@bp.post("/<int:proposal_id>/won")
def mark_won(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    attempt(lambda: service.mark_won(proposal, current_user))
    flash(_("Marked won."), "success")
    return redirect_after_post(url_for(".show", proposal_id=proposal_id))


@bp.post("/<int:proposal_id>/lost")
def mark_lost(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    form = LostForm()
    if not form.validate():
        return _editor(proposal, status=422, lost=form)
    marked = attempt(
        lambda: service.mark_lost(proposal, current_user, form.reason.data, form.competitor.data, form.detail.data),
        form,
    )
    if not marked.ok:
        return _editor(staff_proposal(current_user, proposal_id), status=422, lost=form)
    flash(_("Marked lost."), "success")
    return redirect_after_post(url_for(".show", proposal_id=proposal_id))


@bp.post("/<int:proposal_id>/revise")
def revise(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    revision = attempt(lambda: service.create_revision(proposal, current_user)).value
    flash(
        _("Revision %(n)s created as a draft. Edit it, then deliver it for signature.", n=revision.revision), "success"
    )
    return redirect_after_post(url_for(".show", proposal_id=revision.id))


@bp.post("/<int:proposal_id>/links/<int:link_id>/revoke")
def revoke_link(proposal_id: int, link_id: int):
    staff_proposal(current_user, proposal_id, edit=True)
    link = db.session.get(PortalLink, link_id)
    if link is None or link.target_type != "proposal" or link.target_id != proposal_id:
        abort(404)
    link_service.revoke_link(link)
    db.session.commit()
    flash(_("Link revoked. It no longer opens the proposal."), "success")
    return redirect_after_post(url_for(".show", proposal_id=proposal_id, _anchor="links"))


@bp.post("/<int:proposal_id>/copy-link")
def copy_link(proposal_id: int):
    """Copy a link for this contact: issue a link for the staff member to paste into a
    mail of their own, shown once on the page this POST answers (never listed again)."""
    proposal = staff_proposal(current_user, proposal_id, edit=True)
    issued = attempt(lambda: service.issue_proposal_link_to_copy(proposal, current_user)).value
    return copied_link_page(issued, proposal.title, url_for(".show", proposal_id=proposal_id, _anchor="links"))


@bp.get("/<int:proposal_id>/signature")
def signature(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id)
    if proposal.signature is None:
        abort(404)
    sig = proposal.signature
    selected = set(service.signed_selection(sig))
    link = db.session.get(PortalLink, sig.portal_link_id) if sig.portal_link_id else None
    return render_page(
        "admin/proposals/signature.html",
        proposal=proposal,
        signature=sig,
        link=link,
        selected_lines=[line for line in proposal.lines if line.id in selected],
        intact=service.signature_intact(sig, proposal),
        included=service.totals_of(proposal).included or Decimal("0"),
    )


@bp.get("/<int:proposal_id>/signature.png")
def signature_image(proposal_id: int):
    proposal = staff_proposal(current_user, proposal_id)
    if proposal.signature is None:
        abort(404)
    response = make_response(proposal.signature.image_png)
    response.mimetype = "image/png"
    response.headers["Cache-Control"] = "private, no-store"
    return response
