"""My day: the staff home."""

from __future__ import annotations

from datetime import timedelta

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.service_desk.models import Ticket
from tests.admin.sales import more_factories as more
from tests.factories import add_to_team


def test_admin_home_lands_on_my_day(app, staff_client):
    response = staff_client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/my-day/")
    assert staff_client.get("/admin/my-day/").status_code == 200


def test_my_day_lists_follow_ups_my_stages_signed_proposals_and_tickets_near_breach(app, make, staff_client, staff):
    today = utcnow().date()
    more.opportunity(app, title="Due today", rep_id=staff.id, next_contact_on=today, next_contact_by_id=staff.id)
    more.opportunity(
        app,
        title="Overdue one",
        rep_id=staff.id,
        next_contact_on=today - timedelta(days=3),
        next_contact_by_id=staff.id,
    )
    more.opportunity(app, title="Next week", next_contact_on=today + timedelta(days=7), next_contact_by_id=staff.id)
    more.opportunity(app, title="Closed one", stage_key="lost", next_contact_on=today, next_contact_by_id=staff.id)
    other = make.staff()
    more.opportunity(app, title="Not mine", next_contact_on=today, next_contact_by_id=other.id)
    signed = make.signed(make.delivered(rep=staff))
    not_mine = make.signed(make.delivered(rep=other))
    contact = make.contact()
    add_to_team(app, contact.organization_id, staff)
    ticket = make.ticket(contact=contact, title="Boiler down", priority="urgent")
    with app.app_context():
        row = db.session.get(Ticket, ticket.id)
        row.assignee_id = staff.id
        row.first_response_due_at = utcnow() + timedelta(hours=1)
        db.session.commit()
    body = staff_client.get("/admin/my-day/").get_data(as_text=True)
    overdue = body.split('id="follow-ups-overdue"')[1].split("</ul>")[0]
    today_list = body.split('id="follow-ups-today"')[1].split("</ul>")[0]
    assert "Overdue one" in overdue and "Due today" not in overdue
    assert "Due today" in today_list
    for absent in ("Next week", "Closed one", "Not mine"):
        assert absent not in body
    stages = body.split('id="my-stages"')[1].split("</section>")[0]
    assert "$2,000.00" in stages  # two open opportunities of mine, 1,000 each
    waiting = body.split('id="signed-waiting"')[1].split("</section>")[0]
    assert signed.proposal.label in waiting and not_mine.proposal.label not in waiting
    assert "Boiler down" in body.split('id="tickets-near-breach"')[1]
    assert 'id="unassigned"' not in body  # sales reps do not get the manager's list


def test_managers_see_unassigned_opportunities(app, make, login, client):
    manager = make.staff(role="manager")
    more.opportunity(app, title="Nobody owns it", rep_id=None)
    more.opportunity(app, title="Owned", rep_id=manager.id)
    login(client, manager)
    unassigned = client.get("/admin/my-day/").get_data(as_text=True).split('id="unassigned"')[1].split("</section>")[0]
    assert "Nobody owns it" in unassigned and "Owned" not in unassigned


def test_my_day_queries_stay_constant(app, make, staff_client, staff, count_queries):
    staff_client.get("/admin/my-day/")
    with count_queries() as few:
        staff_client.get("/admin/my-day/")
    today = utcnow().date()
    for n in range(8):
        more.opportunity(
            app,
            title=f"F{n}",
            rep_id=staff.id,
            next_contact_on=today,
            next_contact_by_id=staff.id,
            organization_id=make.organization().id,
        )
        make.signed(make.delivered(rep=staff))
    with count_queries() as many:
        assert staff_client.get("/admin/my-day/").status_code == 200
    assert many.count == few.count
