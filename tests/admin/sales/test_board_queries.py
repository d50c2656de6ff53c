"""The board's statements stay a fixed number whoever looks (a manager with won and
lost shown, a rep with team customers, a technician) as rows grow, and the rep's board
shows each visible opportunity once with the right counts."""

from __future__ import annotations

import re

import pytest

from tests.admin.sales import more_factories as more


def _counted(client, count_queries, path: str) -> int:
    client.get(path)
    with count_queries() as counter:
        assert client.get(path).status_code == 200
    return counter.count


@pytest.mark.parametrize(
    ("role", "path"),
    [("manager", "/admin/sales/board?closed=1"), ("sales", "/admin/sales/board"), ("technician", "/admin/sales/board")],
)
def test_board_queries_do_not_grow_with_rows(app, make, login, client, count_queries, role, path):
    viewer = make.staff(role=role)
    login(client, viewer)
    teams = [make.organization_with(f"Team {n}", team=[viewer]) for n in range(2)]
    other = make.staff()
    # One card with a rep and a customer to begin with: a card's rep and customer are
    # each one statement for all cards, so the first ones would add a statement.
    more.opportunity(app, organization_id=teams[0].id, rep_id=(viewer if role == "sales" else other).id, items=())
    few = _counted(client, count_queries, path)
    for n in range(15):
        more.opportunity(
            app,
            title=f"B{n}",
            organization_id=teams[n % 2].id if n % 3 else None,
            rep_id=(viewer if n % 2 else other).id,
            stage_key=("new", "qualified", "won", "lost")[n % 4],
            currency=("USD", "EUR")[n % 2],
            items=(),
        )
    assert _counted(client, count_queries, path) == few


def test_a_reps_board_page_counts_each_card_once(app, make, login, client):
    rep, other = make.staff(name="Rita"), make.staff(name="Olga")
    team = make.organization_with("Shared Team", team=[rep])
    ids = [
        more.opportunity(app, title="Own", rep_id=rep.id, items=()),
        more.opportunity(app, title="Own and team", rep_id=rep.id, organization_id=team.id, items=()),
        more.opportunity(app, title="Team", rep_id=other.id, organization_id=team.id, items=()),
    ]
    hidden = more.opportunity(app, title="Hidden", rep_id=other.id, items=())
    login(client, rep)
    page = client.get("/admin/sales/board").get_data(as_text=True)
    cards = [int(n) for n in re.findall(r'id="card-(\d+)"', page)]
    assert sorted(cards) == sorted(ids) and hidden not in cards
    new_stage = re.search(r'id="stage-(\d+)-count">(\d+)<', page)
    assert new_stage.group(2) == "3"
    # Each card's move form posts to its own opportunity (the URL built once per board).
    for opportunity_id in ids:
        assert f'action="/admin/sales/opportunities/{opportunity_id}/move"' in page
        assert f'hx-post="/admin/sales/opportunities/{opportunity_id}/move"' in page
