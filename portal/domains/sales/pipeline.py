"""The one rule that moves an opportunity when its proposals change (story 7).

- delivered -> the "Proposal sent" stage; the customer's signature -> "Signed";
- staff marking the proposal won -> the opportunity won (its won stage);
- lost -> the opportunity lost, the proposal's reason, competitor and detail carried
  across (the proposal's reason codes are the lost-reason list's keys; a competitor
  named that the list lacks is added to it).

Applied here and nowhere else, in the proposal change's own transaction (the signal
is sent after the proposal's change is flushed, before the view commits): both rows
commit together or neither does. Moves go forward only (a later stage by position)
and never out of won or lost; repeated events change nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.proposals import signals
from portal.domains.proposals.models import Proposal
from portal.domains.sales import lists
from portal.domains.sales.models import Competitor, LostReasonKey, Opportunity, Outcome, Stage, StageKey
from portal.domains.sales.opportunities import apply_stage, close_lost, load_opportunity


def _opportunity_of(proposal: Proposal) -> Opportunity | None:
    if not proposal.opportunity_id:
        return None
    return load_opportunity(proposal.opportunity_id)


def advance(opportunity: Opportunity, stage: Stage | None, staff=None, detail: str = "") -> bool:
    """Move forward to ``stage`` if that is forward: an open opportunity, a later
    (or a closing) stage. Anything else changes nothing and says False."""
    if stage is None or opportunity.outcome in Outcome.CLOSED:
        return False
    current = opportunity.stage
    if (
        stage.outcome == Outcome.OPEN
        and current is not None
        and (stage.position, stage.id) <= (current.position, current.id)
    ):
        return False
    return apply_stage(opportunity, stage, staff, detail=detail)


def _open_stage(key: str) -> Stage | None:
    stage = lists.stage_by_key(key)
    return stage if stage is not None and stage.is_active and stage.outcome == Outcome.OPEN else None


def on_delivered(proposal: Proposal, staff=None, **_kw) -> None:
    opportunity = _opportunity_of(proposal)
    if opportunity is not None:
        stage = _open_stage(StageKey.PROPOSAL_SENT)
        advance(opportunity, stage, staff, detail=f"{stage.name if stage else ''} · {proposal.label}")


def on_signed(proposal: Proposal, contact=None, **_kw) -> None:
    opportunity = _opportunity_of(proposal)
    if opportunity is None:
        return
    opportunity.last_customer_activity_at = utcnow()
    stage = _open_stage(StageKey.SIGNED)
    advance(opportunity, stage, None, detail=f"{stage.name if stage else ''} · {proposal.label}")
    db.session.flush()


def on_won(proposal: Proposal, staff=None, **_kw) -> None:
    opportunity = _opportunity_of(proposal)
    if opportunity is None:
        return
    stage = lists.stage_by_key(StageKey.WON)
    if stage is None or not stage.is_active or stage.outcome != Outcome.WON:
        stage = lists.first_stage(Outcome.WON)
    advance(opportunity, stage, staff, detail=f"{stage.name if stage else ''} · {proposal.label}")


def _competitor_named(name: str) -> Competitor | None:
    name = " ".join((name or "").split())[:120]
    if not name:
        return None
    found = db.session.scalar(select(Competitor).where(func.lower(Competitor.name) == name.lower()))
    if found is None:
        last = db.session.scalar(select(func.max(Competitor.position))) or 0
        found = Competitor(name=name, position=last + 10, is_active=True)
        db.session.add(found)
        db.session.flush()
    return found


def on_lost(proposal: Proposal, staff=None, reason: str = "", competitor: str = "", detail: str = "", **_kw) -> None:
    opportunity = _opportunity_of(proposal)
    if opportunity is None or opportunity.outcome in Outcome.CLOSED:
        return
    found = lists.lost_reason_by_key(reason) or lists.lost_reason_by_key(LostReasonKey.OTHER)
    reasons = [found] if found is not None else []
    rival = _competitor_named(competitor)
    close_lost(opportunity, reasons, [rival] if rival else [], detail, staff, via=proposal.label)


def connect() -> None:
    """Subscribe the rule to the proposals' signals (called once by ``create_app``;
    connecting again is harmless: blinker keeps one connection per receiver)."""
    signals.proposal_delivered.connect(on_delivered)
    signals.proposal_signed.connect(on_signed)
    signals.proposal_won.connect(on_won)
    signals.proposal_lost.connect(on_lost)
