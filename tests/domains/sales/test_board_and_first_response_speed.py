"""The read models made fast (issue 9's speed budgets) still show what they showed: the
board over the access rule's parts (own, an organization's, both at once), the rule with
its organizations inlined or (past the limit) as a subquery, and the first response
report counted in one statement against a brute-force count. Services, no HTTP."""

from __future__ import annotations

import random
import statistics
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.access.staff import opportunities as access
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales import lists, queries, reports
from portal.domains.sales.models import Opportunity, Source
from portal.domains.sales.models_more import OpportunityFirstResponse
from tests.admin.sales import more_factories as more


def _staff(app, user) -> StaffUser:
    return db.session.get(StaffUser, user.id)


def _board_ids(app, user) -> dict[str, list[int]]:
    with app.app_context():
        staff = _staff(app, user)
        columns = queries.board(access.opportunity_filter_parts(staff), lists.open_stages())
        return {c.stage.key: [card.id for card in c.cards] for c in columns}, {c.stage.key: c.count for c in columns}


def _visible_ids(app, user) -> set[int]:
    with app.app_context():
        staff = _staff(app, user)
        return set(db.session.scalars(select(Opportunity.id).where(access.opportunity_filter(staff))))


def test_a_reps_board_shows_own_and_team_opportunities_once_each(app, make):
    rep, other = make.staff(name="Rita"), make.staff(name="Olga")
    team = make.organization_with("Team Org", team=[rep])
    elsewhere = make.organization_with("Elsewhere")
    own = more.opportunity(app, rep_id=rep.id)  # own, no organization
    both = more.opportunity(app, rep_id=rep.id, organization_id=team.id)  # own and the team's
    theirs = more.opportunity(app, rep_id=other.id, organization_id=team.id)  # the team's
    unassigned = more.opportunity(app, organization_id=team.id)  # the team's, no rep
    hidden = more.opportunity(app, rep_id=other.id, organization_id=elsewhere.id)
    cards, counts = _board_ids(app, rep)
    assert sorted(cards["new"]) == sorted([own, both, theirs, unassigned])  # ``both`` once
    assert counts["new"] == 4
    assert hidden not in _visible_ids(app, rep)
    assert _visible_ids(app, rep) == {own, both, theirs, unassigned}


def test_technicians_see_only_their_teams_and_disabled_staff_nothing(app, make):
    tech = make.staff(role="technician")
    team = make.organization_with("Tech Team", team=[tech])
    seen = more.opportunity(app, organization_id=team.id)
    more.opportunity(app, rep_id=tech.id)  # "own" means nothing for a technician
    assert _visible_ids(app, tech) == {seen}
    assert _board_ids(app, tech)[1]["new"] == 1
    lonely = make.staff(role="technician")  # on no team: an empty rule
    with app.app_context():
        assert access.opportunity_filter_parts(_staff(app, lonely)) == []
    assert _visible_ids(app, lonely) == set() and _board_ids(app, lonely)[1]["new"] == 0
    with app.app_context():
        db.session.get(StaffUser, tech.id).is_enabled = False
        db.session.commit()
    assert _visible_ids(app, tech) == set()


def test_the_rule_past_the_inline_limit_sees_the_same(app, make, monkeypatch):
    rep = make.staff()
    orgs = [make.organization_with(f"Org {n}", team=[rep]) for n in range(3)]
    ids = {more.opportunity(app, organization_id=o.id) for o in orgs} | {more.opportunity(app, rep_id=rep.id)}
    more.opportunity(app)  # nobody's
    inlined = _visible_ids(app, rep)
    monkeypatch.setattr(access, "INLINE_ORGANIZATIONS", 2)
    assert _visible_ids(app, rep) == inlined == ids
    assert sorted(sum(_board_ids(app, rep)[0].values(), [])) == sorted(ids)


def test_each_board_column_keeps_its_newest_cards_across_the_parts(app, make, monkeypatch):
    monkeypatch.setattr(queries, "CARDS_PER_COLUMN", 3)
    rep, other = make.staff(), make.staff()
    team = make.organization_with("Busy Org", team=[rep])
    made = []
    for n in range(8):  # alternately own and the team's, newest last
        made.append(
            more.opportunity(app, rep_id=rep.id if n % 2 else other.id, organization_id=None if n % 2 else team.id)
        )
    cards, counts = _board_ids(app, rep)
    assert cards["new"] == sorted(made, reverse=True)[:3] and counts["new"] == 8


def test_board_sums_stay_per_currency(app, make):
    rep = make.staff()
    more.opportunity(app, rep_id=rep.id, amount="10.50", currency="USD")
    more.opportunity(app, rep_id=rep.id, amount="5.25", currency="USD")
    more.opportunity(app, rep_id=rep.id, amount="7.00", currency="EUR")
    with app.app_context():
        column = queries.board(access.opportunity_filter_parts(_staff(app, rep)), lists.open_stages())[0]
    assert column.sums == [("EUR", Decimal("7.00")), ("USD", Decimal("15.75"))]


def _brute(values: list) -> tuple:
    """The median and nearest-rank 90th percentile the slow way."""
    answered = sorted(v for v in values if v is not None)
    if not answered:
        return (len(values), 0, None, None)
    rank = next(k for k in range(1, len(answered) + 1) if k * 10 >= 9 * len(answered))
    return (len(values), len(answered), Decimal(str(round(statistics.median(answered), 1))), answered[rank - 1])


@pytest.mark.parametrize("seed", [1, 2])
def test_first_response_report_matches_a_brute_force_count(app, make, seed):
    rng = random.Random(seed)
    reps = [make.staff(name=f"Rep {n}") for n in range(3)]
    with app.app_context():
        sources = list(db.session.scalars(select(Source.id)))
    now = utcnow()
    rows = []
    for n in range(40):
        rep = rng.choice(reps + [None])
        source = rng.choice(sources + [None])
        created = now - timedelta(days=rng.choice((1, 40, 70)))
        minutes = rng.choice((None, rng.randrange(0, 500), 7))
        opp = more.opportunity(app, rep_id=rep.id if rep else None, source_id=source, created_at=created, title=f"O{n}")
        if minutes is not None:
            with app.app_context():
                db.session.add(
                    OpportunityFirstResponse(
                        opportunity_id=opp, responded_at=created, business_minutes=minutes, via="x"
                    )
                )
                db.session.commit()
        rows.append((rep.id if rep else None, source, created.strftime("%Y-%m"), minutes))
    first = (now - timedelta(days=75)).date().replace(day=1)
    with app.app_context():
        engine = db.session.get_bind().dialect.name
        report = reports.first_response_report(
            Opportunity.id.is_not(None), reports.MonthRange(first, now.date().replace(day=1))
        )
        counted = db.session.scalar(select(func.count()).select_from(Opportunity))
    assert counted == 40, engine

    def expected(index: int) -> dict:
        groups: dict = {}
        for row in rows:
            groups.setdefault(row[index], []).append(row[3])
        return {key: _brute(values) for key, values in groups.items()}

    def shown(table) -> dict:
        return {r.key: (r.opportunities, r.responded, r.median, r.p90) for r in table}

    assert (report.overall.opportunities, report.overall.responded, report.overall.median, report.overall.p90) == (
        _brute([r[3] for r in rows])
    )
    assert shown(report.by_rep) == expected(0)
    assert shown(report.by_source) == expected(1)
    assert shown(report.by_month) == expected(2)
    # The largest groups first, no key last among equals; months in order.
    assert [r.opportunities for r in report.by_rep] == sorted((r.opportunities for r in report.by_rep), reverse=True)
    assert [r.key for r in report.by_month] == sorted(r.key for r in report.by_month)


def test_first_response_report_of_an_empty_range(app):
    with app.app_context():
        report = reports.first_response_report(
            Opportunity.id.is_not(None),
            reports.MonthRange(utcnow().date().replace(day=1), utcnow().date().replace(day=1)),
        )
    assert (report.overall.opportunities, report.overall.median, report.by_rep) == (0, None, [])
