"""Campaign operations the screen calls: start, run again, deliver all.

Each takes the staff member who acts, flushes, never commits (the view commits once),
and enqueues the background work in the same transaction (``portal.jobs.enqueue``):
a request that rolls back leaves no job, a committed one never lacks its job. The
work itself is in ``portal.domains.campaigns.run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.campaigns.models import Campaign, CampaignStatus, name_key_of
from portal.domains.campaigns.preview import Filters, preview
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem
from portal.jobs import enqueue

NAME_MAX = 120
ZONE_MAX = 80


@dataclass
class CampaignInput:
    """The screen's form, as typed (ids None for "any"; dates parsed or None, with
    ``*_invalid`` for a date that could not be read)."""

    name: str = ""
    service_id: int | None = None
    zone: str = ""
    organization_id: int | None = None
    include_sub_organizations: bool = False
    rep_id: int | None = None
    ends_from: date | None = None
    ends_to: date | None = None
    ends_from_invalid: bool = False
    ends_to_invalid: bool = False


def clean_filters(data: CampaignInput) -> Filters:
    """The filters of ``data``, or InvalidInput with a message per field."""
    errors: dict[str, str] = {}
    service = db.session.get(CatalogItem, data.service_id) if data.service_id else None
    if service is None:
        errors["service_id"] = _("Choose a service.")
    zone = " ".join((data.zone or "").split())
    if len(zone) > ZONE_MAX:
        errors["zone"] = _("At most %(n)s characters.", n=ZONE_MAX)
    if data.organization_id is not None and db.session.get(Organization, data.organization_id) is None:
        errors["organization_id"] = _("Choose an organization from the list.")
    if data.rep_id is not None and db.session.get(StaffUser, data.rep_id) is None:
        errors["rep_id"] = _("Choose a sales rep from the list.")
    if data.ends_from_invalid:
        errors["ends_from"] = _("Type a date (YYYY-MM-DD).")
    if data.ends_to_invalid:
        errors["ends_to"] = _("Type a date (YYYY-MM-DD).")
    if data.ends_from and data.ends_to and data.ends_from > data.ends_to:
        errors["ends_to"] = _("The end of the window comes before its start.")
    if errors:
        raise InvalidInput(errors)
    return Filters(
        service_id=service.id,
        zone=zone,
        organization_id=data.organization_id,
        include_sub_organizations=bool(data.include_sub_organizations and data.organization_id is not None),
        rep_id=data.rep_id,
        ends_from=data.ends_from,
        ends_to=data.ends_to,
    )


def filters_of(campaign: Campaign) -> Filters:
    return Filters(
        service_id=campaign.service_id,
        zone=campaign.zone,
        organization_id=campaign.organization_id,
        include_sub_organizations=campaign.include_sub_organizations,
        rep_id=campaign.rep_id,
        ends_from=campaign.ends_from,
        ends_to=campaign.ends_to,
    )


def _run_job(campaign: Campaign) -> None:
    enqueue(
        "campaigns.run",
        key=f"campaigns.run:{campaign.id}:{campaign.run_count}",
        campaign_id=campaign.id,
        run=campaign.run_count,
    )


def start_campaign(actor: StaffUser, data: CampaignInput) -> Campaign:
    """Name the campaign and queue its run. A used name (whatever the case) is bad
    input, except the same staff member sending the same campaign again (a double
    click that got past the disabled button): that returns the campaign already made."""
    filters = clean_filters(data)
    name = " ".join((data.name or "").split())
    if not name:
        raise InvalidInput({"name": _("Name the campaign.")})
    if len(name) > NAME_MAX:
        raise InvalidInput({"name": _("At most %(n)s characters.", n=NAME_MAX)})
    existing = db.session.scalar(select(Campaign).where(Campaign.name_key == name_key_of(name)))
    if existing is not None:
        if existing.created_by_id == actor.id and filters_of(existing) == filters:
            return existing
        raise InvalidInput({"name": _("A campaign named “%(name)s” exists already: choose another name.", name=name)})
    if not preview(filters, page_size=0).can_run:
        raise InvalidInput(
            {"service_id": _("No property qualifies: no active contract offers this service as optional here.")}
        )
    campaign = Campaign(
        name=name,
        service_id=filters.service_id,
        zone=filters.zone,
        organization_id=filters.organization_id,
        include_sub_organizations=filters.include_sub_organizations,
        rep_id=filters.rep_id,
        ends_from=filters.ends_from,
        ends_to=filters.ends_to,
        status=CampaignStatus.QUEUED,
        created_by_id=actor.id,
        run_count=1,
    )
    try:
        with db.session.begin_nested():
            db.session.add(campaign)
            db.session.flush()
    except IntegrityError:  # the same name, committed a moment ago by someone else
        raise InvalidInput(
            {"name": _("A campaign named “%(name)s” exists already: choose another name.", name=name)}
        ) from None
    _run_job(campaign)
    db.session.flush()
    return campaign


def rerun_campaign(actor: StaffUser, campaign: Campaign, seen_run: int) -> bool:
    """Run the campaign again: contracts that qualify since are added, failed items
    are tried again, made ones stay as they are (their key holds). ``seen_run`` is the
    run the page showed: a second click on the same page changes nothing (False)."""
    if campaign.status == CampaignStatus.QUEUED:
        raise NotAllowed(_("The campaign has not started yet; it runs in a moment."))
    moved = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.run_count == seen_run)
        .values(run_count=Campaign.run_count + 1, status=CampaignStatus.RUNNING, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return False
    db.session.refresh(campaign)
    _run_job(campaign)
    db.session.flush()
    return True


def request_delivery(actor: StaffUser, campaign: Campaign) -> bool:
    """Deliver all: queue one job that delivers every draft proposal of the campaign.
    Asked once while a delivery is under way (a conditional update): a second click,
    or a second person, is told it is on its way (False). Once a delivery has finished
    (or was given up) it may be asked again, for the drafts a later run made or the
    ones left: each request is its own job (its time is in the job's key)."""
    if campaign.status != CampaignStatus.DONE:
        raise NotAllowed(_("Wait for the run to finish before delivering."))
    if not campaign.made_count:
        raise NotAllowed(_("This campaign made no proposal to deliver."))
    now = utcnow()
    asked = db.session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign.id,
            or_(Campaign.delivery_requested_at.is_(None), Campaign.delivery_finished_at.is_not(None)),
        )
        .values(delivery_requested_at=now, delivery_finished_at=None)
        .execution_options(synchronize_session=False)
    )
    if asked.rowcount != 1:
        return False
    enqueue(
        "campaigns.deliver",
        key=f"campaigns.deliver:{campaign.id}:{now.isoformat()}",
        campaign_id=campaign.id,
        staff_id=actor.id,
    )
    db.session.flush()
    db.session.refresh(campaign)
    return True
