"""The staff rules of ``portal.access.staff`` that are not about seeing alone.

Technicians: read-only for sales work and customer records (proposals, organizations,
contacts); they DO work the tickets of the customers they can see (reply, internal
note, status, priority, assignment). Every column of a list goes through the same
policy as the page it links to.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.access.staff import staff_may_work_ticket
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.service_desk.models import Ticket, TicketMessage, TicketStatus
from tests.factories import stored


def _client_for(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


@pytest.fixture
def desk(make):
    """A customer with a technician on its team, a technician off it, and a ticket."""
    tech = make.staff(role="technician", name="Tess Tech")
    stranger = make.staff(role="technician", name="Otto Other")
    org = make.organization_with("Teamed Co", billing_address="x", team=[tech])
    contact = make.contact(org)
    ticket = make.ticket(contact)
    return tech, stranger, org, contact, ticket


def _messages(app, ticket_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (m.body, m.kind)
            for m in db.session.scalars(
                select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
            )
        ]


def _other_status_id(app, ticket_id: int) -> int:
    with app.app_context():
        current = db.session.get(Ticket, ticket_id).status_id
        return db.session.scalar(select(TicketStatus.id).where(TicketStatus.id != current).order_by(TicketStatus.id))


def test_staff_may_work_ticket_follows_sight_of_the_customer(app, desk):
    tech, stranger, _org, _contact, ticket = desk
    with app.app_context():
        row = db.session.get(Ticket, ticket.id)
        assert staff_may_work_ticket(db.session.get(StaffUser, tech.id), row)
        assert not staff_may_work_ticket(db.session.get(StaffUser, stranger.id), row)


def test_a_disabled_staff_member_works_no_ticket(app, desk):
    tech, _stranger, _org, _contact, ticket = desk
    with app.app_context():
        user = db.session.get(StaffUser, tech.id)
        user.is_enabled = False
        assert not staff_may_work_ticket(user, db.session.get(Ticket, ticket.id))


def test_a_technician_on_the_team_replies_notes_and_changes_status_and_priority(app, login, desk):
    tech, _stranger, _org, _contact, ticket = desk
    client = _client_for(app, login, tech)
    assert client.post(f"/admin/tickets/{ticket.id}/reply", data={"body": "On my way."}).status_code == 303
    assert client.post(f"/admin/tickets/{ticket.id}/note", data={"body": "Bring a washer."}).status_code == 303
    assert _messages(app, ticket.id)[-2:] == [("On my way.", "reply"), ("Bring a washer.", "note")]
    status_id = _other_status_id(app, ticket.id)
    assert client.post(f"/admin/tickets/{ticket.id}/status", data={"status_id": status_id}).status_code == 303
    assert client.post(f"/admin/tickets/{ticket.id}/priority", data={"priority": "high"}).status_code == 303
    assert client.post(f"/admin/tickets/{ticket.id}/assign", data={"assignee_id": tech.id}).status_code == 303
    row = stored(app, Ticket, ticket.id)
    assert (row.status_id, row.priority, row.assignee_id) == (status_id, "high", tech.id)


def test_a_technician_off_the_team_gets_404_for_every_ticket_change(app, login, desk):
    _tech, stranger, _org, _contact, ticket = desk
    client = _client_for(app, login, stranger)
    before = _messages(app, ticket.id)
    status_id = _other_status_id(app, ticket.id)
    for path, data in (
        ("reply", {"body": "Hello"}),
        ("note", {"body": "Hello"}),
        ("status", {"status_id": status_id}),
        ("priority", {"priority": "urgent"}),
        ("assign", {"assignee_id": stranger.id}),
    ):
        assert client.post(f"/admin/tickets/{ticket.id}/{path}", data=data).status_code == 404, path
    assert client.get(f"/admin/tickets/{ticket.id}").status_code == 404
    assert _messages(app, ticket.id) == before
    row = stored(app, Ticket, ticket.id)
    assert (row.priority, row.assignee_id) == ("normal", None)


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_a_technician_on_the_team_cannot_create_or_edit_proposals_organizations_or_contacts(app, make, login, desk):
    tech, _stranger, org, contact, _ticket = desk
    proposal = make.proposal(contact=make.contact(org))
    client = _client_for(app, login, tech)
    counts = {model: _count(app, model) for model in (Proposal, Organization, Contact)}
    # seeing is allowed ...
    assert client.get(f"/admin/organizations/{org.id}").status_code == 200
    assert client.get(f"/admin/proposals/{proposal.id}").status_code == 200
    assert client.get(f"/admin/contacts/{contact.id}").status_code == 200
    # ... changing is not
    refused = [
        client.get("/admin/proposals/new"),
        client.post("/admin/proposals/new", data={"organization_id": org.id, "title": "Sneaky"}),
        client.post(f"/admin/proposals/{proposal.id}/header", data={"title": "Changed"}),
        client.post(f"/admin/proposals/{proposal.id}/lines", data={"description": "x", "qty": "1", "price": "1"}),
        client.get("/admin/organizations/new"),
        client.post("/admin/organizations/new", data={"name": "Sneaky Org"}),
        client.get(f"/admin/organizations/{org.id}/edit"),
        client.post(f"/admin/organizations/{org.id}/edit", data={"name": "Renamed"}),
        client.post(f"/admin/organizations/{org.id}/deactivate"),
        client.get(f"/admin/organizations/{org.id}/contacts/new"),
        client.post(f"/admin/organizations/{org.id}/contacts/new", data={"first_name": "X", "email": "x@x.test"}),
        client.post(f"/admin/contacts/{contact.id}", data={"first_name": "Changed"}),
        client.post(f"/admin/contacts/{contact.id}/deactivate"),
    ]
    assert [r.status_code for r in refused] == [404] * len(refused)
    assert {model: _count(app, model) for model in counts} == counts
    assert stored(app, Organization, org.id).name == "Teamed Co"
    assert stored(app, Organization, org.id).is_active
    assert stored(app, Proposal, proposal.id).title == proposal.title
    assert stored(app, Contact, contact.id).first_name == contact.first_name


# --- list columns follow the page's policy -------------------------------------------------


def test_the_organization_list_does_not_name_a_parent_one_may_not_see(app, make, login):
    rep = make.staff(role="sales")
    hidden = make.organization_with("Hidden Holdings", billing_address="x")
    make.organization_with("Franchise", billing_address="x", parent_id=hidden.id, team=[rep])
    html = _client_for(app, login, rep).get("/admin/organizations/").get_data(as_text=True)
    assert "Franchise" in html
    assert "Hidden Holdings" not in html
    assert "a parent organization" in html
    assert f"/admin/organizations/{hidden.id}" not in html


def test_the_organization_list_names_and_links_a_visible_parent(app, make, login):
    rep = make.staff(role="sales")
    parent = make.organization_with("Open Holdings", billing_address="x", team=[rep])
    make.organization_with("Branch", billing_address="x", parent_id=parent.id, team=[rep])
    html = _client_for(app, login, rep).get("/admin/organizations/").get_data(as_text=True)
    assert f'<a class="parent" href="/admin/organizations/{parent.id}">Open Holdings</a>' in html
    assert "a parent organization" not in html
