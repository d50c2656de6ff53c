"""Contracts built directly with the models (the contract operations are another
helper's), and helpers to run a campaign's jobs in the test process."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.campaigns import jobs as _campaign_jobs  # noqa: F401  (registers the handlers)
from portal.domains.campaigns.models import Campaign, CampaignItem
from portal.domains.campaigns.operations import CampaignInput, start_campaign
from portal.domains.contracts.models import Contract, ContractLine, ContractRevision, ContractStatus, LineKind
from portal.domains.customers.models import Contact, Organization, Site
from portal.domains.identity.models import StaffUser
from portal.jobs import queue
from portal.jobs.models import Job, JobStatus

_seq = itertools.count(1)


def make_property(app, organization_id: int, zone: str = "", with_contact: bool = True, name: str | None = None):
    """A property (site) of the organization, with an active site contact (portal on)."""
    with app.app_context():
        n = next(_seq)
        site = Site(organization_id=organization_id, name=name or f"Property {n}", zone=zone)
        db.session.add(site)
        db.session.flush()
        if with_contact:
            contact = Contact(
                organization_id=organization_id,
                first_name="Sid",
                last_name=f"Site{n}",
                email=f"site{n}-{organization_id}@example.test",
            )
            db.session.add(contact)
            db.session.flush()
            site.site_contact_id = contact.id
        db.session.commit()
        return site.id


def _make_current_revision(contract: Contract, number: int, service_id: int, price: str, kind: str) -> ContractRevision:
    """Revision ``number`` of ``contract`` listing the one service at ``price``, made current."""
    revision = ContractRevision(contract_id=contract.id, number=number)
    db.session.add(revision)
    db.session.flush()
    db.session.add(
        ContractLine(
            revision_id=revision.id,
            kind=kind,
            service_id=service_id,
            description="Aeration",
            quantity=Decimal("1"),
            unit_price=Decimal(price),
            position=1,
        )
    )
    contract.current_revision_id = revision.id
    return revision


def make_contract(
    app,
    organization_id: int,
    site_id: int,
    service_id: int,
    price: str = "120.00",
    status: str = ContractStatus.ACTIVE,
    kind: str = LineKind.OPTIONAL,
    currency: str = "USD",
    ends_on: date = date(2027, 12, 31),
    type_id: int | None = None,
) -> int:
    """A contract at the property with revision v.0 listing ``service_id`` (optional by default)."""
    with app.app_context():
        n = next(_seq)
        contract = Contract(
            number=f"C-T{n}",
            organization_id=organization_id,
            site_id=site_id,
            title=f"Contract {n}",
            status=status,
            currency=currency,
            starts_on=date(2026, 1, 1),
            ends_on=ends_on,
            type_id=type_id,
        )
        db.session.add(contract)
        db.session.flush()
        _make_current_revision(contract, 0, service_id, price, kind)
        db.session.commit()
        return contract.id


def new_revision(app, contract_id: int, service_id: int, price: str, kind: str = LineKind.OPTIONAL) -> int:
    """The contract edited: revision N+1 listing the service at ``price``, now current."""
    with app.app_context():
        contract = db.session.get(Contract, contract_id)
        number = db.session.scalar(
            select(ContractRevision.number)
            .where(ContractRevision.contract_id == contract_id)
            .order_by(ContractRevision.number.desc())
        )
        revision = _make_current_revision(contract, number + 1, service_id, price, kind)
        db.session.commit()
        return revision.number


def customer(app, make, name: str | None = None, **columns) -> int:
    """An organization (any columns), its id."""
    return make.organization_with(name, **columns).id


def start(app, actor_id: int, service_id: int, name: str = "Aeration 2027", **filters) -> int:
    """``start_campaign`` committed, as the screen's Run does; the campaign's id."""
    with app.app_context():
        actor = db.session.get(StaffUser, actor_id)
        campaign = start_campaign(actor, CampaignInput(name=name, service_id=service_id, **filters))
        db.session.commit()
        return campaign.id


def work_off(app, worker: str = "test-worker", limit: int = 500) -> int:
    """Run due jobs in this process until none is left (a worker's passes, no mail)."""
    done = 0
    with app.app_context():
        for _ in range(limit):
            job_id = queue.claim_next(worker)
            if job_id is None:
                break
            queue.run_claimed(job_id, worker)
            db.session.remove()
            done += 1
    return done


def campaign_state(app, campaign_id: int) -> Campaign:
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        db.session.expunge(campaign)
        return campaign


def items(app, campaign_id: int) -> list[CampaignItem]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(CampaignItem).where(CampaignItem.campaign_id == campaign_id).order_by(CampaignItem.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def jobs_named(app, name: str) -> list[Job]:
    with app.app_context():
        rows = list(db.session.scalars(select(Job).where(Job.name == name).order_by(Job.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def pending_jobs(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Job.id).where(Job.status == JobStatus.PENDING)).all())


def set_organization(app, organization_id: int, **columns) -> None:
    with app.app_context():
        org = db.session.get(Organization, organization_id)
        for key, value in columns.items():
            setattr(org, key, value)
        db.session.commit()
