"""The demo's properties and contracts: made once, with one service offered as
optional on several active contracts (for the Optional Service Opportunity screen)."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.core.extensions import db
from portal.demo import seed_demo
from portal.domains.contracts.models import Contract, ContractLine, ContractRevision, ContractStatus, LineKind
from portal.domains.customers.models import Site
from portal.domains.proposals.models import CatalogItem


def test_the_demo_has_properties_and_contracts_offering_aeration_once(app):
    with app.app_context():
        seed_demo()
        seed_demo()
        statuses = dict(db.session.execute(select(Contract.status, func.count()).group_by(Contract.status)).all())
        assert statuses[ContractStatus.ACTIVE] == 5
        assert statuses[ContractStatus.DRAFT] == 1 and statuses[ContractStatus.EXPIRED] == 1
        aeration = db.session.scalar(select(CatalogItem.id).where(CatalogItem.code == "AERATE"))
        offering = db.session.scalar(
            select(func.count())
            .select_from(Contract)
            .join(ContractLine, ContractLine.revision_id == Contract.current_revision_id)
            .where(
                Contract.status == ContractStatus.ACTIVE,
                ContractLine.service_id == aeration,
                ContractLine.kind == LineKind.OPTIONAL,
            )
        )
        assert offering >= 3
        assert db.session.scalar(select(func.max(ContractRevision.number))) == 1
        assert db.session.scalar(select(func.count()).select_from(Site).where(Site.site_contact_id.is_not(None))) >= 4
