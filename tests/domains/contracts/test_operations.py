"""Contract operations without HTTP: header rules, services, revisions, status
changes, expiry and contracts made from won opportunities, on whichever engine the
suite runs on (SQLite by default, PostgreSQL with ``TEST_DATABASE_URL``)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.contracts import operations as contracts
from portal.domains.contracts.models import Contract, ContractLine, ContractRevision, ContractStatus, LineKind
from portal.domains.identity.models import StaffUser
from portal.domains.sales.models import Opportunity
from portal.domains.timeline.models import Subject, TimelineEntry
from tests.contract_factories import contract_input, from_contract, make_contract, won_opportunity


@pytest.fixture
def world(make):
    rep = make.staff(name="Rita Rep")
    org = make.organization("Birch Lane HOA")
    site = make.site(org, "Clubhouse")
    mowing = make.catalog_item("Mowing", "40.00")
    aeration = make.catalog_item("Aeration", "120.00")
    return rep, org, site, mowing, aeration


def _events(contract_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(TimelineEntry.kind)
            .where(TimelineEntry.subject_type == Subject.CONTRACT, TimelineEntry.subject_id == contract_id)
            .order_by(TimelineEntry.id)
        )
    )


def test_a_new_contract_is_a_draft_with_an_empty_v0_and_a_number(app, world):
    rep, org, site, _m, _a = world
    with app.app_context():
        first = contracts.create_contract(db.session.get(StaffUser, rep.id), contract_input(org, site))
        second = contracts.create_contract(db.session.get(StaffUser, rep.id), contract_input(org, site))
        assert first.status == ContractStatus.DRAFT
        assert first.number.startswith("C-") and first.number != second.number
        revision = db.session.get(ContractRevision, first.current_revision_id)
        assert revision.number == 0 and revision.included_total == Decimal("0.00")
        assert _events(first.id) == ["created"]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"ends_on": date.today() - timedelta(days=1)}, "ends_on", "on or after the start"),
        ({"starts_on": date(1900, 1, 1)}, "starts_on", "within 30 years"),
        ({"ends_invalid": True}, "ends_on", "like 2027-03-31"),
        ({"starts_on": None}, "starts_on", "Enter a date"),
        ({"billing_cycle": "weekly"}, "billing_cycle", "billing cycle"),
        ({"currency": "XXX"}, "currency", "currency"),
        ({"site_id": None}, "site_id", "property"),
        ({"type_id": 999999}, "type_id", "type"),
        ({"title": "x" * 201}, "title", "under 200"),
    ],
)
def test_bad_headers_are_refused_with_a_message(app, world, fields, field, words):
    rep, org, site, _m, _a = world
    with app.app_context():
        with pytest.raises(InvalidInput) as refused:
            contracts.create_contract(db.session.get(StaffUser, rep.id), contract_input(org, site, **fields))
        assert words in refused.value.errors[field]


def test_a_property_of_another_organization_is_refused(app, make, world):
    rep, org, _site, _m, _a = world
    other_site = make.site(make.organization("Elsewhere Ltd"), "Depot")
    with app.app_context():
        with pytest.raises(InvalidInput) as refused:
            contracts.create_contract(db.session.get(StaffUser, rep.id), contract_input(org, other_site))
        assert "not one of Birch Lane HOA's" in refused.value.errors["site_id"]


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ({"service_id": 999999}, "service_id", "Choose a service"),
        ({"unit_price": "-1"}, "unit_price", "zero or more"),
        ({"unit_price": "abc"}, "unit_price", "zero or more"),
        ({"quantity": "0"}, "quantity", "greater than zero"),
        ({"quantity": "1000001"}, "quantity", "at most"),
        ({"quantity": "1000000", "unit_price": "9999999999"}, "unit_price", "at most"),
        ({"kind": "maybe"}, "kind", "included or optional"),
    ],
)
def test_bad_services_are_refused_with_a_message(app, world, line, field, words):
    rep, org, site, mowing, _a = world
    contract = make_contract(app, rep, org, site)
    values = {"service_id": mowing.id, "kind": LineKind.INCLUDED, "quantity": "1", "unit_price": "10", **line}
    with app.app_context():
        with pytest.raises(InvalidInput) as refused:
            contracts.add_line(
                db.session.get(StaffUser, rep.id),
                db.session.get(Contract, contract.id),
                contracts.LineInput(**values),
            )
        assert words in refused.value.errors[field]


def test_a_draft_edits_v0_in_place_and_keeps_its_included_total(app, world):
    rep, org, site, mowing, aeration = world
    contract = make_contract(app, rep, org, site, included=[(mowing, 4, "45.00")], optional=[(aeration, 1, "110")])
    with app.app_context():
        loaded = contracts.load_contract(contract.id)
        assert loaded.current_revision.number == 0
        assert loaded.current_revision.included_total == Decimal("180.00")  # the optional one is not counted
        line = contracts.included_lines(loaded.current_revision)[0]
        contracts.update_line(
            db.session.get(StaffUser, rep.id),
            loaded,
            line.id,
            contracts.LineInput(mowing.id, LineKind.INCLUDED, "5", "45.00"),
        )
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(ContractRevision)) == 1
        assert db.session.get(ContractRevision, loaded.current_revision_id).included_total == Decimal("225.00")


def test_changing_an_active_contract_makes_a_new_revision_and_keeps_the_old_one(app, world):
    rep, org, site, mowing, aeration = world
    contract = make_contract(app, rep, org, site, included=[(mowing, 4, "45.00")], active=True)
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        loaded = db.session.get(Contract, contract.id)
        old_revision_id = loaded.current_revision_id
        old_line_id = db.session.scalar(select(ContractLine.id).where(ContractLine.revision_id == old_revision_id))
        contracts.add_line(staff, loaded, contracts.LineInput(aeration.id, LineKind.OPTIONAL, "1", "99.00"))
        db.session.commit()
        assert loaded.current_revision_id != old_revision_id
        v1 = db.session.get(ContractRevision, loaded.current_revision_id)
        assert v1.number == 1 and "Aeration" in v1.note
        # A line id of the superseded revision no longer changes anything.
        with pytest.raises(NotAllowed):
            contracts.remove_line(staff, loaded, old_line_id)
        db.session.rollback()
        loaded = db.session.get(Contract, contract.id)
        new_mowing = db.session.scalar(
            select(ContractLine.id).where(ContractLine.revision_id == v1.id, ContractLine.kind == LineKind.INCLUDED)
        )
        contracts.remove_line(staff, loaded, new_mowing)
        db.session.commit()
        revisions = contracts.revisions_of(loaded)
        assert [r.number for r in revisions] == [0, 1, 2]
        v0 = contracts.load_revision(loaded, 0)
        assert [(line.kind, line.quantity, line.unit_price) for line in v0.lines] == [
            (LineKind.INCLUDED, Decimal("4.000"), Decimal("45.00"))
        ]
        assert v0.included_total == Decimal("180.00")
        assert contracts.load_revision(loaded, 2).included_total == Decimal("0.00")
        assert _events(contract.id).count("revised") == 2


def test_activate_needs_an_included_service_and_a_second_tap_changes_nothing(app, world):
    rep, org, site, mowing, _a = world
    empty = make_contract(app, rep, org, site)
    contract = make_contract(app, rep, org, site, included=[(mowing, 1, "40")])
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        with pytest.raises(NotAllowed, match="at least one included service"):
            contracts.activate_contract(staff, db.session.get(Contract, empty.id))
        db.session.rollback()
        loaded = db.session.get(Contract, contract.id)
        assert contracts.activate_contract(staff, loaded) is True
        assert contracts.activate_contract(staff, loaded) is False
        db.session.commit()
        assert _events(contract.id).count("activated") == 1
        assert contracts.cancel_contract(staff, loaded, "Moved away") is True
        assert contracts.cancel_contract(staff, loaded) is False
        db.session.commit()
        with pytest.raises(NotAllowed, match="cancelled"):
            contracts.add_line(staff, loaded, contracts.LineInput(mowing.id))
        assert _events(contract.id).count("cancelled") == 1


def test_expiry_moves_active_contracts_past_their_end_once(app, world):
    rep, org, site, mowing, _a = world
    today = date.today()
    ending = make_contract(app, rep, org, site, included=[(mowing, 1, "40")], active=True, ends_on=today)
    later = make_contract(
        app, rep, org, site, included=[(mowing, 1, "40")], active=True, ends_on=today + timedelta(days=30)
    )
    draft = make_contract(app, rep, org, site, ends_on=today)
    with app.app_context():
        assert contracts.expire_contracts(today) == 0  # the end day itself is still in force
        assert contracts.expire_contracts(today + timedelta(days=1)) == 1
        db.session.commit()
        assert contracts.expire_contracts(today + timedelta(days=1)) == 0  # idempotent
        db.session.commit()
        assert db.session.get(Contract, ending.id).status == ContractStatus.EXPIRED
        assert db.session.get(Contract, ending.id).expired_at is not None
        assert db.session.get(Contract, later.id).status == ContractStatus.ACTIVE
        assert db.session.get(Contract, draft.id).status == ContractStatus.DRAFT
        assert _events(ending.id).count("expired") == 1


def test_the_expire_job_is_on_the_worker_schedule(app):
    from portal.cli import load_jobs
    from portal.jobs.registry import HANDLERS, SCHEDULE

    load_jobs()
    assert SCHEDULE["contracts.expire"].every == timedelta(days=1)
    assert "contracts.expire" in HANDLERS


def test_a_won_opportunity_makes_one_contract_with_ticked_options_included(app, make, world):
    rep, org, site, mowing, aeration = world
    contact = make.contact(org, portal_enabled=True)
    hedges = make.catalog_item("Hedges", "75.00")
    opportunity, proposal_id = won_opportunity(app, make, rep, org, contact, [mowing], [aeration, hedges], tick=1)
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        from portal.domains.sales.models import Opportunity

        loaded = db.session.get(Opportunity, opportunity.id)
        assert loaded.outcome == "won"
        contract = contracts.contract_from_opportunity(staff, loaded)
        db.session.commit()
        contract = contracts.load_contract(contract.id)
        assert contract.opportunity_id == opportunity.id and contract.site_id == site.id
        assert contract.status == ContractStatus.DRAFT
        included = [(line.service_id, line.quantity) for line in contracts.included_lines(contract.current_revision)]
        optional = [(line.service_id, line.unit_price) for line in contracts.optional_lines(contract.current_revision)]
        assert included == [(mowing.id, Decimal("2.000")), (aeration.id, Decimal("1.000"))]
        assert optional == [(hedges.id, Decimal("75.00"))]
        assert contract.current_revision.included_total == Decimal("200.00")
        assert "free-text" in contract.current_revision.note
        with pytest.raises(NotAllowed, match=f"already made contract {contract.number}"):
            contracts.contract_from_opportunity(staff, loaded)


def test_an_open_opportunity_or_one_without_a_property_makes_no_contract(app, make, world):
    rep, org, _site, mowing, aeration = world
    from tests.sales_factories import make_opportunity

    opportunity = make_opportunity(app, rep, org)
    bare = make.organization("No Property Co")
    contact = make.contact(bare, portal_enabled=True)
    won, _proposal = won_opportunity(app, make, rep, bare, contact, [mowing], [aeration])
    with app.app_context():
        from portal.domains.sales.models import Opportunity

        staff = db.session.get(StaffUser, rep.id)
        with pytest.raises(NotAllowed, match="Only a won opportunity"):
            contracts.contract_from_opportunity(staff, db.session.get(Opportunity, opportunity.id))
        with pytest.raises(NotAllowed, match="Add a property"):
            contracts.contract_from_opportunity(staff, db.session.get(Opportunity, won.id))


def test_the_unique_index_holds_one_contract_per_opportunity(app, make, world):
    rep, org, site, mowing, aeration = world
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, rep, org, contact, [mowing], [aeration])
    first = make_contract(app, rep, org, site)
    second = make_contract(app, rep, org, site)
    from sqlalchemy.exc import IntegrityError

    with app.app_context():
        db.session.get(Contract, first.id).opportunity_id = opportunity.id
        db.session.commit()
        db.session.get(Contract, second.id).opportunity_id = opportunity.id
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_change_from_a_stale_page_is_refused_not_made_twice(app, world):
    """Two staff change an active contract at once: the second works from the revision
    it read, which is no longer in force, so its claim finds no row and it is refused
    (no second v.1, no unique-constraint 500)."""
    rep, org, site, mowing, aeration = world
    contract = make_contract(app, rep, org, site, included=[(mowing, 1, "40")], active=True)
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        first = db.session.get(Contract, contract.id)
        contracts.add_line(staff, first, contracts.LineInput(aeration.id, LineKind.OPTIONAL, "1", "99"))
        db.session.commit()
        stale = db.session.get(Contract, contract.id)  # what the second page read: v.1 in force
        v0 = db.session.scalar(
            select(ContractRevision.id).where(ContractRevision.contract_id == contract.id, ContractRevision.number == 0)
        )
        # Meanwhile the row moved on (another change): the object in hand does not know.
        db.session.execute(
            update(Contract)
            .where(Contract.id == contract.id)
            .values(current_revision_id=v0)
            .execution_options(synchronize_session=False)
        )
        with pytest.raises(NotAllowed, match="changed meanwhile"):
            contracts.add_line(staff, stale, contracts.LineInput(aeration.id, LineKind.OPTIONAL, "1", "98"))
        db.session.rollback()
        assert [r.number for r in contracts.revisions_of(db.session.get(Contract, contract.id))] == [0, 1]


def _lines(revision_id: int) -> list[tuple]:
    return [
        (line.kind, line.description, line.quantity, line.unit_price, line.position)
        for line in db.session.scalars(
            select(ContractLine)
            .where(ContractLine.revision_id == revision_id)
            .order_by(ContractLine.kind, ContractLine.position)
        )
    ]


def test_a_won_campaign_opportunity_adds_its_ticked_option_to_its_active_contract_once(app, make, world):
    rep, org, site, mowing, aeration = world
    contract = make_contract(
        app, rep, org, site, included=[(mowing, 4, "45")], optional=[(aeration, 1, "99")], active=True
    )
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, rep, org, contact, [], [aeration], tick=1)
    opportunity = from_contract(app, opportunity, contract)
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        won = db.session.get(Opportunity, opportunity.id)
        revision = contracts.add_signed_services(staff, won)
        db.session.commit()
        assert revision.label == "v.1" and revision.opportunity_id == opportunity.id
        assert _lines(revision.id) == [
            ("included", "Mowing", Decimal("4.000"), Decimal("45.00"), 1),
            ("included", "Aeration", Decimal("1.000"), Decimal("120.00"), 2),  # the signed price
        ]
        assert revision.included_total == Decimal("300.00")
        old = db.session.scalar(
            select(ContractRevision).where(ContractRevision.contract_id == contract.id, ContractRevision.number == 0)
        )
        assert [row[0] for row in _lines(old.id)] == ["included", "optional"]  # v.0 as it was
        with pytest.raises(NotAllowed, match="Already added to C-.* in v.1"):
            contracts.add_signed_services(staff, db.session.get(Opportunity, opportunity.id))
        kinds = db.session.scalars(
            select(TimelineEntry.detail).where(
                TimelineEntry.subject_type == Subject.OPPORTUNITY,
                TimelineEntry.subject_id == opportunity.id,
                TimelineEntry.kind == "contract_changed",
            )
        ).all()
        assert kinds == [f"{contract.number} v.1"]


def test_a_draft_contract_takes_the_signed_services_in_its_v0(app, make, world):
    rep, org, site, mowing, aeration = world
    contract = make_contract(app, rep, org, site, optional=[(aeration, 1, "99")])
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, rep, org, contact, [mowing], [aeration], tick=1)
    opportunity = from_contract(app, opportunity, contract)
    with app.app_context():
        revision = contracts.add_signed_services(
            db.session.get(StaffUser, rep.id), db.session.get(Opportunity, opportunity.id)
        )
        db.session.commit()
        assert revision.number == 0 and revision.id == contract.current_revision_id
        assert [(kind, name) for kind, name, *_rest in _lines(revision.id)] == [
            ("included", "Mowing"),
            ("included", "Aeration"),
        ]


def test_add_signed_services_refuses_what_it_cannot_do(app, make, world):
    rep, org, site, mowing, aeration = world
    contact = make.contact(org, portal_enabled=True)
    contract = make_contract(app, rep, org, site, included=[(mowing, 1, "40")], optional=[(aeration, 1, "99")])
    nothing_ticked, _p = won_opportunity(app, make, rep, org, contact, [], [aeration], tick=0)
    nothing_ticked = from_contract(app, nothing_ticked, contract)
    plain, _p = won_opportunity(app, make, rep, org, contact, [mowing], [], tick=0)
    cancelled_source = make_contract(app, rep, org, site, included=[(mowing, 1, "40")], active=True)
    on_cancelled, _p = won_opportunity(app, make, rep, org, contact, [mowing], [], tick=0)
    on_cancelled = from_contract(app, on_cancelled, cancelled_source)
    with app.app_context():
        staff = db.session.get(StaffUser, rep.id)
        contracts.cancel_contract(staff, db.session.get(Contract, cancelled_source.id), "Moved")
        db.session.commit()
        for opportunity, message in (
            (nothing_ticked, "signed for no catalog service"),
            (plain, "not made from a contract"),
            (on_cancelled, "is cancelled: make a new contract instead"),
        ):
            with pytest.raises(NotAllowed, match=message):
                contracts.add_signed_services(staff, db.session.get(Opportunity, opportunity.id))
            db.session.rollback()
        reopened = db.session.get(Opportunity, nothing_ticked.id)
        reopened.outcome = "open"
        with pytest.raises(NotAllowed, match="Only a won opportunity"):
            contracts.add_signed_services(staff, reopened)
        db.session.rollback()
        assert (
            db.session.scalar(
                select(func.count()).select_from(ContractRevision).where(ContractRevision.opportunity_id.is_not(None))
            )
            == 0
        )


def test_the_unique_key_holds_one_revision_per_opportunity(app, make, world):
    rep, org, site, mowing, aeration = world
    contract = make_contract(app, rep, org, site, included=[(mowing, 1, "40")], optional=[(aeration, 1, "99")])
    contact = make.contact(org, portal_enabled=True)
    opportunity, _p = won_opportunity(app, make, rep, org, contact, [], [aeration], tick=1)
    with app.app_context():
        db.session.execute(
            update(ContractRevision)
            .where(ContractRevision.id == contract.current_revision_id)
            .values(opportunity_id=opportunity.id)
        )
        db.session.flush()
        other = ContractRevision(contract_id=contract.id, number=5, opportunity_id=opportunity.id)
        db.session.add(other)
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
