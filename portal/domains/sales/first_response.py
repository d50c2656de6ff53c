"""Minutes to first response: from an opportunity's creation to the first email staff
send the customer about it, in business minutes of the business calendar.

The business calendar is the default SLA's service-hours calendar (Service setup), the
one tickets count in; without one, every minute counts (24x7 UTC), as for an SLA
without a calendar. Counting reuses ``service_desk.business_hours``.

What counts as a first response: delivering one of the opportunity's proposals (the
mail with the portal link; ``proposals.signals.proposal_delivered``), or any other
email to the customer a caller reports through ``record_first_response`` (e.g. a
staff-logged email). The first one is stored on ``opportunity_first_responses``, once:
the row's primary key is the opportunity, so a later mail, or two at the same instant,
never moves it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import signals
from portal.domains.sales.models import Opportunity
from portal.domains.sales.models_more import OpportunityFirstResponse
from portal.domains.service_desk.business_hours import Schedule, business_minutes_between
from portal.domains.service_desk.setup import calendar_schedule, default_sla

PROPOSAL_DELIVERED = "proposal_delivered"
STAFF_EMAIL = "staff_email"


def business_schedule() -> Schedule:
    """The business calendar: the default SLA's calendar, else 24x7."""
    sla = default_sla()
    schedule = calendar_schedule(sla.calendar) if sla is not None and sla.calendar is not None else None
    return schedule or Schedule.always()


def first_response_of(opportunity_id: int, with_staff: bool = False) -> OpportunityFirstResponse | None:
    """The stored first response (with who sent it, for the opportunity page)."""
    options = [joinedload(OpportunityFirstResponse.staff)] if with_staff else []
    return db.session.get(OpportunityFirstResponse, opportunity_id, options=options)


def record_first_response(
    opportunity: Opportunity,
    *,
    at: datetime | None = None,
    staff: StaffUser | None = None,
    via: str = STAFF_EMAIL,
    proposal_id: int | None = None,
    schedule: Schedule | None = None,
) -> OpportunityFirstResponse | None:
    """Store the opportunity's first response if it has none yet; returns the new row,
    or None when one was already stored (nothing changes)."""
    if first_response_of(opportunity.id) is not None:
        return None
    at = at or utcnow()
    minutes = max(0, business_minutes_between(opportunity.created_at, at, schedule or business_schedule()))
    row = OpportunityFirstResponse(
        opportunity_id=opportunity.id,
        responded_at=at,
        business_minutes=minutes,
        staff_id=staff.id if staff is not None else None,
        via=via,
        proposal_id=proposal_id,
    )
    try:
        with db.session.begin_nested():  # another request stored one meanwhile: theirs stands
            db.session.add(row)
    except IntegrityError:
        return None
    return row


@signals.proposal_delivered.connect
def _on_proposal_delivered(proposal, staff=None, contact=None, **_kw) -> None:
    """Delivering a proposal mails the customer: that is a response about its opportunity."""
    opportunity_id = getattr(proposal, "opportunity_id", None)
    if opportunity_id is None:
        return
    opportunity = db.session.scalar(select(Opportunity).where(Opportunity.id == opportunity_id))
    if opportunity is not None:
        record_first_response(opportunity, staff=staff, via=PROPOSAL_DELIVERED, proposal_id=proposal.id)
