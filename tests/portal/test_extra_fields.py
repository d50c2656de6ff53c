"""No portal form accepts a field it does not show.

Every portal POST route (every rule outside the admin blueprint that accepts POST)
gets its normal, valid form plus fields a tampering customer might add: other ids,
prices, totals, statuses, timestamps, their own portal level. The request must do its
normal job and store none of them. A new portal POST route fails this test until it
gets a scenario below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.models import PortalLink, PortalSignIn
from portal.domains.proposals import operations as proposal_service
from portal.domains.proposals.models import Proposal, Signature
from portal.links.views import renew_reference
from tests.factories import outbox, page_form, sign_form, snapshot, stored

LONG_AGO = "2000-01-01T00:00:00"
# Tables no portal POST may change (each scenario's POST is wrapped in protected_rows).
PROTECTED = ("organizations", "contacts", "staff_users", "organization_team", "catalog_items", "proposal_lines")


@pytest.fixture
def intruder(make):
    """Another company, its contact and a staff member: the ids a tamperer would send."""
    org = make.organization("Bramble & Co")
    return make.contact(org, portal_level="organization_tree"), make.staff(role="admin")


def extra_fields(intruder) -> dict[str, str]:
    contact, staff = intruder
    return {
        "organization_id": str(contact.organization_id),
        "contact_id": str(contact.id),
        "price": "0.01",
        "unit_price": "0.01",
        "total": "0.01",
        "signed_total": "0.01",
        "currency": "EUR",
        "status": "won",
        "created_at": LONG_AGO,
        "signed_at": LONG_AGO,
        "updated_at": LONG_AGO,
        "expires_at": "2099-01-01T00:00:00",
        "used_at": "",
        "failed_attempts": "-100",
        "portal_level": "organization_tree",
        "portal_enabled": "y",
        "portal_epoch": "1",
        "is_active": "y",
        "is_primary": "y",
        "sales_rep_id": str(staff.id),
        "internal_notes": "forged",
        "title": "Forged",
        "target_id": "1",
        "target_type": "proposal",
    }


@contextmanager
def protected_rows(app) -> Iterator[None]:
    """Around a scenario's POST: no row of a protected table may change, appear or go."""
    before = {name: rows for name, rows in snapshot(app).items() if name in PROTECTED}
    yield
    after = {name: rows for name, rows in snapshot(app).items() if name in PROTECTED}
    for name in before:
        assert after[name] == before[name], f"{name} changed"


def _proposal(app, proposal_id: int) -> dict:
    with app.app_context():
        p = db.session.get(Proposal, proposal_id)
        row = {
            c: getattr(p, c)
            for c in (
                "organization_id",
                "contact_id",
                "sales_rep_id",
                "status",
                "title",
                "currency",
                "internal_notes",
                "created_at",
                "signed_at",
            )
        }
        db.session.remove()
        return row


def _rows(app, model) -> list:
    with app.app_context():
        rows = list(db.session.scalars(select(model).order_by(model.id)))
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return rows


def _signed_in_as(client, contact) -> bool:
    response = client.get("/home")
    return response.status_code == 200 and contact.last_name in response.get_data(as_text=True)


# --- one scenario per portal POST endpoint --------------------------------------------


def scenario_links_renew(app, make, extras, **_):
    delivered = make.delivered()
    with app.app_context():
        link = db.session.get(PortalLink, delivered.link_id)
        link.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
        with app.test_request_context():
            ref = renew_reference(link)
    before = _rows(app, PortalLink)
    with protected_rows(app):
        response = app.test_client().post("/l/renew", data={"ref": ref, **extras})
    assert response.status_code == 200
    [new] = [link for link in _rows(app, PortalLink) if link.id not in {old.id for old in before}]
    assert (new.contact_id, new.target_type, new.target_id) == (delivered.contact.id, "proposal", delivered.proposal.id)
    assert new.created_by_id is None and new.revoked_at is None
    assert new.expires_at > utcnow() + timedelta(days=29)
    assert outbox(app)[-1]["to_addr"] == delivered.contact.email


def scenario_proposals_options(app, make, extras, open_link, **_):
    delivered = make.delivered()
    client = app.test_client()
    option = page_form(open_link(client, delivered.token).get_data(as_text=True))["options"][0]
    before = snapshot(app)
    for headers in ({}, {"HX-Request": "true"}):
        with protected_rows(app):
            response = client.post(
                f"/p/proposals/{delivered.proposal.id}/options", data={"option": [option], **extras}, headers=headers
            )
        assert response.status_code == 200
        assert "$310.00" in response.get_data(as_text=True)  # 4 x 45.00 + 2 x 65.00, from the stored lines
    after = snapshot(app)
    # The toggle keeps the contact's choice (tests/portal/test_selection.py), and only that.
    [(_proposal_id, _contact_id, line_ids, _at)] = after.pop("proposal_selections")
    assert line_ids == f"[{option}]"
    before.pop("proposal_selections")
    assert after == before


def scenario_proposals_sign(app, make, extras, open_link, **_):
    delivered = make.delivered()
    client = app.test_client()
    form = page_form(open_link(client, delivered.token).get_data(as_text=True))
    before = _proposal(app, delivered.proposal.id)
    data = {**extras, **sign_form(delivered.proposal, form["options"][:1], seen_hash=form["seen_hash"])}
    with protected_rows(app):
        response = client.post(f"/p/proposals/{delivered.proposal.id}/sign", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    [signature] = _rows(app, Signature)
    with app.app_context():
        proposal = proposal_service.load_proposal(delivered.proposal.id)
        expected = proposal_service.totals_of(proposal, [int(form["options"][0])]).total
        db.session.remove()
    assert signature.signed_total == expected == Decimal("310.00")
    assert signature.currency == "USD"
    assert signature.contact_id == delivered.contact.id and signature.portal_link_id == delivered.link_id
    assert signature.signed_at > datetime(2020, 1, 1)
    after = _proposal(app, delivered.proposal.id)
    assert after["signed_at"] is not None and after["signed_at"] > datetime(2020, 1, 1)
    assert {k: v for k, v in after.items() if k != "signed_at"} == {k: v for k, v in before.items() if k != "signed_at"}


def scenario_sign_in_start(app, make, extras, **_):
    contact = make.contact()
    mails = len(outbox(app))
    with protected_rows(app):
        response = app.test_client().post("/sign-in", data={"email": contact.email, **extras})
    assert response.status_code == 200
    [row] = _rows(app, PortalSignIn)
    assert row.contact_id == contact.id and row.failed_attempts == 0 and row.used_at is None
    assert utcnow() < row.expires_at <= utcnow() + timedelta(minutes=10)
    assert [m["to_addr"] for m in outbox(app)[mails:]] == [contact.email]


def scenario_sign_in_code(app, make, extras, ask_sign_in, **_):
    contact = make.contact()
    _token, code = ask_sign_in(app.test_client(), contact.email)
    client = app.test_client()
    with protected_rows(app):
        response = client.post("/sign-in/code", data={**extras, "email": contact.email, "code": code})
    assert response.status_code == 303
    assert _signed_in_as(client, contact)
    [row] = _rows(app, PortalSignIn)
    assert row.used_at is not None and row.failed_attempts == 0 and row.contact_id == contact.id


def scenario_sign_in_use_link(app, make, extras, ask_sign_in, **_):
    contact = make.contact()
    token, _code = ask_sign_in(app.test_client(), contact.email)
    client = app.test_client()
    with protected_rows(app):
        response = client.post(f"/sign-in/{token}", data=extras)
    assert response.status_code == 303
    assert _signed_in_as(client, contact)
    [row] = _rows(app, PortalSignIn)
    assert row.used_at is not None and row.contact_id == contact.id
    assert row.expires_at < utcnow() + timedelta(minutes=11)


def scenario_sign_in_sign_out(app, make, extras, portal_sign_in, **_):
    contact = make.contact()
    client = app.test_client()
    portal_sign_in(client, contact)
    before = snapshot(app)
    with protected_rows(app):
        response = client.post("/sign-out", data=extras)
    assert response.status_code == 303
    # sign-out deletes this browser's session record, and changes nothing else
    after = snapshot(app)
    ended = {row for row in before.pop("portal_sessions", [])} - set(after.pop("portal_sessions", []))
    assert len(ended) == 1 and after == before
    assert client.get("/home").status_code == 303


def scenario_languages_switch(app, make, extras, portal_sign_in, **_):
    contact = make.contact()
    client = app.test_client()
    portal_sign_in(client, contact)
    before = snapshot(app)
    response = client.post("/language", data={**extras, "language": "es", "next": "/home"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/home")
    # the contact's own preference, and nothing else of any row
    after = snapshot(app)
    changed = [(b, a) for b, a in zip(before["contacts"], after["contacts"], strict=True) if a != b]
    assert len(changed) == 1
    with app.app_context():
        stored_contact = db.session.get(Contact, contact.id)
        assert stored_contact.preferred_language == "es" and stored_contact.portal_level == "requester"
        db.session.remove()
    before.pop("contacts"), after.pop("contacts")
    assert after == before


def scenario_verify_check(app, make, extras, **_):
    before = snapshot(app)
    response = app.test_client().post("/verify", data={**extras, "certificate_id": "PC-AAAA-AAAA-AAAA-AAAA"})
    assert response.status_code in (200, 404)
    assert "PC-AAAA-AAAA-AAAA-AAAA" in response.get_data(as_text=True)
    assert snapshot(app) == before  # the verify page stores nothing it was sent


# --- sales: the quote requests and the supplier page -----------------------------------

QUOTE = {"name": "Vera Visitor", "email": "vera@visitor.example", "address": "12 Elm St", "need": "Weekly mowing"}


def _lead_facts(app):
    from portal.domains.sales.models import Lead

    return [
        (lead.status, lead.origin, lead.organization_id, lead.contact_id, lead.opportunity_id)
        for lead in _rows(app, Lead)
    ]


def scenario_quotes_request(app, extras, **_):
    earlier = _lead_facts(app)
    with protected_rows(app):
        response = app.test_client().post("/quote", data={**extras, **QUOTE})
    assert response.status_code == 303
    # A lead from the public page: open, of no customer, whatever ids and status were sent.
    assert _lead_facts(app)[len(earlier) :] == [("open", "quote_page", None, None, None)]


def scenario_quotes_ask(app, make, extras, portal_sign_in, **_):
    contact = make.contact()
    client = app.test_client()
    portal_sign_in(client, contact)
    earlier = _lead_facts(app)
    with protected_rows(app):
        response = client.post("/quotes/new", data={**extras, "need": "Hedge trimming"})
    assert response.status_code == 303
    # Tied to the signed-in contact and their organization, not to the intruder's ids.
    assert _lead_facts(app)[len(earlier) :] == [("open", "portal", contact.organization_id, contact.id, None)]


def _supplier_request(app, make, name: str):
    from portal.domains.identity.models import StaffUser
    from portal.domains.sales import supplier_quotes
    from portal.domains.sales.models import Opportunity
    from tests.admin.sales import more_factories as more

    staff = make.staff()
    _org, (supplier_contact,) = more.supplier(app, name=name, contacts=(f"{name.lower()}@supplier.example",))
    opportunity_id = more.opportunity(app, rep_id=staff.id)
    with app.app_context():
        (issued,) = supplier_quotes.request_supplier_quotes(
            db.session.get(Opportunity, opportunity_id), [supplier_contact], db.session.get(StaffUser, staff.id), ""
        )
        db.session.commit()
        request_id, token = issued.request.id, issued.token
        db.session.remove()
    return request_id, token


def _supplier_facts(app, request_id):
    from portal.domains.sales.models_more import SupplierQuoteLine, SupplierQuoteRequest

    with app.app_context():
        quote = db.session.get(SupplierQuoteRequest, request_id)
        lines = db.session.scalars(
            select(SupplierQuoteLine).where(SupplierQuoteLine.request_id == request_id).order_by(SupplierQuoteLine.id)
        ).all()
        facts = (
            quote.contact_id,
            quote.opportunity_id,
            quote.currency,
            [(line.id, line.description, line.quantity) for line in lines],
        )
        answers = [(line.id, line.unit_price) for line in lines]
        db.session.remove()
        return facts, answers


def scenario_supplier_quotes_submit(app, make, extras, **_):
    request_id, token = _supplier_request(app, make, "Acme")
    before, answers = _supplier_facts(app, request_id)
    data = {**extras, "note": "Until June"}
    for line_id, _price in answers:
        data[f"price_{line_id}"] = "40"
        data[f"lead_{line_id}"] = "3"
    with protected_rows(app):
        response = app.test_client().post(f"/sq/{token}", data=data)
    assert response.status_code == 200
    after, answered = _supplier_facts(app, request_id)
    # The prices typed, on the lines asked for; nothing of the request itself moved.
    assert after == before and {price for _id, price in answered} == {Decimal("40.00")}


def scenario_supplier_quotes_renew(app, make, extras, **_):
    import re

    from portal.domains.sales.models_more import SupplierQuoteRequest

    request_id, token = _supplier_request(app, make, "Birch")
    with app.app_context():
        db.session.get(SupplierQuoteRequest, request_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    page = client.get(f"/sq/{token}").get_data(as_text=True)
    ref = re.search(r'name="ref" value="([^"]+)"', page).group(1)
    before, _answers = _supplier_facts(app, request_id)
    with protected_rows(app):
        response = client.post("/sq/renew", data={**extras, "ref": ref})
    assert response.status_code == 200
    after, _answers = _supplier_facts(app, request_id)
    assert after == before  # a new link for the same request: same contact, opportunity, lines
    with app.app_context():
        renewed = db.session.get(SupplierQuoteRequest, request_id)
        assert renewed.expires_at > utcnow() and renewed.submitted_at is None


SCENARIOS: dict[str, Callable] = {
    "quotes.request": scenario_quotes_request,
    "quotes.ask": scenario_quotes_ask,
    "supplier_quotes.submit": scenario_supplier_quotes_submit,
    "supplier_quotes.renew": scenario_supplier_quotes_renew,
    "verify.check": scenario_verify_check,
    "languages.switch": scenario_languages_switch,
    "links.renew": scenario_links_renew,
    "proposals.options": scenario_proposals_options,
    "proposals.sign": scenario_proposals_sign,
    "sign_in.start": scenario_sign_in_start,
    "sign_in.code": scenario_sign_in_code,
    "sign_in.use_link": scenario_sign_in_use_link,
    "sign_in.sign_out": scenario_sign_in_sign_out,
}


def _portal_post_endpoints(app) -> list[str]:
    return sorted(
        {
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if "POST" in rule.methods and rule.endpoint.split(".")[0] != "admin"
        }
    )


def _clear(app) -> None:
    """Empty the tables the scenarios fill, so each starts from the protected rows only."""
    with app.app_context():
        for model in (Signature, PortalSignIn):
            db.session.query(model).delete()
        db.session.commit()


def test_every_portal_post_ignores_fields_its_form_does_not_show(
    app, make, intruder, open_link, ask_sign_in, portal_sign_in
):
    endpoints = _portal_post_endpoints(app)
    missing = set(endpoints) - set(SCENARIOS)
    assert not missing, f"portal POST routes without an extra-fields scenario: {sorted(missing)}"
    extras = extra_fields(intruder)
    covered = []
    for endpoint in endpoints:
        _clear(app)
        SCENARIOS[endpoint](
            app=app,
            make=make,
            extras=extras,
            open_link=open_link,
            ask_sign_in=ask_sign_in,
            portal_sign_in=portal_sign_in,
        )
        covered.append(endpoint)
    assert covered == endpoints and len(covered) >= 7, covered
    print(f"\nextra fields: {len(covered)} portal POST routes covered: {', '.join(covered)}")


# --- tickets -------------------------------------------------------------------------


def _ticket_extras(app, make, extras) -> dict[str, str]:
    """What a tamperer would add to a ticket form: a closed status, an assignee, a
    custom SLA with its due times, a staff author, an internal kind, another ticket
    (the intruder's, whose ids ``extras`` carries)."""
    from portal.domains.customers.models import Contact
    from portal.domains.identity.models import StaffUser
    from portal.domains.service_desk import tickets as ticket_service
    from portal.domains.service_desk.models import TicketState

    contact = stored(app, Contact, int(extras["contact_id"]))
    staff = stored(app, StaffUser, int(extras["sales_rep_id"]))
    sla = make.sla(targets={p: (1, 2) for p in ("low", "normal", "high", "urgent")})
    other = make.ticket(contact, title="Bramble's own")
    with app.app_context():
        closed_status = ticket_service.statuses(TicketState.CLOSED)[0].id
        db.session.remove()
    return {
        "status_id": str(closed_status),
        "state": "closed",
        "assignee_id": str(staff.id),
        "sla_id": str(sla.id),
        "first_response_due_at": LONG_AGO,
        "resolution_due_at": LONG_AGO,
        "first_response_at": LONG_AGO,
        "first_response_by_id": str(staff.id),
        "closed_at": LONG_AGO,
        "resolution_paused_minutes": "9999",
        "waiting_since": LONG_AGO,
        "kind": "note",
        "author_staff_id": str(staff.id),
        "author_contact_id": str(contact.id),
        "ticket_id": str(other.id),
        "number": "T-000001",
        "organization_id": str(contact.organization_id),
        "contact_id": str(contact.id),
    }


_TICKET_COLUMNS = (
    "organization_id",
    "contact_id",
    "status_id",
    "state",
    "assignee_id",
    "sla_id",
    "first_response_due_at",
    "resolution_due_at",
    "first_response_at",
    "first_response_by_id",
    "closed_at",
    "resolution_paused_minutes",
    "waiting_since",
    "title",
    "created_at",
)


def _ticket(app, ticket_id: int) -> dict:
    from portal.domains.service_desk.models import Ticket

    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        row = {c: getattr(ticket, c) for c in _TICKET_COLUMNS}
        db.session.remove()
        return row


def _messages(app, ticket_id: int) -> list:
    from portal.domains.service_desk.models import TicketMessage

    with app.app_context():
        rows = list(
            db.session.scalars(
                select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return rows


def scenario_tickets_new(app, make, extras, portal_sign_in, **_):
    from portal.domains.service_desk import tickets as ticket_service
    from portal.domains.service_desk.models import Sla, Ticket, TicketState

    contact = make.contact()
    client = app.test_client()
    portal_sign_in(client, contact)
    data = {
        **extras,
        **_ticket_extras(app, make, extras),
        "title": "Gate hinge",
        "description": "It squeaks.",
        "priority": "low",
    }
    with protected_rows(app):
        response = client.post("/tickets/new", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    row = _ticket(app, ticket_id)
    with app.app_context():
        default_sla = db.session.scalar(select(Sla.id).where(Sla.is_default.is_(True)))
        new_status = ticket_service.status_for(TicketState.OPEN).id
        db.session.remove()
    assert (row["organization_id"], row["contact_id"], row["title"]) == (
        contact.organization_id,
        contact.id,
        "Gate hinge",
    )
    assert (row["status_id"], row["state"], row["assignee_id"], row["sla_id"]) == (
        new_status,
        "open",
        None,
        default_sla,
    )
    assert row["first_response_due_at"] > datetime(2020, 1, 1) and row["resolution_due_at"] > datetime(2020, 1, 1)
    assert row["first_response_at"] is row["first_response_by_id"] is row["closed_at"] is row["waiting_since"] is None
    assert row["resolution_paused_minutes"] == 0 and row["created_at"] > datetime(2020, 1, 1)
    [message] = _messages(app, ticket_id)
    assert (message.kind, message.author_contact_id, message.author_staff_id) == ("reply", contact.id, None)
    assert [t.id for t in _rows(app, Ticket) if t.contact_id == contact.id] == [ticket_id]


def _open_ticket_of(app, make, portal_sign_in):
    contact = make.contact()
    ticket = make.ticket(contact)
    client = app.test_client()
    portal_sign_in(client, contact)
    return contact, ticket, client


def scenario_tickets_reply(app, make, extras, portal_sign_in, **_):
    contact, ticket, client = _open_ticket_of(app, make, portal_sign_in)
    tampered = _ticket_extras(app, make, extras)
    before = _ticket(app, ticket.id)
    with protected_rows(app):
        response = client.post(f"/tickets/{ticket.id}/reply", data={**extras, **tampered, "body": "Any news?"})
    assert response.status_code == 303
    assert _ticket(app, ticket.id) == before
    _first, reply = _messages(app, ticket.id)
    assert (reply.kind, reply.body, reply.author_contact_id, reply.author_staff_id) == (
        "reply",
        "Any news?",
        contact.id,
        None,
    )
    assert reply.created_at > datetime(2020, 1, 1)
    assert len(_messages(app, int(tampered["ticket_id"]))) == 1  # the other ticket got nothing


def scenario_tickets_close(app, make, extras, portal_sign_in, **_):
    from portal.domains.service_desk import tickets as ticket_service
    from portal.domains.service_desk.models import TicketState

    _contact, ticket, client = _open_ticket_of(app, make, portal_sign_in)
    tampered = _ticket_extras(app, make, extras)
    before = _ticket(app, ticket.id)
    with protected_rows(app):
        response = client.post(f"/tickets/{ticket.id}/close", data={**extras, **tampered})
    assert response.status_code == 303
    after = _ticket(app, ticket.id)
    with app.app_context():
        closed = ticket_service.status_for(TicketState.CLOSED).id
        db.session.remove()
    assert (after["state"], after["status_id"]) == ("closed", closed)
    assert after["closed_at"] > datetime(2020, 1, 1)
    unchanged = (
        "organization_id",
        "contact_id",
        "assignee_id",
        "sla_id",
        "first_response_due_at",
        "resolution_due_at",
        "first_response_at",
        "first_response_by_id",
        "resolution_paused_minutes",
        "title",
        "created_at",
    )
    assert {c: after[c] for c in unchanged} == {c: before[c] for c in unchanged}
    assert len(_messages(app, int(tampered["ticket_id"]))) == 1


def scenario_tickets_reopen(app, make, extras, portal_sign_in, **_):
    from portal.domains.customers.models import Contact
    from portal.domains.service_desk import tickets as ticket_service
    from portal.domains.service_desk.models import Ticket, TicketState

    contact, ticket, client = _open_ticket_of(app, make, portal_sign_in)
    with app.app_context():
        ticket_service.close_by_contact(db.session.get(Ticket, ticket.id), db.session.get(Contact, contact.id))
        db.session.commit()
        resumed = ticket_service.status_for(TicketState.OPEN, resumed=True).id
        db.session.remove()
    tampered = _ticket_extras(app, make, extras)
    before = _ticket(app, ticket.id)
    with protected_rows(app):
        response = client.post(f"/tickets/{ticket.id}/reopen", data={**extras, **tampered})
    assert response.status_code == 303
    after = _ticket(app, ticket.id)
    assert (after["state"], after["status_id"], after["closed_at"]) == ("open", resumed, None)
    unchanged = (
        "organization_id",
        "contact_id",
        "assignee_id",
        "sla_id",
        "first_response_due_at",
        "first_response_at",
        "first_response_by_id",
        "resolution_paused_minutes",
        "title",
        "created_at",
    )
    assert {c: after[c] for c in unchanged} == {c: before[c] for c in unchanged}


SCENARIOS.update(
    {
        "tickets.new": scenario_tickets_new,
        "tickets.reply": scenario_tickets_reply,
        "tickets.close": scenario_tickets_close,
        "tickets.reopen": scenario_tickets_reopen,
    }
)
