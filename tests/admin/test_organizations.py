"""Staff organization pages: list and search, create and edit (plain and htmx), billing
validation, cycles, deactivation, the organization page (tree, sub-organization switch,
onboarding checklist), who may see and change what, and query counts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, select

from portal.core.extensions import db
from portal.core.queries.search import search_key
from portal.domains.customers.models import Organization, organization_team
from tests.factories import stored

HX = {"HX-Request": "true"}


def _form(**values) -> dict:
    """What the edit form posts: a self-billing top-level organization unless told otherwise."""
    data = {
        "name": "Greenleaf Gardens",
        "city": "Springfield",
        "parent_id": "0",
        "invoice_template": "standard",
        "tax_region": "none",
        "tax_id": "",
        "billing_address": "1 Elm Street",
        "billing_attention": "",
        "account_manager_id": "0",
    }
    for key, value in values.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _team(app, organization_id: int) -> set[int]:
    with app.app_context():
        return set(
            db.session.scalars(
                select(organization_team.c.staff_id).where(organization_team.c.organization_id == organization_id)
            )
        )


def _bulk(app, rows: list[dict]) -> None:
    with app.app_context():
        for row in rows:
            row.setdefault("city", "")
            row.setdefault("tax_id", "")
            for field in ("name", "city", "tax_id"):
                row[f"{field}_key"] = search_key(row[field])
        db.session.execute(insert(Organization), rows)
        db.session.commit()
        db.session.remove()


def _errors(html: str) -> list[str]:
    return re.findall(r'<p class="error">([^<]*)</p>', html)


def _listed(html: str) -> list[str]:
    return re.findall(r'<a href="/admin/organizations/\d+">([^<]*)</a>', html)


@pytest.fixture
def admin_client(app, make, login):
    client = app.test_client()
    login(client, make.staff(role="admin", name="Ada Admin"))
    return client


def _client_for(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


# --- the list --------------------------------------------------------------------------


def test_the_list_searches_word_starts_of_name_and_city_and_the_tax_id_in_any_case(app, admin_client):
    _bulk(
        app,
        [
            {"name": "Greenleaf Gardens", "city": "Springfield", "tax_id": "RO111"},
            {"name": "Evergreen Lawns", "city": "Greenville", "tax_id": "GB222"},
            {"name": "Stone Works", "city": "Shelbyville", "tax_id": "US333"},
        ],
    )
    page = admin_client.get("/admin/organizations/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _listed(html) == ["Evergreen Lawns", "Greenleaf Gardens", "Stone Works"]
    assert 'hx-trigger="input changed delay:300ms, search"' in html and 'hx-target="#results"' in html
    for query, expected in (
        ("GREEN", ["Evergreen Lawns", "Greenleaf Gardens"]),
        ("sHeLb", ["Stone Works"]),
        ("gb2", ["Evergreen Lawns"]),
        ("works", ["Stone Works"]),  # a word start, not only the name's start
        ("orks", []),
        ("222", ["Evergreen Lawns"]),  # tax id digits anywhere
    ):
        response = admin_client.get("/admin/organizations/", query_string={"q": query}, headers=HX)
        assert response.status_code == 200
        partial = response.get_data(as_text=True)
        assert "<html" not in partial and partial.lstrip().startswith('<div id="results">')
        assert _listed(partial) == expected, query
        assert "HX-Request" in response.headers.get("Vary", "")


def test_the_list_sorts_by_name_city_or_creation(app, admin_client):
    _bulk(
        app,
        [
            {"name": "Bravo", "city": "Zurich"},
            {"name": "alpha", "city": "Yonkers"},
            {"name": "Charlie", "city": "Xenia"},
        ],
    )

    def listed(**args):
        return _listed(admin_client.get("/admin/organizations/", query_string=args, headers=HX).get_data(as_text=True))

    assert listed(sort="name") == ["alpha", "Bravo", "Charlie"]
    assert listed(sort="name", dir="desc") == ["Charlie", "Bravo", "alpha"]
    assert listed(sort="city") == ["Charlie", "alpha", "Bravo"]
    assert listed(sort="city", dir="desc") == ["Bravo", "alpha", "Charlie"]
    assert listed(sort="created", dir="desc") == ["Charlie", "alpha", "Bravo"]
    assert listed(sort="drop table", dir="sideways") == ["alpha", "Bravo", "Charlie"]


def test_the_list_pages_forward_and_back(app, admin_client):
    _bulk(app, [{"name": f"Org {i:03}"} for i in range(51)])
    first = admin_client.get("/admin/organizations/").get_data(as_text=True)
    assert len(_listed(first)) == 50 and 'id="previous-page"' not in first
    next_url = re.search(r'id="next-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = admin_client.get(next_url, headers=HX).get_data(as_text=True)
    assert _listed(second) == ["Org 050"]
    assert 'id="next-page"' not in second
    back_url = re.search(r'id="previous-page" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    assert _listed(admin_client.get(back_url).get_data(as_text=True)) == _listed(first)


def test_a_search_that_fills_exactly_one_page_has_no_next_page(app, admin_client):
    _bulk(app, [{"name": f"Alpha {i:02}"} for i in range(50)] + [{"name": "Beta"}])
    html = admin_client.get("/admin/organizations/?q=alpha").get_data(as_text=True)
    assert len(_listed(html)) == 50 and 'id="next-page"' not in html


def test_the_list_filters_active_and_inactive(app, admin_client, make):
    make.organization_with("Open Co")
    make.organization_with("Closed Co", is_active=False)
    assert _listed(admin_client.get("/admin/organizations/").get_data(as_text=True)) == ["Open Co"]
    assert _listed(admin_client.get("/admin/organizations/?status=inactive").get_data(as_text=True)) == ["Closed Co"]
    assert _listed(admin_client.get("/admin/organizations/?status=all").get_data(as_text=True)) == [
        "Closed Co",
        "Open Co",
    ]


def test_the_list_query_count_does_not_grow_with_the_organizations(app, admin_client, make, count_queries):
    parent = make.organization_with("Parent")
    _bulk(app, [{"name": f"Org {i:02}", "parent_id": parent.id} for i in range(2)])
    with count_queries() as few:
        assert admin_client.get("/admin/organizations/").status_code == 200
    _bulk(app, [{"name": f"Org {i:02}", "parent_id": parent.id} for i in range(2, 29)])
    with count_queries() as many:
        response = admin_client.get("/admin/organizations/")
    assert len(_listed(response.get_data(as_text=True))) == 30
    assert many.count == few.count, many.statements


# --- create ----------------------------------------------------------------------------------


def test_create_an_organization_through_the_form(app, admin_client, make):
    manager = make.staff(name="Mia Manager", role="manager")
    tech = make.staff(name="Tom Tech", role="technician")
    form = admin_client.get("/admin/organizations/new")
    assert form.status_code == 200
    assert "Mia Manager" in form.get_data(as_text=True)
    response = admin_client.post(
        "/admin/organizations/new",
        data=_form(
            name="Greenleaf Gardens",
            tax_region="eu_ro",
            tax_id="RO 123-45",
            invoice_template="summary",
            billing_attention="Ada Accounts",
            account_manager_id=str(manager.id),
            team_ids=[str(tech.id)],
            billing_reviewed="y",
        ),
    )
    assert response.status_code == 303
    organization_id = int(re.fullmatch(r"/admin/organizations/(\d+)", response.headers["Location"]).group(1))
    saved = stored(app, Organization, organization_id)
    assert (saved.name, saved.city, saved.tax_region, saved.tax_id, saved.invoice_template) == (
        "Greenleaf Gardens",
        "Springfield",
        "eu_ro",
        "RO 123-45",
        "summary",
    )
    assert (saved.account_manager_id, saved.billing_attention) == (manager.id, "Ada Accounts")
    assert saved.billing_reviewed_at is not None
    assert _team(app, organization_id) == {tech.id}
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Greenleaf Gardens was added." in page and "Tom Tech" in page


def test_create_with_htmx_redirects_with_a_header(app, admin_client):
    response = admin_client.post("/admin/organizations/new", data=_form(name="Htmx Co"), headers=HX)
    assert response.status_code == 200
    assert re.fullmatch(r"/admin/organizations/\d+", response.headers["HX-Redirect"])


def test_a_sub_organization_is_created_from_its_parent(app, admin_client, make):
    parent = make.organization_with("Holding", billing_address="HQ")
    form = admin_client.get(f"/admin/organizations/new?parent={parent.id}").get_data(as_text=True)
    assert f'<option value="{parent.id}" selected>Holding</option>' in form
    response = admin_client.post(
        "/admin/organizations/new",
        data=_form(name="Branch", parent_id=str(parent.id), bill_to_parent="y", billing_address=""),
    )
    assert response.status_code == 303
    child = stored(app, Organization, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert (child.parent_id, child.bill_to_parent) == (parent.id, True)


@pytest.mark.parametrize(
    ("values", "field_message"),
    [
        ({"name": "  "}, "Enter the organization&#39;s name."),
        ({"tax_region": "uk", "tax_id": "GB*123"}, "A tax ID uses only letters, digits, spaces and - . /"),
        ({"tax_region": "uk", "tax_id": "G"}, "A tax ID has 2 to 40 characters."),
        ({"tax_region": "us_ca", "tax_id": ""}, "Enter the tax ID: it is required with a tax region."),
        ({"bill_to_parent": "y"}, "Billing to the parent needs a parent organization: choose one, or untick this box."),
        (
            {"billing_address": ""},
            ("Enter a billing address: the organization bills itself (or tick &#34;Bill to parent&#34;)."),
        ),
        ({"invoice_template": "fancy"}, "Not a valid choice."),
    ],
)
def test_each_invalid_field_gets_its_message_and_422_keeping_what_was_typed(app, admin_client, values, field_message):
    data = _form(city="Typed City", billing_attention="Typed Attention", **values)
    for headers in ({}, HX):
        response = admin_client.post("/admin/organizations/new", data=data, headers=headers)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert field_message in _errors(html), _errors(html)
        assert 'value="Typed City"' in html and 'value="Typed Attention"' in html
        assert ("<html" in html) == (not headers)
    with app.app_context():
        assert db.session.scalar(select(Organization.id)) is None


def test_all_broken_rules_show_at_once(app, admin_client):
    html = admin_client.post(
        "/admin/organizations/new",
        data=_form(name="", tax_region="eu_es", tax_id="", billing_address="", bill_to_parent="y"),
    ).get_data(as_text=True)
    errors = _errors(html)
    assert "Enter the organization&#39;s name." in errors
    assert "Enter the tax ID: it is required with a tax region." in errors
    assert any(e.startswith("Billing to the parent needs a parent") for e in errors)
    assert 'aria-invalid="true"' in html


# --- edit, cycles, deactivate ------------------------------------------------------------------


def test_edit_through_the_form_plain_and_htmx(app, admin_client, make):
    organization = make.organization_with("Old Name", city="Oldtown", billing_address="Old street")
    page = admin_client.get(f"/admin/organizations/{organization.id}/edit")
    assert page.status_code == 200 and 'value="Old Name"' in page.get_data(as_text=True)
    response = admin_client.post(f"/admin/organizations/{organization.id}/edit", data=_form(name="New Name"))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/organizations/{organization.id}"
    assert stored(app, Organization, organization.id).name == "New Name"
    response = admin_client.post(
        f"/admin/organizations/{organization.id}/edit", data=_form(name="Htmx Name"), headers=HX
    )
    assert response.headers["HX-Redirect"] == f"/admin/organizations/{organization.id}"
    assert stored(app, Organization, organization.id).name == "Htmx Name"
    response = admin_client.post(f"/admin/organizations/{organization.id}/edit", data=_form(name=""), headers=HX)
    assert response.status_code == 422
    assert response.get_data(as_text=True).lstrip().startswith('<section class="card" id="organization-form">')


def _family(make) -> tuple[int, int, int]:
    top = make.organization_with("Top Holdings", billing_address="x")
    middle = make.organization_with("Middle Region", parent_id=top.id, billing_address="x")
    bottom = make.organization_with("Bottom Site", parent_id=middle.id, billing_address="x")
    return top.id, middle.id, bottom.id


@pytest.mark.parametrize(
    ("new_parent", "message"),
    [
        ("top", "An organization cannot be its own parent."),
        ("middle", "Middle Region is a sub-organization of Top Holdings: it cannot be its parent."),
        ("bottom", "Bottom Site is a sub-organization of Top Holdings: it cannot be its parent."),
    ],
)
def test_a_cycle_is_a_clear_422_not_a_crash(app, admin_client, make, new_parent, message):
    top, middle, bottom = _family(make)
    parent_id = {"top": top, "middle": middle, "bottom": bottom}[new_parent]
    response = admin_client.post(
        f"/admin/organizations/{top}/edit", data=_form(name="Top Holdings", parent_id=str(parent_id))
    )
    assert response.status_code == 422
    assert message in _errors(response.get_data(as_text=True))
    assert stored(app, Organization, top).parent_id is None


def test_the_parent_choices_leave_out_the_organization_and_what_is_below_it(app, admin_client, make):
    top, middle, bottom = _family(make)
    make.organization_with("Unrelated Co")
    html = admin_client.get(f"/admin/organizations/{middle}/edit").get_data(as_text=True)
    assert f'<option value="{top}" selected>Top Holdings</option>' in html
    assert "Unrelated Co" in html
    assert f'value="{bottom}"' not in html and f'<option value="{middle}"' not in html
    options = admin_client.get(f"/admin/organizations/{middle}/edit?parent_q=unrel", headers=HX)
    body = options.get_data(as_text=True)
    assert "<html" not in body and "<form" not in body
    assert "Unrelated Co" in body and "Top Holdings" in body  # the current parent stays choosable


def test_deactivate_and_reactivate(app, admin_client, make):
    organization = make.organization_with("Seasonal Co")
    response = admin_client.post(f"/admin/organizations/{organization.id}/deactivate")
    assert response.status_code == 303
    assert stored(app, Organization, organization.id).is_active is False
    page = admin_client.get(f"/admin/organizations/{organization.id}").get_data(as_text=True)
    assert "Inactive" in page and 'id="reactivate"' in page
    assert "Seasonal Co" not in admin_client.get("/admin/organizations/").get_data(as_text=True)
    response = admin_client.post(f"/admin/organizations/{organization.id}/reactivate", headers=HX)
    assert response.headers["HX-Redirect"] == f"/admin/organizations/{organization.id}"
    assert stored(app, Organization, organization.id).is_active is True


# --- the organization page ------------------------------------------------------------------------


def test_the_page_shows_the_tree(app, admin_client, make):
    top, middle, bottom = _family(make)
    make.organization_with("Deep Site", parent_id=bottom)
    html = admin_client.get(f"/admin/organizations/{middle}").get_data(as_text=True)
    crumbs = html[html.index('id="breadcrumbs"') : html.index("</nav>", html.index('id="breadcrumbs"'))]
    assert f'href="/admin/organizations/{top}">Top Holdings</a>' in crumbs
    subs = html[html.index('id="sub-organizations"') :]
    assert f'href="/admin/organizations/{bottom}">Bottom Site</a>' in subs
    assert "1 sub-organization" in subs


def test_the_sub_organization_switch_includes_their_contacts_and_proposals(app, admin_client, make):
    top, middle, bottom = _family(make)
    with app.app_context():
        orgs = {i: db.session.get(Organization, i) for i in (top, middle, bottom)}
        db.session.expunge_all()
    make.contact(orgs[middle], first_name="Mid", last_name="Person", is_primary=True)
    make.contact(orgs[bottom], first_name="Bottom", last_name="Person", portal_level="organization")
    make.contact(orgs[top], first_name="Top", last_name="Person")
    proposal = make.proposal(contact=make.contact(orgs[bottom], first_name="Buyer"), title="Hedges")
    html = admin_client.get(f"/admin/organizations/{middle}").get_data(as_text=True)
    assert "Contacts: 1 here, 3 with sub-organizations." in html
    assert "Proposals: 0 here, 1 with sub-organizations." in html
    assert "Mid Person" in html and "Bottom Person" not in html and "Hedges" not in html
    response = admin_client.get(f"/admin/organizations/{middle}?subs=1", headers=HX)
    partial = response.get_data(as_text=True)
    assert "<html" not in partial and partial.lstrip().startswith('<div id="related">')
    assert "Mid Person" in partial and "Bottom Person" in partial and "Top Person" not in partial
    assert f'href="/admin/proposals/{proposal.id}"' in partial and "Hedges" in partial
    assert 'id="include-subs" checked' in partial
    # Without htmx the same URL is the whole page, switch on.
    assert "Bottom Person" in admin_client.get(f"/admin/organizations/{middle}?subs=1").get_data(as_text=True)


def _checklist(html: str) -> dict[str, bool]:
    items = re.findall(r'data-done="(yes|no)">.*?(?:<a href="[^"]*">|<strong>)([^<]+)<', html, re.DOTALL)
    return {label: done == "yes" for done, label in items}


def test_the_onboarding_checklist_flips_to_done_as_things_are_set(app, admin_client, make):
    organization = make.organization_with("New Customer", billing_address="x")
    url = f"/admin/organizations/{organization.id}"
    checklist = _checklist(admin_client.get(url).get_data(as_text=True))
    assert checklist == {
        "Account team set": False,
        "Primary contact chosen": False,
        "Portal enabled for a contact": False,
        "Billing settings reviewed": False,
        "SLA chosen": False,
    }
    html = admin_client.get(url).get_data(as_text=True)
    assert "None chosen: tickets use the default SLA, Standard." in html
    assert f'href="/admin/organizations/{organization.id}/edit#sla"' in html
    assert f'href="/admin/organizations/{organization.id}/edit#team"' in html
    assert f'href="/admin/organizations/{organization.id}/edit#billing"' in html

    member = make.staff(name="Team Member")
    assert (
        admin_client.post(
            f"{url}/edit", data=_form(name="New Customer", billing_address="x", team_ids=[str(member.id)])
        ).status_code
        == 303
    )
    assert _checklist(admin_client.get(url).get_data(as_text=True))["Account team set"] is True
    make.contact(organization, is_primary=True, portal_enabled=False)
    checklist = _checklist(admin_client.get(url).get_data(as_text=True))
    assert (checklist["Primary contact chosen"], checklist["Portal enabled for a contact"]) == (True, False)
    make.contact(organization, portal_enabled=True)
    assert (
        admin_client.post(
            f"{url}/edit",
            data=_form(name="New Customer", billing_address="x", team_ids=[str(member.id)], billing_reviewed="y"),
        ).status_code
        == 303
    )
    checklist = _checklist(admin_client.get(url).get_data(as_text=True))
    assert checklist == {
        "Account team set": True,
        "Primary contact chosen": True,
        "Portal enabled for a contact": True,
        "Billing settings reviewed": True,
        "SLA chosen": False,
    }


def test_the_page_query_count_does_not_grow_with_contacts_children_or_proposals(app, admin_client, make, count_queries):
    _top, middle, bottom = _family(make)
    with app.app_context():
        orgs = {i: db.session.get(Organization, i) for i in (middle, bottom)}
        db.session.expunge_all()

    def grow(n: int) -> None:
        """n more of everything the page lists: children, team members, contacts, proposals."""
        _bulk(app, [{"name": f"Child {i}", "parent_id": middle} for i in range(n)])
        members = [make.staff() for _ in range(n)]
        with app.app_context():
            db.session.execute(
                organization_team.insert(), [{"organization_id": middle, "staff_id": m.id} for m in members]
            )
            db.session.commit()
        for _ in range(n):
            make.contact(orgs[middle])
            make.contact(orgs[bottom])
        make.proposal(contact=make.contact(orgs[middle]))
        make.proposal(contact=make.contact(orgs[bottom]))

    def counted(switch: str, headers=None) -> int:
        with count_queries() as counter:
            assert admin_client.get(f"/admin/organizations/{middle}{switch}", headers=headers).status_code == 200
        return counter.count

    grow(3)
    few = {(switch, bool(h)): counted(switch, h) for switch in ("", "?subs=1") for h in (None, HX)}
    grow(27)
    many = {(switch, bool(h)): counted(switch, h) for switch in ("", "?subs=1") for h in (None, HX)}
    assert many == few
    html = admin_client.get(f"/admin/organizations/{middle}?subs=1").get_data(as_text=True)
    assert "Contacts: 32 here, 64 with sub-organizations." in html
    assert "Proposals: 2 here, 4 with sub-organizations." in html


# --- who may see and change what --------------------------------------------------------------------


def _routes(organization_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", f"/admin/organizations/{organization_id}"),
        ("GET", f"/admin/organizations/{organization_id}?subs=1"),
        ("GET", f"/admin/organizations/{organization_id}/edit"),
        ("POST", f"/admin/organizations/{organization_id}/edit"),
        ("POST", f"/admin/organizations/{organization_id}/deactivate"),
        ("POST", f"/admin/organizations/{organization_id}/reactivate"),
    ]


def _call(client, method: str, path: str) -> int:
    if method == "GET":
        return client.get(path).status_code
    return client.post(path, data=_form(name="Renamed")).status_code


@pytest.mark.parametrize("role", ["technician", "sales"])
def test_staff_off_the_team_get_404_everywhere(app, make, login, role):
    organization = make.organization_with("Someone Else's", billing_address="x")
    client = _client_for(app, login, make.staff(role=role))
    for method, path in _routes(organization.id):
        assert _call(client, method, path) == 404, (method, path)
    assert "Someone Else" not in client.get("/admin/organizations/?status=all").get_data(as_text=True)
    assert stored(app, Organization, organization.id).name == "Someone Else's"


def test_a_technician_on_the_team_reads_but_does_not_change(app, make, login):
    tech = make.staff(role="technician")
    organization = make.organization_with("Their Customer", billing_address="x", team=[tech])
    client = _client_for(app, login, tech)
    page = client.get(f"/admin/organizations/{organization.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="edit"' not in html and 'id="deactivate"' not in html and "/edit#team" not in html
    assert client.get(f"/admin/organizations/{organization.id}?subs=1", headers=HX).status_code == 200
    for method, path in _routes(organization.id)[2:]:
        assert _call(client, method, path) == 404, (method, path)
    assert client.get("/admin/organizations/new").status_code == 404
    assert client.post("/admin/organizations/new", data=_form(name="Sneaky")).status_code == 404
    assert _listed(client.get("/admin/organizations/").get_data(as_text=True)) == ["Their Customer"]
    assert 'href="/admin/organizations/new"' not in client.get("/admin/organizations/").get_data(as_text=True)


def test_sales_on_the_team_or_with_proposals_there_may_see_and_edit(app, make, login):
    rep = make.staff(role="sales")
    on_team = make.organization_with("Team Customer", billing_address="x", team=[rep])
    with_proposal = make.organization_with("Proposal Customer", billing_address="x")
    make.proposal(contact=make.contact(with_proposal), rep=rep)
    client = _client_for(app, login, rep)
    for organization in (on_team, with_proposal):
        assert client.get(f"/admin/organizations/{organization.id}").status_code == 200
        assert client.get(f"/admin/organizations/{organization.id}/edit").status_code == 200
    assert _listed(client.get("/admin/organizations/").get_data(as_text=True)) == ["Proposal Customer", "Team Customer"]


def test_sales_who_create_an_organization_can_see_it(app, make, login):
    rep = make.staff(role="sales")
    client = _client_for(app, login, rep)
    form = client.get("/admin/organizations/new").get_data(as_text=True)
    assert f'id="team-{rep.id}" checked' in form
    response = client.post("/admin/organizations/new", data=_form(name="Fresh Lead"))  # no team ticked
    assert response.status_code == 303
    organization_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert _team(app, organization_id) == {rep.id}
    assert client.get(response.headers["Location"]).status_code == 200


def test_a_parent_one_may_not_see_cannot_be_chosen(app, make, login):
    rep = make.staff(role="sales")
    mine = make.organization_with("Mine", billing_address="x", team=[rep])
    hidden = make.organization_with("Hidden Holdings", billing_address="x")
    client = _client_for(app, login, rep)
    assert "Hidden Holdings" not in client.get(f"/admin/organizations/{mine.id}/edit").get_data(as_text=True)
    response = client.post(
        f"/admin/organizations/{mine.id}/edit",
        data=_form(name="Mine", parent_id=str(hidden.id), team_ids=[str(rep.id)]),
    )
    assert response.status_code == 422
    assert "Choose a parent organization from the list." in _errors(response.get_data(as_text=True))
    assert "Hidden Holdings" not in response.get_data(as_text=True)
    assert stored(app, Organization, mine.id).parent_id is None


def test_a_hidden_parent_is_kept_on_save_and_not_named(app, make, login):
    rep = make.staff(role="sales")
    hidden = make.organization_with("Hidden Holdings", billing_address="x")
    mine = make.organization_with("Franchise", billing_address="x", parent_id=hidden.id, team=[rep])
    client = _client_for(app, login, rep)
    page = client.get(f"/admin/organizations/{mine.id}").get_data(as_text=True)
    assert "Hidden Holdings" not in page and "1 parent you do not have access to" in page
    form = client.get(f"/admin/organizations/{mine.id}/edit").get_data(as_text=True)
    assert "Hidden Holdings" not in form and "The current parent (not visible to you)" in form
    response = client.post(
        f"/admin/organizations/{mine.id}/edit",
        data=_form(name="Franchise 2", parent_id=str(hidden.id), team_ids=[str(rep.id)]),
    )
    assert response.status_code == 303
    assert (stored(app, Organization, mine.id).name, stored(app, Organization, mine.id).parent_id) == (
        "Franchise 2",
        hidden.id,
    )


def test_leaving_the_team_sends_one_back_to_the_list(app, make, login):
    rep = make.staff(role="sales")
    mine = make.organization_with("Handover", billing_address="x", team=[rep])
    client = _client_for(app, login, rep)
    response = client.post(f"/admin/organizations/{mine.id}/edit", data=_form(name="Handover"))
    assert response.status_code == 303 and response.headers["Location"] == "/admin/organizations/"
    assert client.get(f"/admin/organizations/{mine.id}").status_code == 404


def test_the_nav_links_to_organizations(app, admin_client):
    assert 'href="/admin/organizations/"' in admin_client.get("/admin/organizations/").get_data(as_text=True)


def test_the_page_leads_to_the_queue_filtered_to_its_tickets(app, admin_client, make):
    ours = make.organization_with("Ours Ltd")
    theirs = make.organization_with("Theirs Ltd")
    make.ticket(make.contact(ours), title="Our broken gate")
    make.ticket(make.contact(theirs), title="Their cold boiler")
    html = admin_client.get(f"/admin/organizations/{ours.id}").get_data(as_text=True)
    href = re.search(r'href="([^"]+)" id="tickets-link"', html).group(1).replace("&amp;", "&")
    queue = admin_client.get(href).get_data(as_text=True)
    assert "Our broken gate" in queue and "Their cold boiler" not in queue
