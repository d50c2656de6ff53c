"""Cost and margin per proposal line: staff only, never on the portal, never content."""

from __future__ import annotations

from decimal import Decimal

from portal.core.extensions import db
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import Proposal, ProposalLine
from portal.domains.sales import costs
from tests.factories import sign_form

HX = {"HX-Request": "true"}


def _lines(app, proposal_id):
    with app.app_context():
        return [(line.id, line.unit_cost, line.is_optional) for line in proposals.load_proposal(proposal_id).lines]


def test_margin_per_line_and_in_total_follows_the_money_rule(app, make):
    proposal = make.proposal(
        included=(("Mowing", "3", "10.00"), ("Edging", "1", "20.00")), optional=(("Mulch", "2", "5.00"),)
    )
    with app.app_context():
        loaded = proposals.load_proposal(proposal.id)
        mowing, edging, mulch = loaded.lines
        mowing.unit_cost = Decimal("3.335")  # 3 x 3.335 = 10.005 -> 10.01 (half up)
        mulch.unit_cost = Decimal("1.00")
        summary = costs.proposal_costs(loaded)
        by_line = {each.line.id: each for each in summary.lines}
        assert by_line[mowing.id].cost == Decimal("10.01")
        assert by_line[mowing.id].margin == Decimal("19.99")
        assert by_line[edging.id].cost is None and by_line[edging.id].margin is None
        assert by_line[mulch.id].margin == Decimal("8.00")
        # Totals: the included lines only (the optional mulch is listed on its own).
        assert summary.amount == Decimal("50.00")
        assert summary.cost == Decimal("10.01")
        assert summary.margin == Decimal("39.99")
        assert summary.margin_percent == Decimal("80.0")
        assert summary.lines_without_cost == 1
        db.session.rollback()


def test_staff_save_costs_and_the_editor_shows_the_margin(app, make, staff_client, staff):
    proposal = make.proposal(rep=staff, included=(("Mowing", "4", "45.00"),), optional=())
    ((line_id, _cost, _opt),) = _lines(app, proposal.id)
    response = staff_client.post(f"/admin/sales/proposals/{proposal.id}/costs", data={f"unit_cost_{line_id}": "30"})
    assert response.status_code == 303
    assert _lines(app, proposal.id)[0][1] == Decimal("30.00")
    page = staff_client.get(f"/admin/proposals/{proposal.id}").get_data(as_text=True)
    assert 'id="costs"' in page
    assert "$60.00" in page  # margin 180 - 120
    # The partial for htmx: just the costs, no page around it.
    partial = staff_client.get(f"/admin/sales/proposals/{proposal.id}/costs", headers=HX).get_data(as_text=True)
    assert 'id="costs"' in partial and "<html" not in partial


def test_a_bad_cost_is_refused_on_its_line_with_everything_typed_kept(app, make, staff_client, staff):
    proposal = make.proposal(rep=staff, included=(("Mowing", "4", "45.00"), ("Edging", "1", "9.00")), optional=())
    (first, _c1, _o1), (second, _c2, _o2) = _lines(app, proposal.id)
    for bad in ("12abc", "-1", "sNaN", "1e999", "99999999999"):
        response = staff_client.post(
            f"/admin/sales/proposals/{proposal.id}/costs",
            data={f"unit_cost_{first}": "5", f"unit_cost_{second}": bad},
            headers=HX,
        )
        assert response.status_code == 422, bad
        body = response.get_data(as_text=True)
        assert "Unit cost" in body and 'value="5"' in body
    # All or nothing: the good line was not saved either.
    assert [cost for _id, cost, _o in _lines(app, proposal.id)] == [None, None]


def test_a_product_too_large_for_money_is_refused(app, make, staff_client, staff):
    proposal = make.proposal(rep=staff, included=(("Sand", "1000000", "0.01"),), optional=())
    ((line_id, _c, _o),) = _lines(app, proposal.id)
    response = staff_client.post(
        f"/admin/sales/proposals/{proposal.id}/costs", data={f"unit_cost_{line_id}": "9999999"}
    )
    assert response.status_code == 422
    assert _lines(app, proposal.id)[0][1] is None


def test_cost_is_never_content_nor_on_the_portal(app, make, client, open_link):
    delivered = make.delivered(included=(("Mowing", "4", "45.00"),), optional=(("Mulch", "2", "65.00"),))
    with app.app_context():
        loaded = proposals.load_proposal(delivered.proposal.id)
        before_hash = proposals.content_hash(loaded)
        version = loaded.content_version
        rep = db.session.get(Proposal, loaded.id).sales_rep
        for line in loaded.lines:
            costs.set_line_cost(line, Decimal("12.34"), rep)
        db.session.commit()
        loaded = proposals.load_proposal(delivered.proposal.id)
        assert proposals.content_hash(loaded) == before_hash
        assert loaded.content_version == version
        assert "12.34" not in repr(proposals.content_document(loaded))
    page = open_link(client, delivered.token).get_data(as_text=True)
    assert "12.34" not in page and "$49.36" not in page and "cost" not in page.lower()
    # A signature over a proposal with costs stays intact, and its hash ignores costs.
    response = client.post(
        f"/p/proposals/{delivered.proposal.id}/sign", data=sign_form(delivered.proposal, seen_hash=before_hash)
    )
    assert response.status_code in (200, 303)
    with app.app_context():
        loaded = proposals.load_proposal(delivered.proposal.id)
        assert loaded.signature is not None
        assert proposals.signature_intact(loaded.signature, loaded)
        loaded.lines[0].unit_cost = Decimal("1.00")  # a later cost change keeps it intact
        db.session.flush()
        assert proposals.signature_intact(loaded.signature, loaded)
        db.session.rollback()


def test_technicians_see_no_cost_form_and_cannot_save(app, make, login, client):
    tech = make.staff(role="technician")
    proposal = make.proposal()
    from tests.factories import add_to_team

    add_to_team(app, proposal.organization_id, tech)
    login(client, tech)
    (line_id, _c, _o), _opt = _lines(app, proposal.id)
    assert (
        client.post(f"/admin/sales/proposals/{proposal.id}/costs", data={f"unit_cost_{line_id}": "1"}).status_code
        == 404
    )
    page = client.get(f"/admin/proposals/{proposal.id}").get_data(as_text=True)
    assert "Save costs" not in page
    with app.app_context():
        assert db.session.get(ProposalLine, line_id).unit_cost is None
