"""The campaign run, as background jobs of the one worker (``portal.domains.campaigns.jobs``).

``begin_run`` (job ``campaigns.run``) enumerates the qualifying contracts into items
(one INSERT ... SELECT; a contract already an item of the campaign is left as it is),
sets failed items back to pending, recounts, and enqueues one ``campaigns.chunk`` job
per ``CHUNK_SIZE`` pending items. Chunk jobs are ordinary jobs: several workers on
PostgreSQL claim different ones (``FOR UPDATE SKIP LOCKED`` in the queue), a killed
worker's chunk runs again once its lease runs out.

``process_chunk`` makes its items' opportunities and draft proposals in ONE
transaction, the job's own (the queue commits the handler's work together with the
job's "done"): a property's opportunity and proposal exist together or not at all.
Nothing is made twice because the key is the partial unique index
``uq_opportunities_open_contract_service``: the opportunities go in with
``INSERT ... ON CONFLICT (contract_id, offered_service_id) WHERE <the index's
predicate> DO NOTHING``, so a second run, a re-run of a killed chunk, or another
campaign for the same service at the same moment gets no row back for that contract
and marks the item skipped. Each opportunity gets its item (the service offered, as a
line) and its proposal that line as an option. Everything is bulk SQL: one statement per table per chunk
(``portal.core.bulk``: multi-row VALUES on SQLite, arrays on PostgreSQL, RETURNING
the new ids), proposal numbers reserved in one counter step, timeline rows in one
INSERT, no ORM flush per row. Rows go in ordered by contract, so two chunks racing
for the same keys on PostgreSQL wait on each other in one order (no deadlock).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased, selectinload

from portal.core.bulk import insert_rows, update_rows
from portal.core.db import utcnow
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.core.money import fits_money, line_amount
from portal.core.queries.search import search_key
from portal.domains.campaigns.models import Campaign, CampaignItem, CampaignStatus, ItemStatus
from portal.domains.campaigns.operations import filters_of
from portal.domains.campaigns.preview import optional_lines, qualifying
from portal.domains.contracts.models import Contract, ContractLine, ContractRevision, ContractStatus
from portal.domains.customers.models import Contact, Organization, Site
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem, Proposal, ProposalLine, ProposalStatus
from portal.domains.proposals.operations import deliver_proposal, reserve_numbers
from portal.domains.sales.assignment import Facts, Target, plan_assignments, write_assignments
from portal.domains.sales.lists import first_stage, stage_by_key
from portal.domains.sales.models import (
    Opportunity,
    OpportunityLine,
    OpportunityType,
    Outcome,
    StageKey,
)
from portal.domains.sales.models_rules import RuleTarget
from portal.domains.timeline.models import Subject, TimelineEntry
from portal.jobs import enqueue

logger = logging.getLogger("portal.campaigns")

CHUNK_SIZE = 1000
DELIVERY_BATCH = 100


def _insert(table):
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(table)


# --- enumerating ---------------------------------------------------------------------


def begin_run(campaign_id: int, run: int) -> None:
    """Job ``campaigns.run``: items for every qualifying contract (new ones only),
    failed items pending again, counters recounted, a chunk job per slice."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.run_count != run:
        return  # a newer run took over
    filters = filters_of(campaign)
    columns = qualifying(
        filters,
        literal(campaign.id).label("campaign_id"),
        Contract.id,
        Contract.site_id,
        Contract.organization_id,
        literal(ItemStatus.PENDING).label("status"),
        literal("").label("reason"),
        Contract.current_revision_id,
        ContractRevision.number,
        Contract.currency,
    ).join(ContractRevision, ContractRevision.id == Contract.current_revision_id)
    items = CampaignItem.__table__
    db.session.execute(
        _insert(items)
        .from_select(
            [
                "campaign_id",
                "contract_id",
                "site_id",
                "organization_id",
                "status",
                "reason",
                "revision_id",
                "revision_number",
                "currency",
            ],
            columns,
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "contract_id"])
    )
    db.session.execute(
        update(items)
        .where(items.c.campaign_id == campaign.id, items.c.status == ItemStatus.FAILED)
        .values(status=ItemStatus.PENDING, reason="")
    )
    counts = dict(
        db.session.execute(
            select(items.c.status, func.count()).where(items.c.campaign_id == campaign.id).group_by(items.c.status)
        ).all()
    )
    total = sum(counts.values())
    pending = counts.get(ItemStatus.PENDING, 0)
    now = utcnow()
    db.session.execute(
        update(Campaign.__table__)
        .where(Campaign.__table__.c.id == campaign.id)
        .values(
            total_items=total,
            made_count=counts.get(ItemStatus.MADE, 0),
            skipped_count=counts.get(ItemStatus.SKIPPED, 0),
            failed_count=0,
            status=CampaignStatus.RUNNING if pending else CampaignStatus.DONE,
            started_at=campaign.started_at or now,
            finished_at=None if pending else now,
        )
    )
    ids = db.session.scalars(
        select(items.c.id)
        .where(items.c.campaign_id == campaign.id, items.c.status == ItemStatus.PENDING)
        .order_by(items.c.id)
    ).all()
    for start in range(0, len(ids), CHUNK_SIZE):
        part = ids[start : start + CHUNK_SIZE]
        enqueue(
            "campaigns.chunk",
            key=f"campaigns.chunk:{campaign.id}:{run}:{part[0]}",
            campaign_id=campaign.id,
            first_id=part[0],
            last_id=part[-1],
        )
    db.session.expire(campaign)


def abandon_run(campaign_id: int, run: int) -> None:
    """The run's enumeration job was given up: the campaign stops waiting for it (done,
    so the page stops polling and Run again is offered); the page says why, from the
    dead job (``queries.progress``)."""
    table = Campaign.__table__
    db.session.execute(
        update(table)
        .where(
            table.c.id == campaign_id,
            table.c.run_count == run,
            table.c.status.in_((CampaignStatus.QUEUED, CampaignStatus.RUNNING)),
        )
        .values(status=CampaignStatus.DONE, finished_at=utcnow())
    )
    logger.warning("campaign %s: run %s given up before its chunks were made", campaign_id, run)


# --- one chunk -----------------------------------------------------------------------


def _default_type_id() -> int | None:
    """The type of an opportunity whose contract names none: Maintenance, else the first active type."""
    found = db.session.scalar(
        select(OpportunityType.id).where(OpportunityType.key == "maintenance", OpportunityType.is_active)
    )
    if found is None:
        found = db.session.scalar(
            select(OpportunityType.id)
            .where(OpportunityType.is_active)
            .order_by(OpportunityType.position, OpportunityType.id)
        )
    return found


def _chunk_rows(campaign: Campaign, first_id: int, last_id: int) -> list:
    """The pending items of the slice with what making them needs, read in one query at
    the moment the chunk reaches them (so the contract's revision is the current one)."""
    offered = optional_lines(campaign.service_id)
    site_contact = aliased(Contact)
    manager = aliased(StaffUser)
    primary = (
        select(func.min(Contact.id))
        .where(
            Contact.organization_id == Organization.id,
            Contact.is_primary,
            Contact.is_active,
            Contact.portal_enabled,
        )
        .scalar_subquery()
    )
    already_open = (
        select(func.min(Opportunity.id))
        .where(
            Opportunity.contract_id == Contract.id,
            Opportunity.offered_service_id == campaign.service_id,
            Opportunity.outcome == Outcome.OPEN,
        )
        .scalar_subquery()
    )
    usable_site_contact = case(
        (
            and_(
                site_contact.is_active,
                site_contact.portal_enabled,
                site_contact.organization_id == Contract.organization_id,
            ),
            site_contact.id,
        ),
        else_=None,
    )
    return db.session.execute(
        select(
            CampaignItem.id,
            CampaignItem.revision_id,
            CampaignItem.revision_number,
            Contract.id,
            Contract.status,
            Contract.currency,
            Contract.type_id,
            Contract.current_revision_id,
            ContractRevision.number,
            ContractLine.id,
            ContractLine.description,
            ContractLine.quantity,
            ContractLine.unit_price,
            Site.name,
            Organization.id,
            Organization.name,
            Organization.zone,
            Organization.city,
            Organization.is_active,
            case((manager.is_enabled, Organization.account_manager_id), else_=None),
            func.coalesce(usable_site_contact, primary),
            already_open,
        )
        .select_from(CampaignItem)
        .join(Contract, Contract.id == CampaignItem.contract_id)
        .join(Site, Site.id == CampaignItem.site_id)
        .join(Organization, Organization.id == Contract.organization_id)
        .outerjoin(ContractRevision, ContractRevision.id == Contract.current_revision_id)
        .outerjoin(offered, offered.c.revision_id == Contract.current_revision_id)
        .outerjoin(ContractLine, ContractLine.id == offered.c.line_id)
        .outerjoin(site_contact, site_contact.id == Site.site_contact_id)
        .outerjoin(manager, manager.id == Organization.account_manager_id)
        .where(
            CampaignItem.campaign_id == campaign.id,
            CampaignItem.id.between(first_id, last_id),
            CampaignItem.status == ItemStatus.PENDING,
        )
        .order_by(Contract.id)
    ).all()


def _lock_pending(campaign_id: int, first_id: int, last_id: int, *columns) -> list:
    """Lock the slice's pending items (PostgreSQL: a second worker on the same slice
    waits, then finds them done; SQLite's one writer does the same): their ids, or with
    ``columns`` rows of (id, *columns)."""
    query = (
        select(CampaignItem.id, *columns)
        .where(
            CampaignItem.campaign_id == campaign_id,
            CampaignItem.id.between(first_id, last_id),
            CampaignItem.status == ItemStatus.PENDING,
        )
        .order_by(CampaignItem.id)
        .with_for_update()
    )
    return db.session.execute(query).all() if columns else db.session.scalars(query).all()


def process_chunk(campaign_id: int, first_id: int, last_id: int) -> dict:
    """Job ``campaigns.chunk``: make the opportunity and draft proposal of every pending
    item in ``first_id`` .. ``last_id``, or mark it skipped / failed with the reason.
    Returns the counts (for the worker's log)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not _lock_pending(campaign_id, first_id, last_id):
        return {"made": 0, "skipped": 0, "failed": 0}
    now = utcnow()
    service = db.session.get(CatalogItem, campaign.service_id)
    stage = stage_by_key(StageKey.NEW) or first_stage(Outcome.OPEN)
    default_type = _default_type_id()
    context = _("campaign “%(name)s”", name=campaign.name)
    updates: dict[int, dict] = {}
    todo: list[dict] = []

    def finish(item_id: int, status: str, reason: str = "", **values) -> None:
        updates[item_id] = _outcome(item_id, status, reason, now, **values)

    for row in _chunk_rows(campaign, first_id, last_id):
        (
            item_id,
            revision_at_start,
            number_at_start,
            contract_id,
            contract_status,
            currency,
            type_id,
            revision_id,
            revision_number,
            line_id,
            description,
            quantity,
            unit_price,
            site_name,
            organization_id,
            organization_name,
            org_zone,
            org_city,
            org_active,
            manager_id,
            contact_id,
            open_id,
        ) = row
        revision = {"revision_id": revision_id, "revision_number": revision_number}
        if open_id is not None:
            finish(
                item_id,
                ItemStatus.SKIPPED,
                _("An open opportunity for this contract and service exists already (#%(id)s).", id=open_id),
                **revision,
            )
            continue
        if contract_status != ContractStatus.ACTIVE:
            finish(item_id, ItemStatus.SKIPPED, _("The contract is no longer active."), **revision)
            continue
        if line_id is None:
            finish(
                item_id,
                ItemStatus.SKIPPED,
                _("The contract's current revision no longer offers this service."),
                **revision,
            )
            continue
        if contact_id is None or not org_active:
            finish(
                item_id,
                ItemStatus.SKIPPED,
                _("No one to address: the property has no site contact and the organization no primary contact."),
                **revision,
            )
            continue
        amount = line_amount(quantity, unit_price)
        if not fits_money(amount) or (stage is None or (type_id or default_type) is None):
            finish(
                item_id,
                ItemStatus.FAILED,
                _("The price is too large.") if not fits_money(amount) else _("No open stage or type to use."),
                **revision,
            )
            continue
        note = ""
        if revision_at_start is not None and revision_id != revision_at_start:
            note = _(
                "Used v.%(now)s, edited during the run (v.%(then)s when it started).",
                now=revision_number,
                then=number_at_start,
            )
        todo.append(
            {
                "item": item_id,
                "contract_id": contract_id,
                "organization_id": organization_id,
                "organization_name": organization_name,
                "contact_id": contact_id,
                "type_id": type_id or default_type,
                "currency": currency,
                "description": description,
                "quantity": quantity,
                "unit_price": unit_price,
                "amount": amount,
                "site_name": site_name,
                "manager_id": manager_id,
                "facts": Facts(
                    kind=RuleTarget.OPPORTUNITY,
                    source_id=None,
                    type_id=type_id or default_type,
                    zone=org_zone or "",
                    city=org_city or "",
                    amount=amount,
                    currency=currency,
                ),
                "note": note,
                **revision,
            }
        )
    made = _make(campaign, service, stage, todo, now, context) if todo else {}
    for entry in todo:
        result = made.get(entry["contract_id"])
        revision = {"revision_id": entry["revision_id"], "revision_number": entry["revision_number"]}
        if result is None:  # the key was taken meanwhile (another run, another campaign)
            finish(
                entry["item"],
                ItemStatus.SKIPPED,
                _("An open opportunity for this contract and service was made meanwhile."),
                **revision,
            )
            continue
        finish(entry["item"], ItemStatus.MADE, entry["note"], amount=entry["amount"], **revision)
        updates[entry["item"]]["opportunity_id"], updates[entry["item"]]["proposal_id"] = result
    return _record(campaign, list(updates.values()), now)


def abandon_chunk(campaign_id: int, first_id: int, last_id: int) -> None:
    """The chunk's job was given up (every attempt failed, or it stopped the worker each
    time): its pending items become failed, saying so, and the campaign's counters move
    as a chunk's would, so the run ends instead of showing "Running" forever and Run
    again tries them once more."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return
    pending = _lock_pending(campaign_id, first_id, last_id, CampaignItem.revision_id, CampaignItem.revision_number)
    if not pending:
        return
    now = utcnow()
    reason = _("Not made: this part of the run failed every time it was tried. Run again to try once more.")
    logger.warning("campaign %s: chunk %s..%s given up, %s items failed", campaign_id, first_id, last_id, len(pending))
    rows = [
        _outcome(item_id, ItemStatus.FAILED, reason, now, revision_id=revision_id, revision_number=revision_number)
        for item_id, revision_id, revision_number in pending
    ]
    _record(campaign, rows, now)


def _outcome(
    item_id: int,
    status: str,
    reason: str,
    now: datetime,
    revision_id: int | None = None,
    revision_number: int | None = None,
    amount: Decimal | None = None,
) -> dict:
    """An item's row for ``_record`` (a made one gets its ids after the inserts)."""
    return {
        "item": item_id,
        "status": status,
        "reason": reason,
        "revision_id": revision_id,
        "revision_number": revision_number,
        "opportunity_id": None,
        "proposal_id": None,
        "amount": amount,
        "processed_at": now,
    }


OPPORTUNITY_COLUMNS = (
    "title",
    "label_key",
    "organization_id",
    "contact_id",
    "type_id",
    "stage_id",
    "outcome",
    "amount",
    "currency",
    "rep_id",
    "created_by_id",
    "contract_id",
    "offered_service_id",
    "campaign_id",
    "created_at",
    "updated_at",
)
PROPOSAL_COLUMNS = (
    "number",
    "revision",
    "organization_id",
    "contact_id",
    "sales_rep_id",
    "title",
    "currency",
    "terms",
    "internal_notes",
    "status",
    "content_version",
    "included_total",
    "optional_total",
    "opportunity_id",
    "created_at",
    "updated_at",
)
OPPORTUNITY_LINE_COLUMNS = ("opportunity_id", "position", "service_id", "description", "quantity", "unit_price")
LINE_COLUMNS = ("proposal_id", "catalog_item_id", "position", "description", "quantity", "unit_price", "is_optional")
TIMELINE_COLUMNS = ("subject_type", "subject_id", "kind", "staff_id", "contact_id", "detail", "created_at")
ITEM_COLUMNS = (
    "status",
    "reason",
    "revision_id",
    "revision_number",
    "opportunity_id",
    "proposal_id",
    "amount",
    "processed_at",
)
# ON CONFLICT's target: the partial unique index, named by its columns and its predicate
# written as the index has it (PostgreSQL infers a partial index only from a WHERE that
# implies the index's own).
OPEN_KEY_CONFLICT = "(contract_id, offered_service_id) WHERE outcome = 'open' AND contract_id IS NOT NULL DO NOTHING"


def _make(campaign: Campaign, service, stage, todo: list[dict], now: datetime, context: str) -> dict:
    """The bulk writes of one chunk: {contract id: (opportunity id, proposal id)}."""
    picks = plan_assignments([e["facts"] for e in todo], fallback=[e["manager_id"] for e in todo])
    title_of = _("%(service)s at %(property)s")  # translated once, filled per row
    rows = []
    for entry, pick in zip(todo, picks, strict=True):
        title = (title_of % {"service": service.name, "property": entry["site_name"]})[:200]
        entry["title"] = title
        entry["rep_id"] = pick.rep_id
        rows.append(
            (
                title,
                search_key(f"{title} {entry['organization_name']}")[:400],
                entry["organization_id"],
                entry["contact_id"],
                entry["type_id"],
                stage.id,
                Outcome.OPEN,
                entry["amount"],
                entry["currency"],
                pick.rep_id,
                campaign.created_by_id,
                entry["contract_id"],
                campaign.service_id,
                campaign.id,
                now,
                now,
            )
        )
    inserted = insert_rows(
        Opportunity.__table__,
        OPPORTUNITY_COLUMNS,
        rows,
        returning=("id", "contract_id"),
        conflict=OPEN_KEY_CONFLICT,
    )
    opportunity_of = {contract_id: opportunity_id for opportunity_id, contract_id in inserted}
    kept = [(e, p) for e, p in zip(todo, picks, strict=True) if e["contract_id"] in opportunity_of]
    if not kept:
        return {}
    for entry, _pick in kept:
        entry["opportunity_id"] = opportunity_of[entry["contract_id"]]
    # The opportunity's own item, as one typed by staff has: the service offered.
    insert_rows(
        OpportunityLine.__table__,
        OPPORTUNITY_LINE_COLUMNS,
        [
            (e["opportunity_id"], 1, campaign.service_id, e["description"], e["quantity"], e["unit_price"])
            for e, _p in kept
        ],
    )
    numbers = reserve_numbers(len(kept))
    made = insert_rows(
        Proposal.__table__,
        PROPOSAL_COLUMNS,
        [
            (
                number,
                1,
                e["organization_id"],
                e["contact_id"],
                # The opportunity's rep, else the staff member who ran the campaign.
                e["rep_id"] or campaign.created_by_id,
                e["title"],
                e["currency"],
                "",
                "",
                ProposalStatus.DRAFT,
                1,
                Decimal("0.00"),
                e["amount"],
                e["opportunity_id"],
                now,
                now,
            )
            for number, (e, _p) in zip(numbers, kept, strict=True)
        ],
        returning=("id", "opportunity_id"),
    )
    proposal_of = {opportunity_id: proposal_id for proposal_id, opportunity_id in made}
    insert_rows(
        ProposalLine.__table__,
        LINE_COLUMNS,
        [
            (
                proposal_of[e["opportunity_id"]],
                campaign.service_id,
                1,
                e["description"],
                e["quantity"],
                e["unit_price"],
                True,
            )
            for e, _p in kept
        ],
    )
    actor_id = campaign.created_by_id
    created = _("Made by campaign “%(name)s”.", name=campaign.name)
    entries = []
    for e, _p in kept:
        entries.append((Subject.OPPORTUNITY, e["opportunity_id"], "created", actor_id, None, stage.name, now))
        entries.append((Subject.PROPOSAL, proposal_of[e["opportunity_id"]], "created", actor_id, None, created, now))
    write_assignments(
        [Target(Subject.OPPORTUNITY, e["opportunity_id"], e["title"]) for e, _p in kept],
        [p for _e, p in kept],
        actor=None,
        reason_context=context,
        set_rep=False,
        notify=False,  # one mail per rep at the end of the run, not one per chunk
        timeline=entries,
        fresh=True,  # inserted above: no flag to remove
    )
    insert_rows(TimelineEntry.__table__, TIMELINE_COLUMNS, entries)
    return {e["contract_id"]: (e["opportunity_id"], proposal_of[e["opportunity_id"]]) for e, _p in kept}


def _record(campaign: Campaign, rows: list[dict], now: datetime) -> dict:
    """The items' outcomes and the campaign's counters, in the chunk's transaction; the
    chunk that processes the last pending item marks the campaign done."""
    update_rows(
        CampaignItem.__table__,
        "id",
        ITEM_COLUMNS,
        [tuple(r[c] for c in ITEM_COLUMNS) + (r["item"],) for r in rows],
        where="campaign_items.status = 'pending'",
    )
    counts = {status: sum(1 for r in rows if r["status"] == status) for status in ItemStatus.ALL}
    done = len(rows)
    table = Campaign.__table__
    processed = table.c.made_count + table.c.skipped_count + table.c.failed_count
    finished = processed + done >= table.c.total_items
    status = db.session.execute(
        update(table)
        .where(table.c.id == campaign.id)
        .values(
            made_count=table.c.made_count + counts[ItemStatus.MADE],
            skipped_count=table.c.skipped_count + counts[ItemStatus.SKIPPED],
            failed_count=table.c.failed_count + counts[ItemStatus.FAILED],
            status=case((finished, CampaignStatus.DONE), else_=table.c.status),
            finished_at=case((finished, now), else_=table.c.finished_at),
        )
        .returning(table.c.status)
    ).scalar_one()
    if status == CampaignStatus.DONE and done:
        _mail_reps(campaign)
    db.session.expire(campaign)
    return {
        "made": counts[ItemStatus.MADE],
        "skipped": counts[ItemStatus.SKIPPED],
        "failed": counts[ItemStatus.FAILED],
    }


def _mail_reps(campaign: Campaign) -> None:
    """At the end of a run, one mail per rep listing the campaign's opportunities they
    received (the rules' mail, once per run rather than once per chunk)."""
    from portal.mail.outbox import queue_mail

    rows = db.session.execute(
        select(Opportunity.rep_id, Opportunity.title)
        .where(Opportunity.campaign_id == campaign.id, Opportunity.rep_id.is_not(None))
        .order_by(Opportunity.rep_id, Opportunity.id)
    ).all()
    per_rep: dict[int, list[str]] = {}
    for rep_id, title in rows:
        per_rep.setdefault(rep_id, []).append(title)
    if not per_rep:
        return
    people = {p.id: p for p in db.session.scalars(select(StaffUser).where(StaffUser.id.in_(per_rep)))}
    context = _("campaign “%(name)s”", name=campaign.name)
    for rep_id, labels in per_rep.items():
        rep = people.get(rep_id)
        if rep is None or not rep.is_enabled:
            continue
        queue_mail(
            rep.email,
            _("Assigned to you: %(n)s new (%(context)s)", n=len(labels), context=context),
            "sales_assigned_many",
            kind="sales_assigned",
            user=rep,
            labels=labels[:30],
            more=max(len(labels) - 30, 0),
            context=context,
        )


# --- deliver all ---------------------------------------------------------------------


def abandon_delivery(campaign_id: int, staff_id: int) -> None:
    """The delivery job was given up: it stops counting as under way, so the page
    offers Deliver all again for the proposals it did not send (what it sent stays
    sent: each batch committed with its mails)."""
    table = Campaign.__table__
    db.session.execute(
        update(table)
        .where(table.c.id == campaign_id, table.c.delivery_finished_at.is_(None))
        .values(delivery_finished_at=utcnow())
    )
    logger.warning("campaign %s: delivery given up; Deliver all is offered again", campaign_id)


def deliver_all(campaign_id: int, staff_id: int) -> int:
    """Job ``campaigns.deliver``: every draft proposal of the campaign delivered to its
    contact through ``deliver_proposal`` (one outbox mail each, in the contact's
    language), a batch per commit. Exactly once: a proposal leaves "draft" in the
    same transaction as its mail, so a killed worker's re-run passes over it; the job's
    key makes one job however often the button was pressed."""
    staff = db.session.get(StaffUser, staff_id)
    campaign = db.session.get(Campaign, campaign_id)
    if staff is None or campaign is None:
        return 0
    delivered = 0
    after = 0
    while True:
        ids = db.session.scalars(
            select(Proposal.id)
            .join(CampaignItem, CampaignItem.proposal_id == Proposal.id)
            .where(
                CampaignItem.campaign_id == campaign_id,
                Proposal.status == ProposalStatus.DRAFT,
                Proposal.id > after,
            )
            .order_by(Proposal.id)
            .limit(DELIVERY_BATCH)
        ).all()
        if not ids:
            break
        after = ids[-1]
        batch = db.session.scalars(
            select(Proposal)
            .where(Proposal.id.in_(ids), Proposal.status == ProposalStatus.DRAFT)
            .options(
                selectinload(Proposal.lines),
                selectinload(Proposal.contact).selectinload(Contact.organization),
                selectinload(Proposal.organization),
            )
            .order_by(Proposal.id)
            .with_for_update(of=Proposal.__table__)
        ).all()
        sent = 0
        for proposal in batch:
            try:
                with db.session.begin_nested():
                    deliver_proposal(proposal, staff)
                sent += 1
            except DomainError as error:  # e.g. the contact lost portal access since
                logger.info("campaign %s: proposal %s not delivered: %s", campaign_id, proposal.id, error)
        table = Campaign.__table__
        db.session.execute(
            update(table).where(table.c.id == campaign_id).values(delivered_count=table.c.delivered_count + sent)
        )
        db.session.commit()
        delivered += sent
    table = Campaign.__table__
    db.session.execute(update(table).where(table.c.id == campaign_id).values(delivery_finished_at=utcnow()))
    return delivered
