"""Sites on the organization page: listed, added (htmx and plain forms, 422 on
mistakes), deactivated; editors only; and a query count that does not grow."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.customers.models import Site
from tests.factories import add_to_team, stored

HX = {"HX-Request": "true"}


def _client(app, login, user):
    client = app.test_client()
    login(client, user)
    return client


def _sites(app, organization_id: int) -> list[tuple[str, str, bool]]:
    with app.app_context():
        rows = db.session.execute(
            select(Site.name, Site.address, Site.is_active)
            .where(Site.organization_id == organization_id)
            .order_by(Site.id)
        ).all()
        return [tuple(row) for row in rows]


def _errors(html: str) -> list[str]:
    return re.findall(r'<p class="error">([^<]*)</p>', html)


def test_the_organization_page_lists_its_sites_with_add_and_deactivate_for_editors(app, make, login):
    organization = make.organization("Greenleaf")
    make.site(organization, "North campus")
    gone = make.site(organization, "Old depot")
    with app.app_context():
        db.session.get(Site, gone.id).is_active = False
        db.session.commit()
    html = (
        _client(app, login, make.staff(role="admin"))
        .get(f"/admin/organizations/{organization.id}")
        .get_data(as_text=True)
    )
    section = html[html.index('id="sites"') :].split("</section>")[0]
    assert "North campus" in section and "Old depot" in section
    assert f'action="/admin/organizations/{organization.id}/sites"' in section
    assert len(re.findall(r'action="/admin/sites/\d+/deactivate"', section)) == 1  # the active site only
    assert '<h2>Properties <small class="muted">(1)</small></h2>' in section  # one active


def test_adding_a_site_with_htmx_returns_the_section_with_it(app, make, login):
    organization = make.organization()
    client = _client(app, login, make.staff(role="admin"))
    response = client.post(
        f"/admin/organizations/{organization.id}/sites",
        data={"name": "  Riverside office ", "address": "1 River Road\nTroy"},
        headers=HX,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "{#" not in html
    assert 'id="sites"' in html and "Riverside office" in html
    assert _sites(app, organization.id) == [("Riverside office", "1 River Road\nTroy", True)]


def test_a_plain_form_adds_a_site_and_goes_back_to_the_organization_page(app, make, login):
    organization = make.organization()
    user = make.staff(role="sales")  # on the account team: may edit the organization
    add_to_team(app, organization, user)
    client = _client(app, login, user)
    response = client.post(f"/admin/organizations/{organization.id}/sites", data={"name": "Main building"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/organizations/{organization.id}#sites")
    assert "Property Main building added." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_site_without_a_name_or_with_a_taken_name_is_refused_with_422_and_nothing_stored(app, make, login):
    organization = make.organization()
    make.site(organization, "Main building")
    client = _client(app, login, make.staff(role="admin"))
    url = f"/admin/organizations/{organization.id}/sites"
    blank = client.post(url, data={"name": "  ", "address": "Somewhere"}, headers=HX)
    assert blank.status_code == 422
    assert _errors(blank.get_data(as_text=True)) == ["Give the site a name."]
    assert "Somewhere</textarea>" in blank.get_data(as_text=True)  # what was typed stays
    taken = client.post(url, data={"name": "MAIN building"})  # a plain form: the sites page
    assert taken.status_code == 422
    html = taken.get_data(as_text=True)
    assert "<html" in html and _errors(html) == ["This organization already has a site with this name."]
    assert _sites(app, organization.id) == [("Main building", "", True)]


def test_an_inactive_organization_takes_no_new_sites(app, make, login):
    organization = make.organization_with(is_active=False)
    response = _client(app, login, make.staff(role="admin")).post(
        f"/admin/organizations/{organization.id}/sites", data={"name": "New wing"}, headers=HX
    )
    assert response.status_code == 422
    assert "takes no new sites" in response.get_data(as_text=True)
    assert _sites(app, organization.id) == []


def test_deactivating_a_site_keeps_it_listed_as_inactive_and_out_of_new_tickets(app, make, login):
    organization = make.organization()
    site = make.site(organization, "Old depot")
    make.site(organization, "Main building")
    client = _client(app, login, make.staff(role="manager"))
    response = client.post(f"/admin/sites/{site.id}/deactivate", headers=HX)
    assert response.status_code == 200
    assert "Inactive" in response.get_data(as_text=True)
    assert stored(app, Site, site.id).is_active is False
    again = client.post(f"/admin/sites/{site.id}/deactivate")  # a second tap: no change, no error
    assert again.status_code == 303
    with app.app_context():
        from portal.domains.service_desk.tickets import ticket_choices

        assert [s.name for s in ticket_choices(organization.id)[1]] == ["Main building"]


def test_technicians_and_staff_off_the_team_cannot_add_or_deactivate(app, make, login):
    organization = make.organization()
    site = make.site(organization, "Main building")
    technician = make.staff(role="technician")
    add_to_team(app, organization, technician)
    for user in (technician, make.staff(role="sales")):
        client = _client(app, login, user)
        assert client.post(f"/admin/organizations/{organization.id}/sites", data={"name": "X"}).status_code == 404
        assert client.post(f"/admin/sites/{site.id}/deactivate").status_code == 404
    # the technician still sees the sites, without the buttons
    html = _client(app, login, technician).get(f"/admin/organizations/{organization.id}").get_data(as_text=True)
    assert "Main building" in html and "/deactivate" not in html[html.index('id="sites"') :].split("</section>")[0]
    assert _sites(app, organization.id) == [("Main building", "", True)]


def test_the_organization_page_runs_the_same_number_of_queries_with_more_sites(app, make, login, count_queries):
    organization = make.organization()
    make.site(organization)
    client = _client(app, login, make.staff(role="admin"))
    url = f"/admin/organizations/{organization.id}"
    client.get(url)
    with count_queries() as few:
        assert client.get(url).status_code == 200
    for _ in range(5):
        make.site(organization)
    with count_queries() as many:
        assert client.get(url).status_code == 200
    assert many.count == few.count
