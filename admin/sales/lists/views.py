"""The sales lists' setup pages: stages, types, sources, lost reasons, competitors.
Admins edit them; managers read them; everyone else gets a 404."""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin.operations import attempt
from admin.sales.lists.forms import EntryForm
from portal.access.staff import staff_may_edit_sales_lists, staff_may_see_sales_lists
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, render_page
from portal.core.parsing import parse_decimal
from portal.domains.sales import lists as service
from portal.domains.sales.models import Stage

bp = Blueprint("sales_lists", __name__, url_prefix="/sales/lists")

PAGE = "admin/sales/lists/index.html"


def _kind(slug: str) -> service.ListKind:
    if not staff_may_see_sales_lists(current_user):
        abort(404)
    kind = service.LIST_KINDS.get(slug)
    if kind is None:
        abort(404)
    return kind


def _editing(slug: str) -> service.ListKind:
    kind = _kind(slug)
    if not staff_may_edit_sales_lists(current_user):
        abort(404)
    return kind


def _entry(kind: service.ListKind, entry_id: int):
    entry = db.session.get(kind.model, entry_id)
    if entry is None:
        abort(404)
    return entry


def _page(kind, status=200, new_form=None, edit_forms=None):
    entries = service.entries(kind.model, active_only=False)
    forms = {e.id: EntryForm(obj=e, formdata=None, prefix=f"e{e.id}") for e in entries}
    for entry_id, form in (edit_forms or {}).items():
        forms[entry_id] = form
    return render_page(
        PAGE,
        status=status,
        kind=kind,
        kinds=service.LIST_KINDS.values(),
        entries=entries,
        forms=forms,
        new_form=new_form or EntryForm(formdata=None, prefix="new"),
        is_stage=kind.model is Stage,
        may_edit=staff_may_edit_sales_lists(current_user),
    )


@bp.get("/")
def index():
    return list_page("stages")


@bp.get("/<slug>")
def list_page(slug: str):
    return _page(_kind(slug))


def _whole(text: str | None) -> int | None:
    value = parse_decimal((text or "").strip(), digits=12, places=0) if (text or "").strip() else None
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def _data(form: EntryForm) -> service.EntryInput:
    position_text = (form.position.data or "").strip()
    probability = _whole(form.default_probability.data)
    position = _whole(position_text) if position_text else None
    if position_text and position is None:
        position = -1  # "Order must be a number ..."
    return service.EntryInput(
        name=form.name.data or "",
        position=position,
        is_active=bool(form.is_active.data),
        outcome=form.outcome.data,
        default_probability=probability
        if probability is not None
        else (0 if not form.default_probability.data else -1),
        is_waiting_on_customer=bool(form.is_waiting_on_customer.data),
    )


@bp.post("/<slug>")
def create(slug: str):
    kind = _editing(slug)
    form = EntryForm(prefix="new")
    if "new-is_active" not in request.form and not request.form.get("new-name"):
        form.is_active.data = True
    outcome = attempt(lambda: service.save_entry(kind, _data(form)), form=form, keep_refusal="name")
    if outcome.ok:
        flash(_("Added."), "success")
        return redirect_after_post(url_for("admin.sales_lists.list_page", slug=slug))
    return _page(kind, status=outcome.status, new_form=form)


@bp.post("/<slug>/<int:entry_id>")
def update(slug: str, entry_id: int):
    kind = _editing(slug)
    entry = _entry(kind, entry_id)
    form = EntryForm(prefix=f"e{entry_id}")
    outcome = attempt(lambda: service.save_entry(kind, _data(form), entry), form=form, keep_refusal="name")
    if outcome.ok:
        flash(_("Saved."), "success")
        return redirect_after_post(url_for("admin.sales_lists.list_page", slug=slug))
    return _page(kind, status=outcome.status, edit_forms={entry_id: form})


@bp.post("/<slug>/<int:entry_id>/delete")
def delete(slug: str, entry_id: int):
    kind = _editing(slug)
    entry = _entry(kind, entry_id)
    attempt(lambda: service.delete_entry(kind, entry))
    flash(_("Deleted."), "success")
    return redirect_after_post(url_for("admin.sales_lists.list_page", slug=slug))
