"""Activity on an opportunity: what staff log (reply received, call, meeting, note)
and what the customer does on the portal (views or signs its proposal).

Customer-side activity moves ``Opportunity.last_customer_activity_at`` forward, which
is what the auto-close count starts from (``autoclose``): a logged reply, call or
meeting, a portal view of one of its proposals, a signature. A note does not.

The proposals domain tells us about views and signatures through its signals
(``proposals.signals``); proposals never import sales. A signature is the pipeline's
(``pipeline.on_signed``); the portal view is received here: a conditional UPDATE in
the sender's transaction, at most one write per quarter hour, never a commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from portal.core.db import utcnow
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal
from portal.domains.proposals.signals import proposal_viewed
from portal.domains.sales.models import Opportunity
from portal.domains.sales.models_rules import ActivityKind, OpportunityActivity
from portal.domains.timeline.models import Subject
from portal.domains.timeline.operations import record_event

MAX_TEXT = 4000
# A portal page viewed again within this long does not write again (views are cheap
# reads; one write per quarter hour keeps them so).
VIEW_GRANULARITY = timedelta(minutes=15)


def kind_labels() -> dict[str, str]:
    return {
        ActivityKind.REPLY: _("Reply received"),
        ActivityKind.CALL: _("Call"),
        ActivityKind.MEETING: _("Meeting"),
        ActivityKind.NOTE: _("Note"),
    }


def record_customer_activity(opportunity_id: int, at: datetime, *, granularity: timedelta = timedelta()) -> bool:
    """Move the opportunity's last customer activity to ``at`` unless it is already
    there or later (within ``granularity``). True when the row changed."""
    result = db.session.execute(
        update(Opportunity)
        .where(
            Opportunity.id == opportunity_id,
            or_(
                Opportunity.last_customer_activity_at.is_(None),
                Opportunity.last_customer_activity_at < at - granularity,
            ),
        )
        .values(last_customer_activity_at=at)
        .execution_options(synchronize_session=False)
    )
    changed = bool(result.rowcount)
    if changed:
        opportunity = db.session.identity_map.get((Opportunity, (opportunity_id,), None))
        if opportunity is not None:
            db.session.expire(opportunity, ["last_customer_activity_at"])
    return changed


def log_activity(
    opportunity: Opportunity,
    kind: str,
    happened_at: datetime | None,
    text: str,
    *,
    actor: StaffUser,
    now: datetime | None = None,
) -> OpportunityActivity:
    """Log what happened (``happened_at`` naive UTC, not in the future); on the
    timeline, and customer-side kinds reset the auto-close count."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    if kind not in ActivityKind.ALL:
        errors["kind"] = _("Choose what happened.")
    if happened_at is None:
        errors["happened_at"] = _("Enter when it happened.")
    elif happened_at > now + timedelta(minutes=5):
        errors["happened_at"] = _("It cannot have happened in the future.")
    elif happened_at < now - timedelta(days=366 * 2):
        errors["happened_at"] = _("Enter a date within the last two years.")
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        errors["text"] = _("Use at most %(n)s characters.", n=MAX_TEXT)
    elif kind == ActivityKind.NOTE and not text:
        errors["text"] = _("Write the note.")
    if errors:
        raise InvalidInput(errors)
    activity = OpportunityActivity(
        opportunity_id=opportunity.id, kind=kind, happened_at=happened_at, text=text, staff_id=actor.id
    )
    db.session.add(activity)
    label = kind_labels()[kind]
    record_event(
        Subject.OPPORTUNITY,
        opportunity.id,
        f"activity_{kind}",
        staff=actor,
        detail=f"{label}: {text}" if text else label,
    )
    if kind in ActivityKind.CUSTOMER_SIDE:
        record_customer_activity(opportunity.id, happened_at)
    db.session.flush()
    return activity


def recent_activities(opportunity_id: int, limit: int = 20) -> list[OpportunityActivity]:
    """The latest logged activity of an opportunity, with who logged it (one query)."""
    return list(
        db.session.scalars(
            select(OpportunityActivity)
            .where(OpportunityActivity.opportunity_id == opportunity_id)
            .order_by(OpportunityActivity.happened_at.desc(), OpportunityActivity.id.desc())
            .limit(limit)
        ).unique()
    )


# --- the proposals' signals ------------------------------------------------------------


def _opportunity_of(proposal_id: int) -> int | None:
    return db.session.scalar(select(Proposal.opportunity_id).where(Proposal.id == proposal_id))


@proposal_viewed.connect
def _on_proposal_viewed(sender, contact_id: int | None = None, opportunity_id: int | None = None, **_kwargs) -> None:
    """A contact opened the portal page of a proposal: its opportunity heard from them
    (the sender may name the opportunity, saving the query)."""
    proposal_id = sender.id if isinstance(sender, Proposal) else sender
    if opportunity_id is None:
        opportunity_id = _opportunity_of(proposal_id)
    if opportunity_id is not None:
        record_customer_activity(opportunity_id, utcnow(), granularity=VIEW_GRANULARITY)
