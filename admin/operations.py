"""The one way a staff view runs an operation: commit on success, roll back on a
domain error. Views used to repeat "try, rollback, attach the errors, 422 / 409"
about forty times; now ``attempt`` and the refusal handlers hold it once, and
``saved_or_form`` the end of a new or edit page's POST (the form again, or flash and 303)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import Blueprint, flash, make_response, render_template
from flask_wtf import FlaskForm
from markupsafe import escape

from admin.forms import attach_errors
from portal.core.errors import AlreadySigned, ContentChanged, DomainError, InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.core.htmx import redirect_after_post, wants_partial

T = TypeVar("T")

# Errors a view does not handle itself: the blueprint's handler answers 409.
REFUSALS = (NotAllowed, ContentChanged, AlreadySigned)


@dataclass
class Outcome(Generic[T]):
    """What ``attempt`` did: ``ok`` with the operation's ``value``; else the bad
    input ``error`` (422) or a ``refusal`` the view keeps on its own page (409), both
    already on the form when there is one."""

    ok: bool
    value: T | None = None
    error: InvalidInput | None = None
    refusal: DomainError | None = None

    @property
    def status(self) -> int:
        """The HTTP status of the page the view answers with."""
        return 200 if self.ok else 409 if self.refusal is not None else 422


def attempt(operation: Callable[[], T], form: FlaskForm | None = None, keep_refusal: bool | str = False) -> Outcome[T]:
    """Run ``operation``; commit and return ok with its value. Bad input rolls back
    and lands on ``form`` (a failed outcome). A refusal rolls back and propagates to
    the blueprint's 409 handler, unless ``keep_refusal``: then it is a failed outcome
    too, its message on the form (at the top, or on the field ``keep_refusal`` names).
    Nothing half-done is ever committed."""
    try:
        value = operation()
    except InvalidInput as error:
        db.session.rollback()
        if form is not None:
            attach_errors(form, error)
        return Outcome(ok=False, error=error)
    except REFUSALS as refusal:
        db.session.rollback()
        if not keep_refusal:
            raise
        if form is not None:
            name = keep_refusal if isinstance(keep_refusal, str) else ""
            attach_errors(form, InvalidInput({name: str(refusal)}))
        return Outcome(ok=False, refusal=refusal)
    db.session.commit()
    return Outcome(ok=True, value=value)


def saved_or_form(
    saved: T | None, form_page: Callable[[], object], message: str | Callable[[T], str], to: str | Callable[[T], str]
):
    """The end of a new or edit page's POST: ``saved`` is what its save returned, None
    when it was refused (the messages already on the form); then ``form_page()``, the
    form again (status 422, the object reloaded). Else flash ``message`` and 303 to
    ``to`` (each a text, or made from what was saved)."""
    if saved is None:
        return form_page()
    flash(message(saved) if callable(message) else message, "success")
    return redirect_after_post(to(saved) if callable(to) else to)


def refused_response(error: Exception):
    """The default answer to a refusal anywhere under /admin: 409 with the message,
    a small fragment for an htmx swap, else a page."""
    db.session.rollback()
    message = str(error)
    if wants_partial():
        body = f'<p class="notice error" role="alert" id="refused">{escape(message)}</p>'
    else:
        flash(message, "error")
        body = render_template("admin/refused.html", message=message)
    response = make_response(body, 409)
    response.vary.add("HX-Request")
    return response


def handle_refusals(bp: Blueprint, answer: Callable[[Exception], object] = refused_response) -> None:
    """Register ``answer`` for every refusal raised in ``bp``'s views; the session is
    rolled back before ``answer`` builds its page (it may load fresh objects)."""

    def handler(error: Exception):
        db.session.rollback()
        return answer(error)

    for kind in REFUSALS:
        bp.register_error_handler(kind, handler)
