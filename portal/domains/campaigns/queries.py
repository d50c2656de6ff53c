"""Read models of the campaign pages: the list, progress, the counts by state with
the funnel, the amount won, and the items filtered by state (keyset pages).

Each page is a fixed number of queries whatever the number of items (grouped
counts; one page of rows with what it shows joined in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import selectinload

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.money import sum_money
from portal.domains.campaigns.models import Campaign, CampaignItem, CampaignStatus, ItemStatus
from portal.domains.contracts.models import Contract
from portal.domains.customers.models import Organization, Site
from portal.domains.proposals.models import Proposal, ProposalStatus
from portal.domains.sales.models import LostReason, LostReasonKey, Opportunity, Outcome, opportunity_lost_reasons
from portal.jobs.models import Job, JobStatus

PAGE_SIZE = 50
LIST_PAGE_SIZE = 50


class State:
    """Where a made item stands in the sales process (the page's counts and filter)."""

    OPEN = "open"
    DELIVERED = "delivered"
    SIGNED = "signed"
    WON = "won"
    LOST = "lost"
    NO_REPLY = "no_reply"

    MADE = (OPEN, DELIVERED, SIGNED, WON, LOST, NO_REPLY)
    # The list's filter also takes the items that made nothing.
    FILTERS = (*MADE, ItemStatus.SKIPPED, ItemStatus.FAILED, ItemStatus.PENDING)


def load_campaign(campaign_id: int) -> Campaign | None:
    return db.session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(
            selectinload(Campaign.service),
            selectinload(Campaign.created_by),
            selectinload(Campaign.organization),
            selectinload(Campaign.rep),
        )
    )


def list_campaigns(before: int | None = None, page_size: int = LIST_PAGE_SIZE) -> tuple[list[Campaign], int | None]:
    """Newest first, keyset by id: a page and the cursor of the next one."""
    query = (
        select(Campaign)
        .options(selectinload(Campaign.service), selectinload(Campaign.created_by))
        .order_by(Campaign.id.desc())
        .limit(page_size + 1)
    )
    if before is not None:
        query = query.where(Campaign.id < before)
    found = list(db.session.scalars(query))
    more = found[page_size:]
    found = found[:page_size]
    return found, (found[-1].id if more else None)


# --- progress ------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    status: str
    total: int
    made: int
    skipped: int
    failed: int
    seconds_left: int | None  # None: unknown yet, or done
    retrying: int = 0  # parts of the run that failed and wait for their next attempt
    retry_at: datetime | None = None  # the first of those next attempts
    run_given_up: bool = False  # the latest run's enumeration failed every attempt

    @property
    def processed(self) -> int:
        return self.made + self.skipped + self.failed

    @property
    def percent(self) -> int:
        if self.status == CampaignStatus.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0

    @property
    def is_done(self) -> bool:
        return self.status == CampaignStatus.DONE


def progress(campaign: Campaign, now: datetime | None = None) -> Progress:
    """The figures of the progress bar, and the time left at the rate so far."""
    left = None
    processed = campaign.processed
    if campaign.status == CampaignStatus.RUNNING and campaign.started_at and processed and campaign.total_items:
        elapsed = max(((now or utcnow()) - campaign.started_at).total_seconds(), 0.001)
        remaining = max(campaign.total_items - processed, 0)
        left = int(round(remaining * elapsed / processed))
    retrying, retry_at, given_up = 0, None, False
    if campaign.status != CampaignStatus.DONE:
        # A job of the run whose attempt failed waits for its next one (the queue's
        # backoff): the page says so rather than a bar that stands still without a word.
        retrying, retry_at = db.session.execute(
            select(func.count(), func.min(Job.run_at)).where(
                Job.status == JobStatus.PENDING,
                Job.last_error.is_not(None),
                or_(
                    Job.key.startswith(f"campaigns.run:{campaign.id}:", autoescape=True),
                    Job.key.startswith(f"campaigns.chunk:{campaign.id}:", autoescape=True),
                ),
            )
        ).one()
    else:  # one lookup by the job's unique key
        given_up = (
            db.session.scalar(
                select(Job.id).where(
                    Job.key == f"campaigns.run:{campaign.id}:{campaign.run_count}", Job.status == JobStatus.DEAD
                )
            )
            is not None
        )
    return Progress(
        status=campaign.status,
        total=campaign.total_items,
        made=campaign.made_count,
        skipped=campaign.skipped_count,
        failed=campaign.failed_count,
        seconds_left=left,
        retrying=retrying,
        retry_at=retry_at,
        run_given_up=given_up,
    )


def time_left_text(seconds: int | None) -> str:
    from flask_babel import format_timedelta

    if seconds is None:
        return ""
    return format_timedelta(timedelta(seconds=max(seconds, 1)), threshold=1.1)


# --- states --------------------------------------------------------------------------


def _no_reply():
    return exists().where(
        opportunity_lost_reasons.c.opportunity_id == Opportunity.id,
        opportunity_lost_reasons.c.lost_reason_id == LostReason.id,
        LostReason.key == LostReasonKey.NO_REPLY,
    )


def state_of_item():
    """The SQL of a made item's ``State`` (from its opportunity and its proposal)."""
    return case(
        (Opportunity.outcome == Outcome.WON, State.WON),
        (and_(Opportunity.outcome == Outcome.LOST, _no_reply()), State.NO_REPLY),
        (Opportunity.outcome == Outcome.LOST, State.LOST),
        (Proposal.signed_at.is_not(None), State.SIGNED),
        (Proposal.status != ProposalStatus.DRAFT, State.DELIVERED),
        else_=State.OPEN,
    )


@dataclass(frozen=True)
class Results:
    """Counts by state, the funnel's steps and the amount won per currency."""

    by_state: dict[str, int]
    funnel: list[tuple[str, int]]  # (step key, count), each a subset of the one before
    won: dict[str, Decimal]


def results(campaign: Campaign) -> Results:
    """Two grouped queries over the campaign's made items."""
    state = state_of_item().label("state")
    base = (
        select(state, func.count())
        .select_from(CampaignItem)
        .join(Opportunity, Opportunity.id == CampaignItem.opportunity_id)
        .outerjoin(Proposal, Proposal.id == CampaignItem.proposal_id)
        .where(CampaignItem.campaign_id == campaign.id, CampaignItem.status == ItemStatus.MADE)
        .group_by(state)
    )
    by_state = dict.fromkeys(State.MADE, 0)
    by_state.update({key: count for key, count in db.session.execute(base).all()})
    steps = db.session.execute(
        select(
            func.count(),
            func.count(Proposal.delivered_at),
            func.count(Proposal.signed_at),
            func.sum(case((Opportunity.outcome == Outcome.WON, 1), else_=0)),
        )
        .select_from(CampaignItem)
        .join(Opportunity, Opportunity.id == CampaignItem.opportunity_id)
        .outerjoin(Proposal, Proposal.id == CampaignItem.proposal_id)
        .where(CampaignItem.campaign_id == campaign.id, CampaignItem.status == ItemStatus.MADE)
    ).one()
    won_rows = db.session.execute(
        select(Opportunity.currency, Opportunity.amount).where(
            Opportunity.campaign_id == campaign.id, Opportunity.outcome == Outcome.WON
        )
    ).all()
    won: dict[str, list[Decimal]] = {}
    for currency, amount in won_rows:
        won.setdefault(currency, []).append(amount)
    return Results(
        by_state=by_state,
        funnel=[("made", steps[0]), ("delivered", steps[1]), ("signed", steps[2]), ("won", int(steps[3] or 0))],
        won={currency: sum_money(amounts) for currency, amounts in sorted(won.items())},
    )


# --- the items -----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    id: int
    status: str
    state: str | None
    reason: str
    organization_name: str
    site_name: str
    contract_number: str
    revision_number: int | None
    amount: Decimal | None
    currency: str
    opportunity_id: int | None
    proposal_id: int | None
    proposal_number: int | None


def item_page(
    campaign: Campaign, state: str | None = None, after: int | None = None, page_size: int = PAGE_SIZE
) -> tuple[list[ItemRow], int | None]:
    """One page of the campaign's items (by id), filtered by ``State`` or item status."""
    state_column = state_of_item()
    query = (
        select(
            CampaignItem.id,
            CampaignItem.status,
            case((CampaignItem.status == ItemStatus.MADE, state_column), else_=None),
            CampaignItem.reason,
            Organization.name,
            Site.name,
            Contract.number,
            CampaignItem.revision_number,
            CampaignItem.amount,
            CampaignItem.currency,
            CampaignItem.opportunity_id,
            CampaignItem.proposal_id,
            Proposal.number,
        )
        .select_from(CampaignItem)
        .join(Organization, Organization.id == CampaignItem.organization_id)
        .join(Site, Site.id == CampaignItem.site_id)
        .join(Contract, Contract.id == CampaignItem.contract_id)
        .outerjoin(Opportunity, Opportunity.id == CampaignItem.opportunity_id)
        .outerjoin(Proposal, Proposal.id == CampaignItem.proposal_id)
        .where(CampaignItem.campaign_id == campaign.id)
        .order_by(CampaignItem.id)
        .limit(page_size + 1)
    )
    if state in State.MADE:
        query = query.where(CampaignItem.status == ItemStatus.MADE, state_column == state)
    elif state in (ItemStatus.SKIPPED, ItemStatus.FAILED, ItemStatus.PENDING):
        query = query.where(CampaignItem.status == state)
    if after is not None:
        query = query.where(CampaignItem.id > after)
    rows = [ItemRow(*row) for row in db.session.execute(query).all()]
    more = rows[page_size:]
    rows = rows[:page_size]
    return rows, (rows[-1].id if more else None)
