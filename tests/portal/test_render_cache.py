"""The proposal page and the option toggle are served from a render cache keyed by
the proposal's version: these tests hold that no change is ever hidden by it."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import update

from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import ProposalLine
from tests.factories import page_form, staff_add_line

HX = {"HX-Request": "true"}


def _grand_total(html: str) -> str:
    return re.search(r'<dd id="grand-total">([^<]+)</dd>', html).group(1)


def test_a_staff_edit_shows_on_the_next_view(app, make, client, open_link):
    delivered = make.delivered()
    first = open_link(client, delivered.token).get_data(as_text=True)
    assert "Gutter cleaning" not in first
    staff_add_line(app, delivered.proposal.id, "Gutter cleaning", price="80.00")
    again = client.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert "Gutter cleaning" in again
    assert page_form(again)["seen_hash"] != page_form(first)["seen_hash"]


def test_each_session_gets_its_own_csrf_token_in_a_cached_page(app, make, open_link):
    delivered = make.delivered()
    one, two = app.test_client(), app.test_client()
    html_one = open_link(one, delivered.token).get_data(as_text=True)
    html_two = open_link(two, delivered.token).get_data(as_text=True)
    tokens = [re.search(r'"X-CSRFToken": "([^"]+)"', h).group(1) for h in (html_one, html_two)]
    assert tokens[0] != tokens[1]
    assert "__porchlight_csrf_token__" not in html_one + html_two


def test_two_contacts_never_share_a_cached_page(app, make, open_link):
    contact = make.contact(first_name="Ann")
    other = make.contact(organization=_org_of(app, contact), first_name="Bea")
    delivered = make.delivered(contact=contact)
    token_other = make.link(other, delivered.proposal)
    ann = open_link(app.test_client(), delivered.token).get_data(as_text=True)
    bea = open_link(app.test_client(), token_other).get_data(as_text=True)
    assert "Ann " in ann and "Bea " not in ann
    assert "Bea " in bea and "Ann " not in bea


def test_renaming_the_contact_shows_in_the_header(app, make, client, open_link):
    delivered = make.delivered()
    open_link(client, delivered.token)
    with app.app_context():
        db.session.execute(update(Contact).where(Contact.id == delivered.contact.id).values(first_name="Renata"))
        db.session.commit()
    html = client.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert "Renata" in html


def test_toggle_follows_a_price_change(app, make, client, open_link):
    delivered = make.delivered(included=(("Mowing", "1", "100.00"),), optional=(("Mulch", "1", "10.00"),))
    html = open_link(client, delivered.token).get_data(as_text=True)
    option = page_form(html)["options"][0]
    first = client.post(f"/p/proposals/{delivered.proposal.id}/options", data={"option": option}, headers=HX)
    assert "$110.00" in first.get_data(as_text=True)
    with app.app_context():
        proposal = proposals.load_proposal(delivered.proposal.id)
        line = next(line for line in proposal.lines if line.is_optional)
        proposals.update_line(proposal, line, proposals.LineInput("Mulch", Decimal("1"), Decimal("25.00"), True))
        db.session.commit()
    second = client.post(f"/p/proposals/{delivered.proposal.id}/options", data={"option": option}, headers=HX)
    assert _grand_total(second.get_data(as_text=True)) == "$125.00"


def test_toggle_on_a_signed_proposal_shows_the_signed_selection(app, make, client, open_link):
    delivered = make.delivered()
    open_link(client, delivered.token)
    make.signed(delivered, option_count=0)
    with app.app_context():
        optional = db.session.scalars(
            ProposalLine.__table__.select().where(
                ProposalLine.proposal_id == delivered.proposal.id, ProposalLine.is_optional.is_(True)
            )
        ).all()
    response = client.post(
        f"/p/proposals/{delivered.proposal.id}/options", data={"option": [str(optional[0])]}, headers=HX
    )
    assert response.status_code == 200
    assert "Signed total" in response.get_data(as_text=True)


def _org_of(app, contact):
    from portal.domains.customers.models import Organization

    with app.app_context():
        org = db.session.get(Organization, contact.organization_id)
        db.session.expunge(org)
        return org
