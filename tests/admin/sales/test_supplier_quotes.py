"""Supplier quotations: ask, answer once through a hashed expiring link, compare, copy costs."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.identity.links import hash_token
from portal.domains.proposals import operations as proposals
from portal.domains.sales import supplier_quotes as service
from portal.domains.sales.models import Opportunity
from portal.domains.sales.models_more import SupplierQuoteLine, SupplierQuoteRequest
from tests.admin.sales import more_factories as more
from tests.factories import outbox

HX = {"HX-Request": "true"}
LINK = re.compile(r"https?://[^/\s]+(/sq/[A-Za-z0-9_\-]+)")


def _ask(app, opportunity_id, contact_ids, staff_id):
    from portal.domains.identity.models import StaffUser

    with app.app_context():
        opp = db.session.get(Opportunity, opportunity_id)
        issued = service.request_supplier_quotes(
            opp, contact_ids, db.session.get(StaffUser, staff_id), "Best prices please"
        )
        db.session.commit()
        result = [(i.request.id, i.token) for i in issued]
        db.session.remove()
        return result


def _requests(app):
    with app.app_context():
        rows = db.session.scalars(select(SupplierQuoteRequest).order_by(SupplierQuoteRequest.id)).all()
        out = [(r.id, r.token_hash, r.submitted_at, r.note) for r in rows]
        db.session.remove()
        return out


def _answers(app, request_id):
    with app.app_context():
        rows = db.session.scalars(
            select(SupplierQuoteLine)
            .where(SupplierQuoteLine.request_id == request_id)
            .order_by(SupplierQuoteLine.position)
        ).all()
        out = [(line.id, line.description, line.unit_price, line.lead_time_days) for line in rows]
        db.session.remove()
        return out


def _form(answers, prices, leads=(), note=""):
    data = {"note": note}
    for (line_id, *_rest), price in zip(answers, prices, strict=False):
        data[f"price_{line_id}"] = price
    for (line_id, *_rest), lead in zip(answers, leads, strict=False):
        data[f"lead_{line_id}"] = lead
    return data


def test_staff_ask_suppliers_from_the_opportunity_page_and_each_contact_gets_a_link(app, make, staff_client, staff):
    _org, (ann, bob) = more.supplier(app, contacts=("ann@acme.example", "bob@acme.example"))
    opp = more.opportunity(app, rep_id=staff.id)
    page = staff_client.get(f"/admin/sales/opportunities/{opp}/supplier-quotes/new").get_data(as_text=True)
    assert "ann@acme.example" in page and "bob@acme.example" in page
    response = staff_client.post(
        f"/admin/sales/opportunities/{opp}/supplier-quotes/new", data={"contact_ids": [ann, bob], "message": "Hi"}
    )
    assert response.status_code == 303
    mails = [m for m in outbox(app) if m["kind"] == "supplier_quote_request"]
    assert sorted(m["to_addr"] for m in mails) == ["ann@acme.example", "bob@acme.example"]
    tokens = [LINK.search(m["body_text"]).group(1).rsplit("/", 1)[1] for m in mails]
    stored = _requests(app)
    assert len(stored) == 2
    # Only the SHA-256 is stored, never the token.
    assert {hash_token(t) for t in tokens} == {h for _id, h, _s, _n in stored}
    assert not any(t in h for t in tokens for _i, h, _s, _n in stored)
    assert "Mowing" in mails[0]["body_text"]


def test_only_supplier_contacts_and_only_opportunities_with_items(app, make, staff_client, staff):
    customer = make.contact()
    opp = more.opportunity(app, rep_id=staff.id)
    response = staff_client.post(
        f"/admin/sales/opportunities/{opp}/supplier-quotes/new", data={"contact_ids": [customer.id], "message": "typed"}
    )
    assert response.status_code == 422
    assert "active suppliers" in response.get_data(as_text=True) and "typed" in response.get_data(as_text=True)
    _org, (ann,) = more.supplier(app)
    empty = more.opportunity(app, rep_id=staff.id, items=())
    response = staff_client.post(f"/admin/sales/opportunities/{empty}/supplier-quotes/new", data={"contact_ids": [ann]})
    assert response.status_code == 422 and "Add items" in response.get_data(as_text=True)
    response = staff_client.post(f"/admin/sales/opportunities/{opp}/supplier-quotes/new", data={})
    assert response.status_code == 422
    assert _requests(app) == []


def test_the_supplier_page_changes_nothing_on_get_and_takes_prices_once(app, make, client, staff):
    _org, (ann,) = more.supplier(app)
    opp = more.opportunity(app, rep_id=staff.id)
    ((request_id, token),) = _ask(app, opp, [ann], staff.id)
    page = client.get(f"/sq/{token}")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and "no-store" in page.headers["Cache-Control"]
    assert "Mowing" in page.get_data(as_text=True) and "Best prices please" in page.get_data(as_text=True)
    assert _requests(app)[0][2] is None  # the GET wrote nothing
    answers = _answers(app, request_id)
    response = client.post(f"/sq/{token}", data=_form(answers, ["40", "61.5"], ["3", "10"], note="Until June"))
    assert response.status_code == 200
    assert "your prices were sent" in response.get_data(as_text=True)
    assert [(p, lead) for _i, _d, p, lead in _answers(app, request_id)] == [
        (Decimal("40.00"), 3),
        (Decimal("61.50"), 10),
    ]
    submitted = _requests(app)[0][2]
    assert submitted is not None and _requests(app)[0][3] == "Until June"
    # The second submit (a double tap, a second tab): a clear message, nothing changed.
    again = client.post(f"/sq/{token}", data=_form(answers, ["1", "1"], ["1", "1"], note="changed"))
    assert again.status_code == 409
    assert "already sent" in again.get_data(as_text=True)
    assert [(p, lead) for _i, _d, p, lead in _answers(app, request_id)] == [
        (Decimal("40.00"), 3),
        (Decimal("61.50"), 10),
    ]
    assert _requests(app)[0][2:] == (submitted, "Until June")
    # Opening the link later shows what was sent.
    assert "61.50" in client.get(f"/sq/{token}").get_data(as_text=True)


def test_bad_prices_are_refused_with_a_message_and_everything_typed_kept(app, make, client, staff):
    _org, (ann,) = more.supplier(app)
    opp = more.opportunity(app, rep_id=staff.id)
    ((request_id, token),) = _ask(app, opp, [ann], staff.id)
    answers = _answers(app, request_id)
    for prices, leads in (
        (["12abc", "5"], ["1", "2"]),
        (["-1", "5"], ["", ""]),
        (["sNaN", ""], ["", ""]),
        (["1e999", ""], ["", ""]),
        (["5", "5"], ["two", "1"]),
        (["5", ""], ["", "9"]),
        (["", ""], ["", ""]),
        (["99999999999", ""], ["", ""]),
    ):
        response = client.post(f"/sq/{token}", data=_form(answers, prices, leads, note="kept note"))
        assert response.status_code == 422, (prices, leads)
        body = response.get_data(as_text=True)
        assert "kept note" in body and 'role="alert"' in body
        for typed in prices + leads:
            if typed:
                assert f'value="{typed}"' in body
    assert _requests(app)[0][2] is None
    assert all(p is None for _i, _d, p, _l in _answers(app, request_id))


def test_a_link_opens_only_its_own_request(app, make, client, staff):
    _org, (ann, bob) = more.supplier(app, contacts=("ann@acme.example", "bob@acme.example"))
    opp = more.opportunity(app, rep_id=staff.id)
    (first, token_a), (second, _token_b) = _ask(app, opp, [ann, bob], staff.id)
    theirs = _answers(app, second)
    # Posting the other request's line ids through this link stores nothing there.
    response = client.post(f"/sq/{token_a}", data=_form(theirs, ["1", "1"]))
    assert response.status_code == 422
    assert all(p is None for _i, _d, p, _l in _answers(app, second))
    assert client.get("/sq/not-a-token").status_code == 404
    assert client.get(f"/sq/{token_a[:-2]}").status_code == 404


def test_an_expired_link_says_so_and_offers_a_new_one_by_email(app, make, client, staff):
    _org, (ann,) = more.supplier(app)
    opp = more.opportunity(app, rep_id=staff.id)
    ((request_id, token),) = _ask(app, opp, [ann], staff.id)
    with app.app_context():
        db.session.get(SupplierQuoteRequest, request_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    page = client.get(f"/sq/{token}")
    assert page.status_code == 410
    body = page.get_data(as_text=True)
    assert "expired" in body and "Email me a new link" in body
    answers = _answers(app, request_id)
    assert client.post(f"/sq/{token}", data=_form(answers, ["5", "5"])).status_code == 410
    assert _requests(app)[0][2] is None
    ref = re.search(r'name="ref" value="([^"]+)"', body).group(1)
    before = len(outbox(app))
    renewed = client.post("/sq/renew", data={"ref": ref})
    assert renewed.status_code == 200 and "a•••@acme.example" in renewed.get_data(as_text=True)
    mails = outbox(app)
    assert len(mails) == before + 1 and mails[-1]["to_addr"] == "ann@acme.example"
    new_token = LINK.search(mails[-1]["body_text"]).group(1).rsplit("/", 1)[1]
    assert client.get(f"/sq/{token}").status_code == 404  # the old link no longer opens it
    assert client.get(f"/sq/{new_token}").status_code == 200
    assert client.post(f"/sq/{new_token}", data=_form(answers, ["5", "6"])).status_code == 200
    assert client.post("/sq/renew", data={"ref": ref}).status_code == 409  # answered: nothing to renew
    assert client.post("/sq/renew", data={"ref": "forged"}).status_code == 404


def test_the_supplier_page_is_rate_limited(app, make, rate_limited_app, staff):
    _org, (ann,) = more.supplier(app)
    opp = more.opportunity(app, rep_id=staff.id)
    ((_request_id, token),) = _ask(app, opp, [ann], staff.id)
    limited = rate_limited_app.test_client()
    codes = [limited.post(f"/sq/{token}", data={}).status_code for _ in range(12)]
    assert codes[0] == 422 and codes[-1] == 429
    codes = [limited.get("/sq/guess-%d" % n).status_code for n in range(61)]
    assert codes[0] == 404 and codes[-1] == 429


def test_staff_compare_answers_cheapest_marked_and_copy_them_as_line_costs(app, make, staff_client, staff):
    _a, (ann,) = more.supplier(app, "Acme", contacts=("ann@acme.example",))
    _b, (bea,) = more.supplier(app, "Brio", contacts=("bea@brio.example",))
    contact = make.contact()
    opp = more.opportunity(app, rep_id=staff.id, organization_id=contact.organization_id)
    (req_a, tok_a), (req_b, tok_b) = _ask(app, opp, [ann, bea], staff.id)
    client = app.test_client()
    client.post(f"/sq/{tok_a}", data=_form(_answers(app, req_a), ["30", "50"], ["2", "5"]))
    client.post(f"/sq/{tok_b}", data=_form(_answers(app, req_b), ["35", "40"], ["1", ""]))
    # A proposal of the opportunity with the same items (what Make proposal copies).
    proposal = make.proposal(
        contact=contact, rep=staff, included=(("Mowing", "4", "45.00"),), optional=(("Mulch", "2", "65.00"),)
    )
    with app.app_context():
        from portal.domains.proposals.models import Proposal

        db.session.get(Proposal, proposal.id).opportunity_id = opp
        db.session.commit()
        before_hash = proposals.content_hash(proposals.load_proposal(proposal.id))
    page = staff_client.get(f"/admin/sales/opportunities/{opp}/supplier-quotes")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Acme" in body and "Brio" in body
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    mowing = next(r for r in rows if "Mowing" in r)
    mulch = next(r for r in rows if "Mulch" in r)
    # The cheapest per item is marked: Acme's mowing, Brio's mulch.
    assert re.search(
        r'class="num cheapest">\s*<label><input type="radio" name="choice_\d+" value="%d" checked' % req_a, mowing
    )
    assert re.search(
        r'class="num cheapest">\s*<label><input type="radio" name="choice_\d+" value="%d" checked' % req_b, mulch
    )
    choices = dict(re.findall(r'name="(choice_\d+)" value="(\d+)" checked', body))
    response = staff_client.post(
        f"/admin/sales/opportunities/{opp}/supplier-quotes/copy", data={"proposal_id": proposal.id, **choices}
    )
    assert response.status_code == 303
    with app.app_context():
        loaded = proposals.load_proposal(proposal.id)
        assert [(line.description, line.unit_cost) for line in loaded.lines] == [
            ("Mowing", Decimal("30.00")),
            ("Mulch", Decimal("40.00")),
        ]
        assert proposals.content_hash(loaded) == before_hash
    # A choice of a supplier who did not quote that item is refused, nothing copied.
    line_id = next(iter(choices)).split("_")[1]
    response = staff_client.post(
        f"/admin/sales/opportunities/{opp}/supplier-quotes/copy",
        data={"proposal_id": proposal.id, f"choice_{line_id}": "999999"},
    )
    assert response.status_code == 422
    # Another opportunity's proposal is not a target.
    other = make.proposal(contact=contact, rep=staff)
    response = staff_client.post(
        f"/admin/sales/opportunities/{opp}/supplier-quotes/copy", data={"proposal_id": other.id, **choices}
    )
    assert response.status_code == 422
    with app.app_context():
        assert all(line.unit_cost is None for line in proposals.load_proposal(other.id).lines)


def test_two_submits_at_once_store_one_answer(app, make, staff):
    _org, (ann,) = more.supplier(app)
    opp = more.opportunity(app, rep_id=staff.id)
    ((request_id, _token),) = _ask(app, opp, [ann], staff.id)
    answers = _answers(app, request_id)
    outcomes = []
    with app.app_context():
        first = service.load_request(request_id)
        data = service.AnswerInput(prices={answers[0][0]: "10"})
        service.submit_supplier_quote(first, data)
        db.session.commit()
        db.session.expire_all()
        stale = service.load_request(request_id)  # a second tab: the page it shows is older
        try:
            service.submit_supplier_quote(stale, service.AnswerInput(prices={answers[0][0]: "99"}))
        except service.AlreadySubmitted:
            outcomes.append("refused")
        db.session.rollback()
    assert outcomes == ["refused"]
    assert _answers(app, request_id)[0][2] == Decimal("10.00")


def test_the_opportunity_page_shows_its_supplier_quotations_and_first_response(app, make, staff_client, staff):
    _org, (ann,) = more.supplier(app, "Acme Supplies")
    opp = more.opportunity(app, rep_id=staff.id)
    page = staff_client.get(f"/admin/sales/opportunities/{opp}").get_data(as_text=True)
    assert 'id="supplier-quotes"' in page and "No supplier asked" in page
    assert 'id="first-response-none"' in page
    ((request_id, token),) = _ask(app, opp, [ann], staff.id)
    app.test_client().post(f"/sq/{token}", data=_form(_answers(app, request_id), ["1", "2"]))
    with app.app_context():
        from portal.domains.sales import first_response

        first_response.record_first_response(db.session.get(Opportunity, opp), via=first_response.STAFF_EMAIL)
        db.session.commit()
    page = staff_client.get(f"/admin/sales/opportunities/{opp}").get_data(as_text=True)
    section = page.split('id="supplier-quotes"')[1].split("</section>")[0]
    assert "Acme Supplies" in section and "answered" in section and "Compare the answers" in section
    assert 'id="first-response-minutes"' in page and "Email from staff" in page


def test_an_organization_is_flagged_supplier_on_its_form(app, make, login, client):
    from portal.domains.customers.models import Organization

    admin = make.staff(role="admin")
    login(client, admin)
    org = make.organization_with("Seed Co", billing_address="1 Main St")
    form = client.get(f"/admin/organizations/{org.id}/edit").get_data(as_text=True)
    assert 'name="is_supplier"' in form
    data = {"name": "Seed Co", "billing_address": "1 Main St", "invoice_template": "standard", "tax_region": "none"}
    response = client.post(f"/admin/organizations/{org.id}/edit", data={**data, "is_supplier": "y"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Organization, org.id).is_supplier is True
        assert [c.organization_id for c in service.supplier_contacts()] == []  # no contact yet
    client.post(f"/admin/organizations/{org.id}/edit", data=data)
    with app.app_context():
        assert db.session.get(Organization, org.id).is_supplier is False


def test_a_sent_supplier_mail_keeps_no_token(app):
    from portal.mail.outbox import redact_secrets

    body = "Enter your prices: https://portal.example.test/sq/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-xyz\n"
    assert "AbCdEf" not in redact_secrets(body) and "/sq/[removed]" in redact_secrets(body)


def test_two_tabs_submitting_at_the_same_instant_store_one_answer(app, make, staff):
    """Real threads, each its own request and connection, released together."""
    from tests.portal.test_concurrency import _run_together

    _org, (ann,) = more.supplier(app)
    opp = more.opportunity(app, rep_id=staff.id)
    ((request_id, token),) = _ask(app, opp, [ann], staff.id)
    answers = _answers(app, request_id)
    first, second = app.test_client(), app.test_client()
    results = _run_together(
        lambda: first.post(f"/sq/{token}", data=_form(answers, ["10", "20"], note="first")).status_code,
        lambda: second.post(f"/sq/{token}", data=_form(answers, ["11", "21"], note="second")).status_code,
    )
    assert sorted(results) == [200, 409], results
    note = _requests(app)[0][3]
    prices = [p for _i, _d, p, _l in _answers(app, request_id)]
    assert (note, prices) in (
        ("first", [Decimal("10.00"), Decimal("20.00")]),
        ("second", [Decimal("11.00"), Decimal("21.00")]),
    )


def test_the_compare_page_queries_stay_constant_as_answers_grow(app, make, staff_client, staff, count_queries):
    opp = more.opportunity(app, rep_id=staff.id)
    _org, contacts = more.supplier(app, "Acme", contacts=("a1@acme.example",))
    ((request_id, token),) = _ask(app, opp, contacts, staff.id)
    app.test_client().post(f"/sq/{token}", data=_form(_answers(app, request_id), ["1", "2"]))
    url = f"/admin/sales/opportunities/{opp}/supplier-quotes"
    staff_client.get(url)
    with count_queries() as few:
        assert staff_client.get(url).status_code == 200
    _org2, more_contacts = more.supplier(app, "Brio", contacts=tuple(f"b{n}@brio.example" for n in range(6)))
    for request_id, token in _ask(app, opp, more_contacts, staff.id):
        app.test_client().post(f"/sq/{token}", data=_form(_answers(app, request_id), ["3", "4"]))
    with count_queries() as many:
        body = staff_client.get(url).get_data(as_text=True)
    assert body.count('class="num cheapest"') >= 2
    assert many.count == few.count
