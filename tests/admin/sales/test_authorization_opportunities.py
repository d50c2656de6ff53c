"""Who gets what on the opportunity pages and the sales lists: each role, as the
opportunity's own rep, on the customer's account team, or a stranger to it.

- admins and managers: everything (managers only read the sales lists);
- sales: their own opportunities and those of customers whose team includes them;
- technicians: only those of customers whose team includes them, read-only;
- anyone else: a 404 that does not name the opportunity.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.sales.models import LostReason, Opportunity, Stage
from tests.sales_factories import make_opportunity, stage_id

CLASSIFIED = {
    ("admin.opportunities.board", "GET"),
    ("admin.opportunities.move", "POST"),
    ("admin.opportunities.index", "GET"),
    ("admin.opportunities.export", "GET"),
    ("admin.opportunities.new", "GET"),
    ("admin.opportunities.new", "POST"),
    ("admin.opportunities.edit", "GET"),
    ("admin.opportunities.edit", "POST"),
    ("admin.opportunities.show", "GET"),
    ("admin.opportunities.lost", "POST"),
    ("admin.opportunities.reopen", "POST"),
    ("admin.opportunities.make_proposal", "POST"),
    ("admin.sales_lists.index", "GET"),
    ("admin.sales_lists.list_page", "GET"),
    ("admin.sales_lists.create", "POST"),
    ("admin.sales_lists.update", "POST"),
    ("admin.sales_lists.delete", "POST"),
}

TITLE = "Zanzibar hedges"

# (role, relation) -> (sees it, may change it)
ACTORS = {
    ("admin", "stranger"): (True, True),
    ("manager", "stranger"): (True, True),
    ("sales", "owner"): (True, True),
    ("sales", "team"): (True, True),
    ("sales", "stranger"): (False, False),
    ("technician", "team"): (True, False),
    ("technician", "stranger"): (False, False),
}


@pytest.fixture
def world(app, make):
    """An opportunity of a customer, owned by a sales rep, with a contact for proposals."""
    owner = make.staff(role="sales", name="Owner Rep")
    org = make.organization("Quince Court")
    contact = make.contact(org)
    opportunity = make_opportunity(app, owner, org, contact, title=TITLE, lines=[("Hedge", "1", "100.00")])
    return owner, org, opportunity


def _actor(make, app, role, relation, world):
    owner, org, _opportunity = world
    if relation == "owner":
        return owner
    user = make.staff(role=role)
    if relation == "team":
        from tests.factories import add_to_team

        add_to_team(app, org, user)
    return user


@pytest.mark.parametrize(("role", "relation"), list(ACTORS))
def test_each_role_reads_what_it_may_and_gets_404_otherwise(app, make, client, login, world, role, relation):
    sees, _changes = ACTORS[(role, relation)]
    _owner, _org, opportunity = world
    login(client, _actor(make, app, role, relation, world))
    page = client.get(f"/admin/sales/opportunities/{opportunity.id}")
    assert page.status_code == (200 if sees else 404)
    assert (TITLE in page.get_data(as_text=True)) == sees
    for path in ("/admin/sales/board", "/admin/sales/opportunities", "/admin/sales/opportunities.csv"):
        listed = client.get(path)
        assert listed.status_code == 200
        assert (TITLE in listed.get_data(as_text=True)) == sees, path


@pytest.mark.parametrize(("role", "relation"), list(ACTORS))
def test_each_role_changes_what_it_may_and_gets_404_otherwise(app, make, client, login, world, role, relation):
    _sees, changes = ACTORS[(role, relation)]
    _owner, _org, opportunity = world
    login(client, _actor(make, app, role, relation, world))
    base = f"/admin/sales/opportunities/{opportunity.id}"
    denied = 404
    edit = client.get(f"{base}/edit")
    assert edit.status_code == (200 if changes else denied)
    assert (TITLE in edit.get_data(as_text=True)) == changes
    assert client.post(f"{base}/edit", data={"title": ""}).status_code == (422 if changes else denied)
    moved = client.post(f"{base}/move", data={"stage_id": stage_id(app, "qualified")})
    assert moved.status_code == (303 if changes else denied)
    made = client.post(f"{base}/proposal")
    assert made.status_code == (303 if changes else denied)
    with app.app_context():
        reason = db.session.scalar(select(LostReason.id).limit(1))
    lost = client.post(f"{base}/lost", data={"reason_ids": [reason]})
    assert lost.status_code == (303 if changes else denied)
    reopened = client.post(f"{base}/reopen")
    assert reopened.status_code == (303 if changes else denied)
    with app.app_context():
        stored = db.session.get(Opportunity, opportunity.id)
        assert stored.stage_id == (stage_id(app, "new") if changes else stage_id(app, "new"))
        assert stored.outcome == "open"
        if not changes:
            assert db.session.get(Stage, stored.stage_id).key == "new"
    denied_new = client.get("/admin/sales/opportunities/new")
    assert denied_new.status_code == (404 if role == "technician" else 200)
    assert client.post("/admin/sales/opportunities/new", data={}).status_code == (404 if role == "technician" else 422)


@pytest.mark.parametrize(
    ("role", "reads", "edits"),
    [("admin", True, True), ("manager", True, False), ("sales", False, False), ("technician", False, False)],
)
def test_sales_lists_admins_edit_managers_read(app, make, client, login, role, reads, edits):
    login(client, make.staff(role=role))
    for path in ("/admin/sales/lists/", "/admin/sales/lists/stages", "/admin/sales/lists/competitors"):
        page = client.get(path)
        assert page.status_code == (200 if reads else 404)
        assert ("Proposal sent" in page.get_data(as_text=True)) == (reads and "competitors" not in path)
    created = client.post("/admin/sales/lists/competitors", data={"new-name": "Acme Lawns", "new-is_active": "y"})
    assert created.status_code == (303 if edits else 404)
    with app.app_context():
        from portal.domains.sales.models import Competitor

        competitor = db.session.scalar(select(Competitor).where(Competitor.name == "Acme Lawns"))
        assert (competitor is not None) == edits
        target = competitor.id if competitor else db.session.scalar(select(Stage.id).limit(1))
    kind = "competitors" if competitor else "stages"
    renamed = client.post(f"/admin/sales/lists/{kind}/{target}", data={f"e{target}-name": "Acme"})
    assert renamed.status_code == (303 if edits else 404)
    deleted = client.post(f"/admin/sales/lists/{kind}/{target}/delete")
    assert deleted.status_code == (303 if edits else 404)


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    _owner, _org, opportunity = world
    for path in ("/admin/sales/board", f"/admin/sales/opportunities/{opportunity.id}", "/admin/sales/lists/"):
        response = client.get(path)
        assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]
