"""Assignment rules without HTTP, on SQLite and PostgreSQL (``TEST_DATABASE_URL``):
each condition, the order, eligibility (disabled, on leave in the rep's own time zone),
round robin (plain, weighted, a rep back from leave), the flag when nobody can take
it, the timeline and the mail, and fairness under concurrent creation."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.sales.assignment import assign_owner, reassign_automatically, unassigned_flagged
from portal.domains.sales.models import Opportunity
from portal.domains.sales.models_rules import AssignmentRule, RuleCounter, RuleTarget, StaffAbsence
from portal.domains.timeline.models import TimelineEntry
from portal.mail.models import OutboxMessage
from tests.domains.sales import rules_support as build

NOON = datetime(2030, 6, 12, 12, 0)  # a Wednesday


def _timeline(subject_id: int, kind: str) -> list[str]:
    return list(
        db.session.scalars(
            select(TimelineEntry.detail).where(TimelineEntry.subject_id == subject_id, TimelineEntry.kind == kind)
        )
    )


def test_source_condition_picks_the_rule_and_others_fall_through(ctx):
    web, referral = build.source("website"), build.source("referral")
    ana, ben = build.person(name="Ana"), build.person(name="Ben")
    build.rule("Web leads", 1, source_id=web.id, rep_id=ana.id)
    build.rule("Everything else", 2, rep_id=ben.id)
    from_web = build.opportunity(source_id=web.id)
    from_referral = build.opportunity(source_id=referral.id)
    assert assign_owner(from_web, now=NOON).id == ana.id
    assert assign_owner(from_referral, now=NOON).id == ben.id
    assert (from_web.rep_id, from_referral.rep_id) == (ana.id, ben.id)


def test_type_condition(ctx):
    ana, ben = build.person(), build.person()
    build.rule("Support", 1, type_id=build.kind("support").id, rep_id=ana.id)
    build.rule("Rest", 2, rep_id=ben.id)
    assert assign_owner(build.opportunity(type_id=build.kind("support").id), now=NOON).id == ana.id
    assert assign_owner(build.opportunity(type_id=build.kind("maintenance").id), now=NOON).id == ben.id


def test_zone_and_city_conditions_read_the_organization_case_blind(ctx):
    ana, ben, cy = build.person(), build.person(), build.person()
    north = Organization(name="North Co", city="Albany", zone="North")
    south = Organization(name="South Co", city="Austin", zone="South")
    db.session.add_all([north, south])
    db.session.flush()
    build.rule("North zone", 1, zone="north", rep_id=ana.id)
    build.rule("Austin", 2, city="AUSTIN", rep_id=ben.id)
    build.rule("Rest", 3, rep_id=cy.id)
    assert assign_owner(build.opportunity(organization_id=north.id), now=NOON).id == ana.id
    assert assign_owner(build.opportunity(organization_id=south.id), now=NOON).id == ben.id
    assert assign_owner(build.opportunity(), now=NOON).id == cy.id  # from a lead: no organization


def test_amount_range_includes_both_bounds_and_a_lead_has_no_amount(ctx):
    big, small, leads = build.person(), build.person(), build.person()
    build.rule("Big deals", 1, amount_min=Decimal("10000.00"), amount_max=Decimal("50000.00"), rep_id=big.id)
    build.rule("Leads", 2, applies_to=RuleTarget.LEAD, rep_id=leads.id)
    build.rule("Opportunities", 3, applies_to=RuleTarget.OPPORTUNITY, rep_id=small.id)
    assert assign_owner(build.opportunity(amount=Decimal("10000.00")), now=NOON).id == big.id
    assert assign_owner(build.opportunity(amount=Decimal("50000.00")), now=NOON).id == big.id
    assert assign_owner(build.opportunity(amount=Decimal("50000.01")), now=NOON).id == small.id
    assert assign_owner(build.opportunity(amount=Decimal("9999.99")), now=NOON).id == small.id
    assert assign_owner(build.lead(), now=NOON).id == leads.id


def test_first_matching_rule_wins_and_inactive_rules_are_skipped(ctx):
    ana, ben, cy = build.person(), build.person(), build.person()
    build.rule("Off", 1, rep_id=cy.id, is_active=False)
    build.rule("Second", 3, rep_id=ben.id)
    build.rule("First", 2, rep_id=ana.id)
    assert assign_owner(build.opportunity(), now=NOON).id == ana.id


def test_the_rule_and_why_go_on_the_timeline_and_the_rep_gets_a_mail(ctx):
    ana = build.person(name="Ana Rep")
    actor = build.person(role="manager", name="Mona")
    build.rule("Web to Ana", 1, source_id=build.source("website").id, rep_id=ana.id)
    opp = build.opportunity(title="Hedge trimming", source_id=build.source("website").id)
    assign_owner(opp, actor=actor, reason_context="staff form", now=NOON)
    db.session.commit()
    [detail] = _timeline(opp.id, "assigned")
    assert "Web to Ana" in detail and "source matches" in detail and "staff form" in detail and "Ana Rep" in detail
    [mail] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "sales_assigned"))
    assert mail.to_addr == ana.email and "Hedge trimming" in mail.subject and "Web to Ana" in mail.body_text


def test_a_rep_assigning_to_themselves_gets_no_mail(ctx):
    ana = build.person()
    build.rule("All", 1, rep_id=ana.id)
    assign_owner(build.opportunity(), actor=ana, now=NOON)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_record_with_a_rep_is_left_alone(ctx):
    ana, ben = build.person(), build.person()
    build.rule("All", 1, rep_id=ana.id)
    opp = build.opportunity(rep_id=ben.id)
    assert assign_owner(opp, now=NOON) is None
    assert opp.rep_id == ben.id


def test_a_named_rep_on_leave_leaves_it_unassigned_and_flagged(ctx):
    ana = build.person()
    build.rule("Ana's", 1, rep_id=ana.id)
    db.session.add(StaffAbsence(staff_id=ana.id, starts_on=date(2030, 6, 10), ends_on=date(2030, 6, 14)))
    opp = build.opportunity(title="Nobody home")
    assert assign_owner(opp, now=NOON) is None
    db.session.commit()
    assert opp.rep_id is None
    [flagged] = unassigned_flagged()
    assert (flagged.subject_type, flagged.id, flagged.label) == ("opportunity", opp.id, "Nobody home")
    assert "Ana's" in flagged.reason
    assert _timeline(opp.id, "unassigned")
    # The day after the leave she is back.
    assert assign_owner(opp, now=NOON + timedelta(days=3)).id == ana.id
    db.session.commit()
    assert unassigned_flagged() == []


def test_no_matching_rule_is_flagged_too(ctx):
    build.rule("Leads only", 1, applies_to=RuleTarget.LEAD, rep_id=build.person().id)
    opp = build.opportunity()
    assert assign_owner(opp, now=NOON) is None
    assert [f.id for f in unassigned_flagged()] == [opp.id]


def test_a_flagged_record_given_a_rep_by_hand_leaves_the_list(ctx):
    opp = build.opportunity()
    assign_owner(opp, now=NOON)
    assert len(unassigned_flagged()) == 1
    opp.rep_id = build.person().id
    db.session.flush()
    assert unassigned_flagged() == []


def test_a_disabled_rep_is_not_eligible(ctx):
    ana, ben = build.person(), build.person()
    ana.is_enabled = False
    build.rule("Team", 1, team_id=build.team("Pair", [ana, ben]).id)
    assert {assign_owner(build.opportunity(), now=NOON).id for _ in range(4)} == {ben.id}


def test_leave_is_read_on_the_reps_own_date(ctx):
    # 23:30 UTC on the 11th is already the 12th in Tokyo: Kenji's leave (the 12th) has begun.
    kenji = build.person(timezone="Asia/Tokyo")
    db.session.add(StaffAbsence(staff_id=kenji.id, starts_on=date(2030, 6, 12), ends_on=date(2030, 6, 12)))
    build.rule("Kenji", 1, rep_id=kenji.id)
    assert assign_owner(build.opportunity(), now=datetime(2030, 6, 11, 14, 0)).id == kenji.id
    assert assign_owner(build.opportunity(), now=datetime(2030, 6, 11, 23, 30)) is None


def test_round_robin_takes_turns(ctx):
    reps = [build.person(name=f"R{i}") for i in range(3)]
    build.rule("RR", 1, team_id=build.team("Three", reps).id)
    picks = [assign_owner(build.opportunity(), now=NOON).id for _ in range(7)]
    assert picks == [reps[i % 3].id for i in range(7)]


def test_weighted_round_robin_is_proportional(ctx):
    heavy, light = build.person(), build.person()
    build.rule("RR", 1, team_id=build.team("Weighted", [(heavy, 2), (light, 1)]).id)
    counts = Counter(assign_owner(build.opportunity(), now=NOON).id for _ in range(30))
    assert counts == {heavy.id: 20, light.id: 10}


def test_a_rep_back_from_leave_rejoins_one_round_behind(ctx):
    ana, ben, cy = build.person(), build.person(), build.person()
    rule = build.rule("RR", 1, team_id=build.team("Three", [ana, ben, cy]).id)
    db.session.add(StaffAbsence(staff_id=cy.id, starts_on=date(2030, 6, 1), ends_on=date(2030, 6, 12)))
    for _ in range(10):
        assert assign_owner(build.opportunity(), now=NOON).id in (ana.id, ben.id)
    back = NOON + timedelta(days=1)
    picks = Counter(assign_owner(build.opportunity(), now=back).id for _ in range(9))
    # Cy does not take all nine to catch up on ten: the three stay within one of each other.
    assert picks[cy.id] in (3, 4) and max(picks.values()) - min(picks.values()) <= 1
    counters = {
        c.staff_id: c.assigned for c in db.session.scalars(select(RuleCounter).where(RuleCounter.rule_id == rule.id))
    }
    assert max(counters.values()) - min(counters.values()) <= 1


def test_round_robin_with_everyone_away_is_flagged(ctx):
    ana = build.person()
    build.rule("RR", 1, team_id=build.team("Solo", [ana]).id)
    db.session.add(StaffAbsence(staff_id=ana.id, starts_on=date(2030, 6, 12), ends_on=date(2030, 6, 12)))
    opp = build.opportunity()
    assert assign_owner(opp, now=NOON) is None
    assert [f.id for f in unassigned_flagged()] == [opp.id]


def test_leads_are_assigned_and_flagged_like_opportunities(ctx):
    ana = build.person()
    build.rule("Quote page", 1, source_id=build.source("quote_page").id, rep_id=ana.id)
    lead = build.lead(source_id=build.source("quote_page").id)
    assert assign_owner(lead, reason_context="quote request", now=NOON).id == ana.id
    stray = build.lead(name="Stray lead")
    assert assign_owner(stray, now=NOON) is None
    assert [(f.subject_type, f.label) for f in unassigned_flagged()] == [("lead", "Stray lead")]


def test_reassigning_automatically_runs_the_rules_again(ctx):
    ana, ben = build.person(), build.person()
    build.rule("RR", 1, team_id=build.team("Pair", [ana, ben]).id)
    opp = build.opportunity(rep_id=ana.id)
    db.session.add(StaffAbsence(staff_id=ana.id, starts_on=date(2030, 6, 12), ends_on=date(2030, 6, 12)))
    assert reassign_automatically(opp, actor=ana, now=NOON).id == ben.id
    assert opp.rep_id == ben.id
    assert any("reassigned automatically" in d for d in _timeline(opp.id, "assigned"))


# --- fairness under concurrency ------------------------------------------------------


def _assign_concurrently(app, rule_id: int, threads: int, per_thread: int) -> list[int]:
    """``threads`` workers released together by a barrier, each creating and assigning
    ``per_thread`` opportunities in its own transaction; the reps they got."""
    barrier = threading.Barrier(threads)
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work():
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                for _ in range(per_thread):
                    opp = build.opportunity()
                    rep = assign_owner(opp, reason_context="concurrency test", now=NOON)
                    db.session.commit()
                    with lock:
                        got.append(rep.id)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    return got


@pytest.mark.parametrize("weights", [(1, 1, 1, 1), (3, 2, 1)], ids=["equal", "weighted"])
def test_round_robin_stays_fair_under_concurrent_creation(app, weights):
    with app.app_context():
        reps = [build.person(name=f"Concurrent {i}") for i in range(len(weights))]
        rule = build.rule("RR", 1, team_id=build.team("Racing", list(zip(reps, weights, strict=True))).id)
        db.session.commit()
        rep_ids, rule_id = [r.id for r in reps], rule.id
        db.session.remove()
    got = _assign_concurrently(app, rule_id, threads=8, per_thread=6)
    counts = Counter(got)
    assert sum(counts.values()) == 48
    total_weight = sum(weights)
    for rep_id, weight in zip(rep_ids, weights, strict=True):
        # Proportional within one: each rep's count is within one of its exact share.
        assert abs(counts[rep_id] - 48 * weight / total_weight) <= 1, counts
    with app.app_context():
        stored = {
            c.staff_id: c.assigned
            for c in db.session.scalars(select(RuleCounter).where(RuleCounter.rule_id == rule_id))
        }
        assert stored == dict(counts)
        assert db.session.get(AssignmentRule, rule_id).fired_count == 48
        assert db.session.scalar(select(func.count()).select_from(Opportunity).where(Opportunity.rep_id.is_(None))) == 0
        db.session.remove()


def test_a_batch_takes_turns_in_the_same_ledger_and_mails_each_owner_once(ctx):
    from portal.domains.sales.assignment import assign_owners

    ana, ben, cy = build.person(name="Ana"), build.person(name="Ben"), build.person(name="Cy")
    rule = build.rule("RR", 1, applies_to=RuleTarget.OPPORTUNITY, team_id=build.team("Three", [ana, (ben, 2), cy]).id)
    build.rule("Leads", 2, applies_to=RuleTarget.LEAD, rep_id=cy.id)
    assert assign_owner(build.opportunity(), now=NOON).id == ben.id  # the single path first
    batch = [build.opportunity(title=f"Imported {i}") for i in range(11)] + [build.lead(name="Imported lead")]
    got = assign_owners(batch, reason_context="import", now=NOON)
    db.session.commit()
    counts = Counter(rep.id for (kind, _id), rep in got.items() if kind == "opportunity")
    # Twelve opportunities by this rule in all, shared 1:2:1 (one pick was the single one).
    assert counts[ana.id] == 3 and counts[ben.id] == 6 - 1 and counts[cy.id] == 3
    assert got[("lead", batch[-1].id)].id == cy.id
    assert all(record.rep_id is not None for record in batch)
    stored = {
        c.staff_id: c.assigned for c in db.session.scalars(select(RuleCounter).where(RuleCounter.rule_id == rule.id))
    }
    assert stored == {ana.id: 3, ben.id: 6, cy.id: 3}
    assert db.session.get(AssignmentRule, rule.id).fired_count == 12
    assert len(_timeline(batch[0].id, "assigned")) == 1
    mails = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "sales_assigned")))
    # One mail for the single assignment, then one per owner of the batch.
    assert sorted(m.to_addr for m in mails) == sorted([ben.email, ana.email, ben.email, cy.email])
    [cys] = [m for m in mails if m.to_addr == cy.email]
    assert "Imported lead" in cys.body_text and "4 new" in cys.subject
