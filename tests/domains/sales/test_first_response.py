"""Minutes to first response: business minutes from an opportunity's creation to the
first email staff send the customer about it; stored once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import Proposal
from portal.domains.sales import first_response as service
from portal.domains.sales.models import Opportunity
from portal.domains.sales.models_more import OpportunityFirstResponse
from portal.domains.service_desk.business_hours import Schedule
from tests.admin.sales import more_factories as more

NINE_TO_FIVE = Schedule.from_rows("Europe/Rome", [(d, 9 * 60, 17 * 60) for d in range(5)])


def test_business_minutes_skip_nights_and_weekends(app):
    # Created Friday 16:00 Rome (15:00 UTC), answered Monday 10:00 Rome (09:00 UTC): 60 + 60.
    opp_id = more.opportunity(app, created_at=datetime(2026, 11, 27, 15, 0))
    with app.app_context():
        opp = db.session.get(Opportunity, opp_id)
        row = service.record_first_response(opp, at=datetime(2026, 11, 30, 9, 0), schedule=NINE_TO_FIVE)
        db.session.commit()
        assert row.business_minutes == 120
        # A later email never moves it.
        assert service.record_first_response(opp, at=datetime(2026, 12, 1, 9, 0), schedule=NINE_TO_FIVE) is None
        db.session.commit()
        assert db.session.get(OpportunityFirstResponse, opp_id).business_minutes == 120


def test_the_default_slas_calendar_is_the_business_calendar(app):
    with app.app_context():
        schedule = service.business_schedule()
        # The migrations seed a default SLA with a Mon-Fri calendar: Saturday has no hours.
        assert schedule.week[5] == () or schedule == Schedule.always()


def test_delivering_the_opportunitys_proposal_is_its_first_response(app, make):
    contact = make.contact()
    rep = make.staff()
    opp_id = more.opportunity(app, organization_id=contact.organization_id, rep_id=rep.id)
    proposal = make.proposal(contact=contact, rep=rep)
    with app.app_context():
        db.session.get(Proposal, proposal.id).opportunity_id = opp_id
        db.session.commit()
    make.delivered(proposal)
    with app.app_context():
        row = db.session.get(OpportunityFirstResponse, opp_id)
        assert row is not None and row.via == service.PROPOSAL_DELIVERED
        assert row.staff_id == rep.id and row.proposal_id == proposal.id
        assert row.business_minutes >= 0
        first_at = row.responded_at
        # Delivering again is not a new first response.
        loaded = proposals.load_proposal(proposal.id)
        proposals.deliver_proposal(loaded, db.session.get(StaffUser, rep.id), db.session.get(Contact, contact.id))
        db.session.commit()
        assert db.session.get(OpportunityFirstResponse, opp_id).responded_at == first_at


def test_a_proposal_without_an_opportunity_records_nothing(app, make):
    make.delivered()
    with app.app_context():
        assert db.session.scalars(select(OpportunityFirstResponse)).all() == []
