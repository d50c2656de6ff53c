"""Contracts on the portal: the list and one contract's page. Each is loaded through
``portal.access.contacts`` (``contact_contracts_query``, ``contact_contract``): only a
signed-in contact sees contracts, only active ones, as their level allows; anything
else is a 404. Read-only: nothing here changes state."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from werkzeug.exceptions import NotFound

from portal.access.contacts import ContactFacts, contact_contract, contact_contracts_query, current_contact
from portal.core.htmx import render_page
from portal.domains.contracts import operations as service
from portal.domains.contracts import queries

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

INDEX = "contracts/index.html"
SHOW = "contracts/show.html"


def _portal_contact() -> ContactFacts | None:
    try:
        return current_contact()
    except NotFound:
        return None


@bp.get("", endpoint="index")
def index():
    """The active contracts the contact may see, most recently changed first. Without
    a session: the sign-in page (the list names nothing that could exist or not)."""
    facts = _portal_contact()
    if facts is None:
        return redirect(url_for("sign_in.start"), code=303)
    page = queries.list_page(contact_contracts_query(facts), after=request.args.get("after"))
    return render_page(INDEX, block="results", who=facts, signed_in=facts.signed_in, page=page)


@bp.get("/<int:contract_id>")
def show(contract_id: int):
    contract, facts = contact_contract(contract_id)
    revision = contract.current_revision
    return render_page(
        SHOW,
        who=facts,
        signed_in=facts.signed_in,
        contract=contract,
        revision=revision,
        included=service.included_lines(revision),
        optional=service.optional_lines(revision),
    )
