"""Property-based, for the contract routes only (admin, the property page, Make
contract, and the portal's): no 5xx whatever the query string or form body holds.
The same machinery as ``tests/test_fuzz_forms.py`` (which tries every route), run
here on this feature's routes so it can be run on its own."""

from __future__ import annotations

from tests import test_fuzz_forms as fuzz

ADMIN_ENDPOINTS = {
    "admin.contracts.index",
    "admin.contracts.new",
    "admin.contracts.show",
    "admin.contracts.revision",
    "admin.contracts.update_header",
    "admin.contracts.add_line",
    "admin.contracts.update_line",
    "admin.contracts.delete_line",
    "admin.contracts.activate",
    "admin.contracts.cancel",
    "admin.opportunities.make_contract",
    "admin.opportunities.add_to_contract",
    "admin.sites.show",
    "admin.sites.update",
}
PORTAL_ENDPOINTS = {"contracts.index", "contracts.show"}


def _signed_in_contact(app):
    """Sign in as the demo's Jane (she sees Greenleaf's and North Campus's contracts),
    so the portal pages are reached, not only the sign-in redirect."""
    from sqlalchemy import select

    from portal.core.extensions import db
    from portal.domains.customers.models import Contact
    from tests.factories import forge_signed_in_session

    def sign_in(client, _info):
        with app.app_context():
            jane = db.session.scalar(select(Contact).where(Contact.email == "jane.park@greenleaf.example"))
            db.session.expunge(jane)
        forge_signed_in_session(app, client, jane)

    return sign_in


def _run(app, side: str, endpoints: set[str]) -> None:
    info, ids = fuzz._seed(app)
    client = app.test_client()
    sign_in = fuzz._admin if side == "admin" else _signed_in_contact(app)
    sign_in(client, info)
    failures: list[str] = []
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint in endpoints]
    assert {rule.endpoint for rule in rules} == endpoints
    for rule in sorted(rules, key=lambda r: r.endpoint):
        keys = fuzz._keys_of(app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            check = fuzz._example(client, rule, method, ids, keys, lambda: fuzz._resign(client, side, sign_in, info))
            try:
                check()
            except Exception as error:  # noqa: BLE001 (every route is tried; all failures are listed)
                failures.append(f"{rule.endpoint} {method}: {fuzz._where(error)}")
    assert not failures, "\n".join(failures)


def test_no_contract_admin_route_answers_5xx(app):
    _run(app, "admin", ADMIN_ENDPOINTS)


def test_no_contract_portal_route_answers_5xx(app):
    _run(app, "portal", PORTAL_ENDPOINTS)
