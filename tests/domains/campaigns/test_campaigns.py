"""The Optional Service Opportunity campaign without HTTP: the preview's figures, the
run (made together or not at all, never twice, a dropped database connection mid-chunk
included), edits during the run, Deliver all."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.domains.campaigns import run as runs
from portal.domains.campaigns.models import Campaign, CampaignStatus, ItemStatus
from portal.domains.campaigns.operations import CampaignInput, request_delivery, rerun_campaign, start_campaign
from portal.domains.campaigns.preview import Filters, preview
from portal.domains.contracts.models import ContractStatus, LineKind
from portal.domains.customers.models import Contact
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import Proposal, ProposalLine, ProposalStatus
from portal.domains.sales.lists import stage_by_key
from portal.domains.sales.models import Opportunity, OpportunityLine, OpportunityType, Outcome
from portal.domains.sales.models_rules import AssignmentRule, SalesTeam, SalesTeamMember
from portal.mail.models import OutboxMessage
from tests.campaign_factories import (
    campaign_state,
    customer,
    items,
    jobs_named,
    make_contract,
    make_property,
    new_revision,
    start,
    work_off,
)
from tests.factories import make_jobs_due


@pytest.fixture
def world(app, make):
    """The hand-built set: one service offered as optional by

    - Greenleaf (zone North, manager Mia): two active contracts, one expired, one
      cancelled, one draft, one listing the service as *included* only;
    - North Campus, Greenleaf's sub-organization: one active (zone South, its own);
    - Harbor (zone South): one active whose property has no contact, one active that
      already has an open opportunity for the service, one in EUR;
    - and another service nobody lists.
    """
    mia = make.staff(role="sales", name="Mia Manager")
    boss = make.staff(role="manager", name="Bo Boss")
    service = make.catalog_item("Aeration", "100.00")
    nobody = make.catalog_item("Snow removal", "80.00")
    greenleaf = customer(app, make, "Greenleaf", zone="North", account_manager_id=mia.id)
    campus = customer(app, make, "North Campus", zone="South", parent_id=greenleaf)
    harbor = customer(app, make, "Harbor", zone="South")
    ids = {"service": service.id, "nobody": nobody.id, "mia": mia.id, "boss": boss.id}
    ids.update(greenleaf=greenleaf, campus=campus, harbor=harbor)
    g1, g2, g3 = (make_property(app, greenleaf) for _ in range(3))
    ids["g_active_1"] = make_contract(app, greenleaf, g1, service.id, "120.00", ends_on=date(2027, 3, 31))
    ids["g_active_2"] = make_contract(app, greenleaf, g2, service.id, "80.50", ends_on=date(2027, 9, 30))
    make_contract(app, greenleaf, g3, service.id, "99.00", status=ContractStatus.EXPIRED)
    make_contract(app, greenleaf, g3, service.id, "99.00", status=ContractStatus.CANCELLED)
    make_contract(app, greenleaf, g3, service.id, "99.00", status=ContractStatus.DRAFT)
    make_contract(app, greenleaf, g3, service.id, "99.00", kind=LineKind.INCLUDED)
    c1 = make_property(app, campus)
    ids["campus_active"] = make_contract(app, campus, c1, service.id, "60.00")
    h1 = make_property(app, harbor, with_contact=False)
    h2, h3 = make_property(app, harbor), make_property(app, harbor)
    ids["h_no_contact"] = make_contract(app, harbor, h1, service.id, "50.00")
    ids["h_open"] = make_contract(app, harbor, h2, service.id, "70.00")
    ids["h_eur"] = make_contract(app, harbor, h3, service.id, "40.00", currency="EUR")
    with app.app_context():
        sales_type = db.session.scalar(select(OpportunityType.id).where(OpportunityType.key == "sales"))
        stage_id = stage_by_key("new").id
        db.session.add(
            Opportunity(
                title="Earlier",
                organization_id=harbor,
                type_id=sales_type,
                stage_id=stage_id,
                outcome=Outcome.OPEN,
                amount=Decimal("70.00"),
                contract_id=ids["h_open"],
                offered_service_id=service.id,
            )
        )
        db.session.commit()
    return ids


def _preview(app, **filters):
    with app.app_context():
        return preview(Filters(**filters))


def test_preview_counts_active_contracts_whose_current_revision_offers_the_service(app, world):
    found = _preview(app, service_id=world["service"])
    # 2 Greenleaf + 1 campus + 3 Harbor; expired, cancelled, draft and included-only are out
    assert found.count == 6
    assert found.skipped == 1  # Harbor's open opportunity
    assert found.to_make == 5 and found.can_run
    assert found.totals == {"EUR": Decimal("40.00"), "USD": Decimal("310.50")}  # 120 + 80.50 + 60 + 50
    assert len(found.rows) == 6 and [r.already_open for r in found.rows].count(True) == 1


def test_preview_filters_narrow_the_set(app, world):
    service = world["service"]
    assert _preview(app, service_id=service, organization_id=world["greenleaf"]).count == 2
    with_subs = _preview(app, service_id=service, organization_id=world["greenleaf"], include_sub_organizations=True)
    assert with_subs.count == 3
    assert _preview(app, service_id=service, zone="north").count == 2  # the organization's zone, any case
    assert _preview(app, service_id=service, zone="South").count == 4  # campus and Harbor
    assert _preview(app, service_id=service, rep_id=world["mia"]).count == 2  # the account manager
    window = _preview(app, service_id=service, ends_from=date(2027, 1, 1), ends_to=date(2027, 6, 30))
    assert window.count == 1 and window.rows[0].contract_id == world["g_active_1"]


def test_a_service_nobody_offers_previews_zero_and_cannot_run(app, world):
    found = _preview(app, service_id=world["nobody"])
    assert (found.count, found.skipped, found.totals, found.can_run) == (0, 0, {}, False)
    with app.app_context(), pytest.raises(InvalidInput) as refused:
        start_campaign(db.session.get(StaffUser, world["boss"]), CampaignInput(name="Snow", service_id=world["nobody"]))
    assert "service_id" in refused.value.errors


def test_the_preview_pages_by_contract(app, world):
    with app.app_context():
        first = preview(Filters(service_id=world["service"]), page_size=4)
        second = preview(Filters(service_id=world["service"]), after=first.next_after, page_size=4)
    assert len(first.rows) == 4 and first.next_after is not None
    assert len(second.rows) == 2 and second.next_after is None
    assert {r.contract_id for r in first.rows}.isdisjoint(r.contract_id for r in second.rows)


def _made(app, campaign_id: int) -> list[Opportunity]:
    with app.app_context():
        rows = list(db.session.scalars(select(Opportunity).where(Opportunity.campaign_id == campaign_id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_a_run_makes_an_opportunity_and_a_draft_proposal_per_property(app, world):
    campaign_id = start(app, world["boss"], world["service"])
    assert campaign_state(app, campaign_id).status == CampaignStatus.QUEUED
    work_off(app)
    campaign = campaign_state(app, campaign_id)
    assert campaign.status == CampaignStatus.DONE and campaign.finished_at is not None
    assert (campaign.total_items, campaign.made_count, campaign.skipped_count, campaign.failed_count) == (6, 4, 2, 0)
    by_contract = {item.contract_id: item for item in items(app, campaign_id)}
    assert by_contract[world["h_no_contact"]].status == ItemStatus.SKIPPED
    assert "No one to address" in by_contract[world["h_no_contact"]].reason
    assert by_contract[world["h_open"]].status == ItemStatus.SKIPPED
    assert "exists already" in by_contract[world["h_open"]].reason
    with app.app_context():
        maintenance = db.session.scalar(select(OpportunityType.id).where(OpportunityType.key == "maintenance"))
        item = by_contract[world["g_active_1"]]
        opportunity = db.session.get(Opportunity, item.opportunity_id)
        assert (opportunity.amount, opportunity.currency, opportunity.type_id) == (
            Decimal("120.00"),
            "USD",
            maintenance,
        )
        assert (opportunity.contract_id, opportunity.offered_service_id) == (world["g_active_1"], world["service"])
        assert opportunity.campaign_id == campaign_id and opportunity.outcome == Outcome.OPEN
        # No assignment rule: the organization's account manager
        assert opportunity.rep_id == world["mia"]
        (item_line,) = db.session.scalars(
            select(OpportunityLine).where(OpportunityLine.opportunity_id == opportunity.id)
        )
        assert (item_line.service_id, item_line.quantity, item_line.unit_price, item_line.amount) == (
            world["service"],
            Decimal("1.000"),
            Decimal("120.00"),
            opportunity.amount,
        )
        proposal = db.session.get(Proposal, item.proposal_id)
        assert proposal.status == ProposalStatus.DRAFT and proposal.opportunity_id == opportunity.id
        assert proposal.sales_rep_id == world["mia"]
        contact = db.session.get(Contact, proposal.contact_id)
        assert contact.last_name.startswith("Site")  # the property's site contact
        lines = db.session.scalars(select(ProposalLine).where(ProposalLine.proposal_id == proposal.id)).all()
        assert [(l.is_optional, l.unit_price, l.catalog_item_id) for l in lines] == [
            (True, Decimal("120.00"), world["service"])
        ]
        assert (proposal.included_total, proposal.optional_total) == (Decimal("0.00"), Decimal("120.00"))
        # Harbor has no account manager and no rule: the proposal's rep is who ran it
        eur = db.session.get(Proposal, by_contract[world["h_eur"]].proposal_id)
        assert eur.sales_rep_id == world["boss"] and eur.currency == "EUR"
        numbers = db.session.scalars(select(Proposal.number).where(Proposal.opportunity_id.is_not(None))).all()
        assert len(set(numbers)) == 4


def test_the_primary_contact_is_used_when_the_property_has_none(app, world, make):
    harbor = world["harbor"]
    with app.app_context():
        primary = Contact(organization_id=harbor, first_name="Pia", last_name="Primary", email="pia@example.test")
        primary.is_primary = True
        db.session.add(primary)
        db.session.commit()
        primary_id = primary.id
    campaign_id = start(app, world["boss"], world["service"])
    work_off(app)
    item = next(i for i in items(app, campaign_id) if i.contract_id == world["h_no_contact"])
    assert item.status == ItemStatus.MADE
    with app.app_context():
        assert db.session.get(Proposal, item.proposal_id).contact_id == primary_id


def test_round_robin_rules_assign_the_campaigns_opportunities(app, world, make):
    reps = [make.staff(role="sales", name=f"RR {i}") for i in range(2)]
    with app.app_context():
        team = SalesTeam(name="Campaign team", members=[SalesTeamMember(staff_id=r.id, weight=1) for r in reps])
        db.session.add(team)
        db.session.flush()
        db.session.add(AssignmentRule(name="Everything", position=1, team_id=team.id))
        db.session.commit()
    campaign_id = start(app, world["boss"], world["service"])
    work_off(app)
    got = sorted(o.rep_id for o in _made(app, campaign_id))
    assert got == sorted([reps[0].id, reps[0].id, reps[1].id, reps[1].id])


def test_a_second_run_and_a_second_campaign_make_nothing_twice(app, world):
    campaign_id = start(app, world["boss"], world["service"])
    work_off(app)
    with app.app_context():
        assert rerun_campaign(db.session.get(StaffUser, world["boss"]), db.session.get(Campaign, campaign_id), 1)
        db.session.commit()
    work_off(app)
    assert len(_made(app, campaign_id)) == 4
    again = campaign_state(app, campaign_id)
    assert (again.status, again.made_count, again.run_count) == (CampaignStatus.DONE, 4, 2)
    other = start(app, world["boss"], world["service"], name="Aeration again")
    work_off(app)
    state = campaign_state(app, other)
    assert (state.made_count, state.skipped_count) == (0, 6)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Opportunity)) == 5  # 4 + the earlier one
        assert db.session.scalar(select(func.count()).select_from(Proposal)) == 4


def test_a_used_name_is_refused_whatever_its_case_but_a_double_click_returns_the_same(app, world, make):
    first = start(app, world["boss"], world["service"], name="Spring push")
    assert start(app, world["boss"], world["service"], name="  spring   PUSH ") == first  # the same click again
    other = make.staff(role="manager")
    with app.app_context(), pytest.raises(InvalidInput) as refused:
        start_campaign(
            db.session.get(StaffUser, other.id), CampaignInput(name="SPRING push", service_id=world["service"])
        )
    assert "exists already" in refused.value.errors["name"]
    assert len(jobs_named(app, "campaigns.run")) == 1


def test_a_contract_edited_during_the_run_uses_the_revision_current_when_reached(app, world):
    campaign_id = start(app, world["boss"], world["service"])
    with app.app_context():
        runs.begin_run(campaign_id, 1)  # items enumerated with v.0
        db.session.commit()
    new_revision(app, world["g_active_2"], world["service"], "95.00")
    with app.app_context():
        enumerated = items(app, campaign_id)
        runs.process_chunk(campaign_id, enumerated[0].id, enumerated[-1].id)
        db.session.commit()
    item = next(i for i in items(app, campaign_id) if i.contract_id == world["g_active_2"])
    assert item.status == ItemStatus.MADE and item.revision_number == 1 and item.amount == Decimal("95.00")
    assert item.reason == "Used v.1, edited during the run (v.0 when it started)."


def test_a_failure_mid_run_leaves_each_property_complete_or_untouched_and_a_rerun_completes(app, world, monkeypatch):
    monkeypatch.setattr(runs, "CHUNK_SIZE", 2)
    real = runs.reserve_numbers
    calls = {"n": 0}

    def flaky(count):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the database went away mid-run")
        return real(count)

    monkeypatch.setattr(runs, "reserve_numbers", flaky)
    campaign_id = start(app, world["boss"], world["service"])
    work_off(app)
    state = campaign_state(app, campaign_id)
    assert state.status == CampaignStatus.RUNNING and state.made_count < 4
    with app.app_context():
        for item in items(app, campaign_id):
            opportunity = db.session.scalar(
                select(Opportunity).where(
                    Opportunity.contract_id == item.contract_id, Opportunity.campaign_id == campaign_id
                )
            )
            if item.status == ItemStatus.MADE:
                assert opportunity is not None and item.proposal_id is not None
                assert db.session.get(Proposal, item.proposal_id).opportunity_id == opportunity.id
            else:
                assert opportunity is None and item.proposal_id is None
    monkeypatch.setattr(runs, "reserve_numbers", real)
    with app.app_context():
        assert rerun_campaign(db.session.get(StaffUser, world["boss"]), db.session.get(Campaign, campaign_id), 1)
        db.session.commit()
    work_off(app)
    state = campaign_state(app, campaign_id)
    assert (state.status, state.made_count, state.skipped_count) == (CampaignStatus.DONE, 4, 2)
    assert len(_made(app, campaign_id)) == 4


def test_two_campaigns_for_the_same_service_at_once_make_each_opportunity_once(app, world):
    ids = [start(app, world["boss"], world["service"], name=f"Racing {n}") for n in range(3)]
    with app.app_context():
        for campaign_id in ids:
            runs.begin_run(campaign_id, 1)
        db.session.commit()
    chunks = jobs_named(app, "campaigns.chunk")
    barrier = threading.Barrier(len(chunks))
    errors: list[BaseException] = []

    def work(job):
        import json

        payload = json.loads(job.payload)
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                for attempt in range(20):
                    try:
                        runs.process_chunk(**payload)
                        db.session.commit()
                        break
                    except Exception as error:  # SQLite: another writer holds the lock; try again
                        db.session.rollback()
                        if attempt == 19:
                            raise error
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(job,)) for job in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        made = db.session.execute(
            select(Opportunity.contract_id, func.count())
            .where(Opportunity.campaign_id.is_not(None))
            .group_by(Opportunity.contract_id)
        ).all()
        assert len(made) == 4 and all(n == 1 for _c, n in made)
        assert db.session.scalar(select(func.count()).select_from(Proposal)) == 4
    states = [campaign_state(app, i) for i in ids]
    assert sum(s.made_count for s in states) == 4
    assert all(s.status == CampaignStatus.DONE and s.made_count + s.skipped_count == 6 for s in states)


def test_deliver_all_queues_one_mail_per_proposal_exactly_once(app, world):
    campaign_id = start(app, world["boss"], world["service"])
    work_off(app)
    with app.app_context():
        boss = db.session.get(StaffUser, world["boss"])
        assert request_delivery(boss, db.session.get(Campaign, campaign_id)) is True
        db.session.commit()
        assert request_delivery(boss, db.session.get(Campaign, campaign_id)) is False  # the second click
        db.session.commit()
    assert len(jobs_named(app, "campaigns.deliver")) == 1
    work_off(app)
    with app.app_context():
        runs.deliver_all(campaign_id, world["boss"])  # a re-run (a killed worker's job) sends nothing more
        db.session.commit()
        mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "proposal_delivered")).all()
        addressed = sorted(m.to_addr for m in mails)
        contacts = sorted(
            db.session.scalars(select(Contact.email).join(Proposal, Proposal.contact_id == Contact.id)).all()
        )
        assert addressed == contacts and len(mails) == 4
        statuses = db.session.scalars(select(Proposal.status)).all()
        assert set(statuses) == {ProposalStatus.DELIVERED}
    assert campaign_state(app, campaign_id).delivered_count == 4


def _cut_connection(app, cleanups: list):
    """Drop the connection the session is using, as a database restart does: on
    PostgreSQL the server ends its backend (``pg_terminate_backend`` from a second
    connection); on SQLite, whose database is a file with no server to restart, the
    next statement fails as one on a closed connection does."""
    from sqlalchemy import event, text
    from sqlalchemy.exc import OperationalError

    if db.engine.dialect.name == "postgresql":
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        return

    fired = []

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if not fired:
            fired.append(statement)
            raise OperationalError(statement, parameters, Exception("server closed the connection unexpectedly"))

    # Not once=True: that leaves a listener on the engine for the rest of the session,
    # and the portal's driver queries go through SQLAlchemy while any is there.
    engine = db.engine
    event.listen(engine, "before_cursor_execute", refuse)
    cleanups.append(lambda: event.remove(engine, "before_cursor_execute", refuse))


def test_the_database_connection_dropped_mid_chunk_loses_nothing_and_the_retry_completes(app, world, monkeypatch):

    from portal.jobs.models import JobStatus

    monkeypatch.setattr(runs, "CHUNK_SIZE", 2)
    real = runs.reserve_numbers
    cuts = {"n": 0}

    cleanups: list = []

    def cut_once(count):
        if cuts["n"] == 0:  # the second chunk, after its opportunities went in, before its proposals
            cuts["n"] = 1
            _cut_connection(app, cleanups)
        return real(count)

    campaign_id = start(app, world["boss"], world["service"])
    work_off(app, limit=2)  # the enumeration and the first chunk
    monkeypatch.setattr(runs, "reserve_numbers", cut_once)
    try:
        work_off(app)
    finally:
        for cleanup in cleanups:
            cleanup()
    assert cuts["n"] == 1
    failed = [job for job in jobs_named(app, "campaigns.chunk") if job.last_error]
    assert len(failed) == 1 and failed[0].status == JobStatus.PENDING  # waits for its retry
    assert "OperationalError" in failed[0].last_error  # the connection's end, not another error
    with app.app_context():
        # Nothing of the cut chunk was kept: every opportunity has its proposal.
        for opportunity in _made(app, campaign_id):
            assert db.session.scalar(select(func.count()).where(Proposal.opportunity_id == opportunity.id)) == 1
    make_jobs_due(app)
    work_off(app)
    state = campaign_state(app, campaign_id)
    assert (state.status, state.made_count, state.skipped_count, state.failed_count) == (CampaignStatus.DONE, 4, 2, 0)
    made = _made(app, campaign_id)
    assert len(made) == 4 and len({o.contract_id for o in made}) == 4
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Proposal)) == 4
