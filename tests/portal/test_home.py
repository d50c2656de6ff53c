"""The portal home and signed-in access: what each portal level lists and may open,
customer-facing fields only, and a query count that does not grow with the list."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposal_service
from portal.domains.proposals.models import Proposal

PROPOSAL_HREF = re.compile(r'href="/p/proposals/(\d+)"')
SECRET = "INTERNAL-NOTE-do-not-show-7f3a"


def _section(html: str, section_id: str) -> str:
    return html.split(f'id="{section_id}"', 1)[1].split("</section>", 1)[0]


def _listed(html: str, section_id: str | None = None) -> set[int]:
    return {int(i) for i in PROPOSAL_HREF.findall(_section(html, section_id) if section_id else html)}


def _sub_organization(app, parent: Organization, name: str) -> Organization:
    with app.app_context():
        org = Organization(name=name, parent_id=parent.id)
        db.session.add(org)
        db.session.commit()
        db.session.refresh(org)
        db.session.expunge(org)
        return org


def _set_notes(app, proposal_id: int, notes: str) -> None:
    with app.app_context():
        db.session.get(Proposal, proposal_id).internal_notes = notes
        db.session.commit()


@dataclass
class World:
    contacts: dict
    proposals: dict  # name -> proposal id


@pytest.fixture
def world(app, make):
    """Greenleaf (a parent above it, a sub-organization and a sub-sub below) and an
    unrelated company; one contact of each portal level at Greenleaf; a proposal for
    each place, one draft, one signed."""
    rep = make.staff(name="Sam Sales")
    holding = make.organization("Greenleaf Holding")
    greenleaf = _sub_organization(app, holding, "Greenleaf")
    north = _sub_organization(app, greenleaf, "Greenleaf North")
    north_depot = _sub_organization(app, north, "Greenleaf North Depot")
    other = make.organization("Bramble & Co")
    contacts = {
        "requester": make.contact(greenleaf, first_name="Rita", last_name="Requester"),
        "organization": make.contact(greenleaf, first_name="Olga", last_name="Orgwide", portal_level="organization"),
        "organization_tree": make.contact(
            greenleaf, first_name="Tom", last_name="Treewide", portal_level="organization_tree"
        ),
        "colleague": make.contact(greenleaf, first_name="Cal", last_name="Colleague"),
        "north": make.contact(north, first_name="Nina", last_name="North"),
        "depot": make.contact(north_depot, first_name="Dora", last_name="Depot"),
        "holding": make.contact(holding, first_name="Hal", last_name="Holding"),
        "other": make.contact(other, first_name="Otto", last_name="Other", portal_level="organization_tree"),
    }
    ids = {
        "to_requester": make.delivered(contact=contacts["requester"], rep=rep, title="Spring clean-up").proposal.id,
        "to_colleague": make.delivered(contact=contacts["colleague"], rep=rep, title="Hedge trimming").proposal.id,
        "draft": make.proposal(contact=contacts["requester"], rep=rep, title="Draft snow plan").id,
        "north": make.delivered(contact=contacts["north"], rep=rep, title="North lawns").proposal.id,
        "depot": make.delivered(contact=contacts["depot"], rep=rep, title="Depot verges").proposal.id,
        "holding": make.delivered(contact=contacts["holding"], rep=rep, title="Head office").proposal.id,
        "other": make.delivered(contact=contacts["other"], rep=rep, title="Bramble beds").proposal.id,
    }
    ids["signed"] = make.signed(
        make.delivered(contact=contacts["requester"], rep=rep, title="Autumn leaves")
    ).proposal.id
    for proposal_id in ids.values():
        _set_notes(app, proposal_id, SECRET)
    return World(contacts, ids)


VISIBLE = {
    "requester": {"to_requester", "signed"},
    "organization": {"to_requester", "to_colleague", "signed"},
    "organization_tree": {"to_requester", "to_colleague", "signed", "north", "depot"},
}


@pytest.mark.parametrize("level", sorted(VISIBLE))
def test_each_level_lists_and_opens_exactly_what_it_covers(app, world, portal_sign_in, level):
    client = app.test_client()
    portal_sign_in(client, world.contacts[level])
    visible = {world.proposals[name] for name in VISIBLE[level]}
    home = client.get("/home")
    assert home.status_code == 200
    assert _listed(home.get_data(as_text=True)) == visible
    cases = 0
    for name, proposal_id in world.proposals.items():
        response = client.get(f"/p/proposals/{proposal_id}")
        expected = 200 if proposal_id in visible else 404
        assert response.status_code == expected, (level, name, response.status_code)
        if expected == 404:  # no hint that it exists
            assert "Page not found" in response.get_data(as_text=True)
        cases += 1
    assert cases == len(world.proposals) == 8


def test_drafts_and_other_organizations_never_show_for_the_widest_level(app, world, portal_sign_in):
    client = app.test_client()
    portal_sign_in(client, world.contacts["organization_tree"])
    html = client.get("/home").get_data(as_text=True)
    for hidden in ("Draft snow plan", "Head office", "Bramble beds", "Bramble &amp; Co", "Greenleaf Holding"):
        assert hidden not in html
    # the other company's widest contact sees only its own
    other = app.test_client()
    portal_sign_in(other, world.contacts["other"])
    assert _listed(other.get("/home").get_data(as_text=True)) == {world.proposals["other"]}


def test_the_home_page_has_the_contact_the_sections_and_sign_out(app, world, portal_sign_in):
    client = app.test_client()
    portal_sign_in(client, world.contacts["organization_tree"])
    html = client.get("/home").get_data(as_text=True)
    header = html.split('<header class="topbar">', 1)[1].split("</header>", 1)[0]
    assert "Tom Treewide · Greenleaf" in header
    assert 'action="/sign-out"' in header and "Sign out" in header
    awaiting, signed = _section(html, "awaiting"), _section(html, "signed")
    assert "Awaiting your signature" in awaiting
    assert _listed(awaiting) == {world.proposals[n] for n in ("to_requester", "to_colleague", "north", "depot")}
    assert _listed(signed) == {world.proposals["signed"]}
    # each row: label, title, organization and the estimate from the included lines (4 x 45.00)
    north = world.proposals["north"]
    row = html.split(f'id="proposal-{north}"', 1)[1].split("</li>", 1)[0]
    assert "North lawns" in row and "Greenleaf North" in row and "$180.00" in row
    assert re.search(r"P-\d+ · Greenleaf North", row)
    # signed: the signed total (included + the chosen 2 x 65.00 option), the date and the status
    assert "Autumn leaves" in signed and "$310.00" in signed and "signed " in signed
    assert '<span class="badge delivered">Signed</span>' in signed


def test_a_decision_shows_on_the_signed_row(app, make, world, portal_sign_in):
    with app.app_context():
        proposal = proposal_service.load_proposal(world.proposals["signed"])
        proposal_service.mark_won(proposal, db.session.get(StaffUser, proposal.sales_rep_id))
        db.session.commit()
    client = app.test_client()
    portal_sign_in(client, world.contacts["requester"])
    signed = _section(client.get("/home").get_data(as_text=True), "signed")
    assert '<span class="badge won">Accepted</span>' in signed


def test_internal_notes_never_render_on_portal_pages(app, world, portal_sign_in):
    client = app.test_client()
    portal_sign_in(client, world.contacts["organization_tree"])
    pages = ["/home"] + [f"/p/proposals/{world.proposals[n]}" for n in VISIBLE["organization_tree"]]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.get_data(as_text=True), path


def test_without_a_portal_session_home_redirects_to_sign_in(client):
    response = client.get("/home")
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in"


def test_a_link_only_session_lists_what_its_links_open(app, make, client, open_link):
    delivered = make.delivered()
    make.delivered(contact=delivered.contact)  # addressed to them, but no link opened here
    open_link(client, delivered.token)
    html = client.get("/home").get_data(as_text=True)
    assert _listed(html) == {delivered.proposal.id}
    assert "Sign in to see everything your access allows." in html


def test_the_home_page_runs_the_same_queries_for_3_or_30_proposals(app, make, portal_sign_in, count_queries):
    rep = make.staff()
    parent = make.organization("Greenleaf")
    sub = _sub_organization(app, parent, "Greenleaf North")
    tree = make.contact(parent, portal_level="organization_tree")
    addressees = [make.contact(parent), make.contact(sub)]
    client = app.test_client()
    portal_sign_in(client, tree)

    def add(n: int) -> None:
        for i in range(n):
            delivered = make.delivered(contact=addressees[i % 2], rep=rep)
            if i % 3 == 0:
                make.signed(delivered)

    def page_queries() -> tuple[int, int]:
        with count_queries() as counter:
            response = client.get("/home")
        assert response.status_code == 200
        return counter.count, len(_listed(response.get_data(as_text=True)))

    add(3)
    few, listed_few = page_queries()
    add(27)
    many, listed_many = page_queries()
    assert (listed_few, listed_many) == (3, 30)
    assert few == many, (few, many)
    assert many <= 5  # contact, sub-organizations, awaiting, signed (plus a savepoint-free margin)


def test_a_signed_in_contact_can_go_home_or_sign_out_from_a_proposal(app, make, client):
    from tests.factories import forge_signed_in_session

    contact = make.contact(portal_level="requester")
    delivered = make.delivered(contact=contact)
    signed_in = app.test_client()
    forge_signed_in_session(app, signed_in, delivered.contact)
    html = signed_in.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert "/home" in html and "/sign-out" in html
    # The same page opened through a link only (not signed in) offers neither.
    link_only = app.test_client()
    page = link_only.get(f"/l/{delivered.token}")
    html = link_only.get(page.headers["Location"]).get_data(as_text=True)
    assert "/sign-out" not in html


# --- totals and keyset pages --------------------------------------------------------------


def test_the_home_list_shows_the_total_the_proposal_page_shows(app, make, portal_sign_in, count_queries):
    # 0.333 x 1.00 three times: 0.33 per line, 0.99 in all (a SQL sum of the lines gave 1.00)
    contact = make.contact(make.organization())
    make.delivered(contact=contact, included=(("Visit", "0.333", "1.00"),) * 3, optional=())
    client = app.test_client()
    portal_sign_in(client, contact)
    with count_queries() as counter:
        html = client.get("/home").get_data(as_text=True)
    awaiting = _section(html, "awaiting")
    assert "$0.99" in awaiting and "$1.00" not in awaiting
    assert not [s for s in counter.statements if "proposal_lines" in s]  # the stored totals


def test_the_home_sections_page_by_cursor(app, make, portal_sign_in, monkeypatch):
    from portal.domains.proposals import queries

    monkeypatch.setattr(queries, "HOME_LIMIT", 2)
    contact = make.contact(make.organization())
    ids = [make.delivered(contact=contact, title=f"Visit {n}").proposal.id for n in range(3)]
    signed = make.signed(make.delivered(contact=contact, title="Signed visit")).proposal.id
    client = app.test_client()
    portal_sign_in(client, contact)
    html = client.get("/home").get_data(as_text=True)
    assert _listed(html, "awaiting") == {ids[2], ids[1]}  # newest first
    assert _listed(html, "signed") == {signed}
    older = re.search(r'id="awaiting-more" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert _listed(second, "awaiting") == {ids[0]}
    assert _listed(second, "signed") == {signed}
    assert 'id="awaiting-more"' not in second
    assert 'id="signed-more"' not in second
