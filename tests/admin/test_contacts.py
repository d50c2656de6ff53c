"""Staff contact pages: lists and search, create and edit with clear errors, the primary
contact, who may see and change what, and the revocation rule seen from a customer's
browser (an open portal session ends on its very next request)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.core.extensions import db
from portal.domains.customers.models import Contact
from tests.factories import add_to_team, contact_state, forge_signed_in_session, link_state, snapshot

HX = {"HX-Request": "true"}
ENDED = "Portal links of this contact were revoked and their open portal sessions end now."
TAKEN = "Another active contact already uses this email address."


@pytest.fixture
def admin(make):
    return make.staff(role="admin", name="Ada Admin")


@pytest.fixture
def admin_client(client, admin, login):
    """A browser signed in as an admin (sees and edits every organization)."""
    login(client, admin)
    return client


@pytest.fixture
def browser(app, login):
    """``browser(user)``: a fresh test client signed in as ``user``."""

    def signed_in(user):
        new = app.test_client()
        login(new, user)
        return new

    return signed_in


def _form(contact: Contact, **changes) -> dict:
    """What the edit form posts for ``contact``, with changes (None unticks a box)."""
    data = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone or "",
        "title": contact.title,
        "timezone": contact.timezone,
        "portal_level": contact.portal_level,
        "organization_id": str(contact.organization_id),
    }
    if contact.is_primary:
        data["is_primary"] = "y"
    if contact.portal_enabled:
        data["portal_enabled"] = "y"
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _new_form(**changes) -> dict:
    data = {
        "first_name": "Jane",
        "last_name": "Park",
        "email": "jane.park@example.test",
        "phone": "+1 555 0100",
        "title": "Facilities manager",
        "timezone": "America/New_York",
        "portal_enabled": "y",
        "portal_level": "organization",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _primaries(app, organization_id: int) -> list[int]:
    with app.app_context():
        ids = list(
            db.session.scalars(
                select(Contact.id).where(Contact.organization_id == organization_id, Contact.is_primary.is_(True))
            )
        )
        db.session.remove()
        return ids


def _contacts_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Contact))
        db.session.remove()
        return count


# --- lists and search ----------------------------------------------------------------


def test_an_organizations_contacts_are_listed_with_their_portal_level(admin_client, make):
    org = make.organization("Greenleaf")
    make.contact(org, first_name="Jane", last_name="Park", portal_level="organization_tree", is_primary=True)
    make.contact(org, first_name="Omar", last_name="Diaz", portal_enabled=False)
    make.contact(org, first_name="Old", last_name="Timer", is_active=False)
    make.contact(make.organization("Elsewhere"), first_name="Lucia", last_name="Rossi")
    html = admin_client.get(f"/admin/organizations/{org.id}/contacts").get_data(as_text=True)
    assert "Contacts of Greenleaf" in html
    assert "Jane Park" in html and "Organization and sub-organizations" in html and "Primary" in html
    assert "Omar Diaz" in html and "No access" in html
    assert "Old Timer" in html and "Inactive" in html
    assert "Lucia Rossi" not in html
    assert f'href="/admin/organizations/{org.id}/contacts/new"' in html
    assert 'href="/admin/contacts/"' in admin_client.get("/admin/proposals/").get_data(as_text=True)  # nav link


def test_search_finds_contacts_by_name_or_email_and_htmx_gets_only_the_rows(admin_client, make):
    make.contact(first_name="Jane", last_name="Park", email="jane.park@greenleaf.example")
    make.contact(first_name="Omar", last_name="Diaz", email="omar@harbor.example")
    page = admin_client.get("/admin/contacts/?q=park")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert "Jane Park" in page.get_data(as_text=True) and "Omar Diaz" not in page.get_data(as_text=True)
    partial = admin_client.get("/admin/contacts/?q=omar%40harbor", headers=HX)
    html = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="results"')
    assert "Omar Diaz" in html and "Jane Park" not in html
    assert "HX-Request" in partial.headers["Vary"]
    assert "No contacts match." in admin_client.get("/admin/contacts/?q=zz", headers=HX).get_data(as_text=True)


def test_the_list_and_search_show_only_contacts_of_visible_organizations(app, make, browser):
    tech = make.staff(role="technician")
    mine, theirs = make.organization("Mine"), make.organization("Theirs")
    add_to_team(app, mine, tech)
    make.contact(mine, first_name="Visible", last_name="Person")
    make.contact(theirs, first_name="Hidden", last_name="Person")
    client = browser(tech)
    for url in ("/admin/contacts/", "/admin/contacts/?q=person", "/admin/contacts/?q=hidden"):
        html = client.get(url, headers=HX).get_data(as_text=True)
        assert "Hidden" not in html, url
    assert "Visible Person" in client.get("/admin/contacts/?q=person").get_data(as_text=True)


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_contact_lists_run_the_same_number_of_queries_for_3_or_30_contacts(app, make, browser, count_queries, role):
    user = make.staff(role=role)
    client = browser(user)
    counts = {}
    for n in (3, 30):
        org = make.organization()
        add_to_team(app, org, user)
        for _ in range(n):
            contact = make.contact(org)
        make.delivered(contact=contact)  # one row with an open link
        for url in (f"/admin/organizations/{org.id}/contacts", "/admin/contacts/?q=cora", "/admin/contacts/"):
            with count_queries() as counter:
                response = client.get(url)
            assert response.status_code == 200
            counts.setdefault("organization list" if "organizations" in url else url, []).append(counter.count)
    for url, (small, large) in counts.items():
        assert small == large, (url, small, large)


# --- creating ------------------------------------------------------------------------


def test_staff_add_a_contact_under_an_organization(app, admin_client, make):
    org = make.organization("Greenleaf")
    form_page = admin_client.get(f"/admin/organizations/{org.id}/contacts/new").get_data(as_text=True)
    assert "New contact at Greenleaf" in form_page
    assert 'id="is_primary" name="is_primary" type="checkbox"' in form_page and "checked" in form_page
    assert "Everything of their organization and of its sub-organizations." in form_page
    response = admin_client.post(
        f"/admin/organizations/{org.id}/contacts/new", data=_new_form(email="  Jane.Park@Example.TEST ", is_primary="y")
    )
    assert response.status_code == 303
    with app.app_context():
        contact = db.session.scalar(select(Contact))
        assert (contact.organization_id, contact.email, contact.portal_level) == (
            org.id,
            "jane.park@example.test",
            "organization",
        )
        assert contact.is_primary and contact.timezone == "America/New_York" and contact.phone == "+1 555 0100"
        assert response.headers["Location"].endswith(f"/admin/contacts/{contact.id}")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Jane Park was added to Greenleaf." in page


def test_an_invalid_new_contact_is_422_and_keeps_what_was_typed(app, admin_client, make):
    org = make.organization()
    response = admin_client.post(
        f"/admin/organizations/{org.id}/contacts/new",
        data=_new_form(first_name="", email="jane@", timezone="Europe/Atlantis", title="Head of Typing"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a first name." in html
    assert 'value="jane@"' in html and 'value="Europe/Atlantis"' in html and 'value="Head of Typing"' in html
    assert _contacts_count(app) == 0
    # the form passed, the service refused: every problem at once, input kept
    response = admin_client.post(
        f"/admin/organizations/{org.id}/contacts/new", data=_new_form(email="jane@", timezone="Europe/Atlantis")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a valid email address, like name@example.com." in html
    assert "Choose a time zone from the list, like America/New_York or Europe/Rome." in html
    assert 'value="Park"' in html and 'value="Europe/Atlantis"' in html and 'aria-invalid="true"' in html
    assert _contacts_count(app) == 0


def test_a_taken_email_is_a_clear_422_whatever_its_case_and_a_freed_one_is_reusable(app, admin_client, make):
    taken = make.contact(email="cora@example.test")
    org = make.organization()
    new = f"/admin/organizations/{org.id}/contacts/new"
    response = admin_client.post(new, data=_new_form(email="CORA@example.test"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert TAKEN in html and 'value="CORA@example.test"' in html
    assert admin_client.post(f"/admin/contacts/{taken.id}/deactivate").status_code == 303
    response = admin_client.post(new, data=_new_form(email="cora@example.test"))
    assert response.status_code == 303
    # the old contact cannot come back with the address now in use
    response = admin_client.post(f"/admin/contacts/{taken.id}/reactivate")
    assert response.status_code == 409
    assert TAKEN in response.get_data(as_text=True)
    assert not contact_state(app, taken.id).is_active


def test_an_edit_to_a_taken_email_is_422_and_changes_nothing(app, admin_client, make):
    make.contact(email="cora@example.test")
    contact = make.contact(email="other@example.test")
    before = snapshot(app)
    response = admin_client.post(
        f"/admin/contacts/{contact.id}", data=_form(contact, email="Cora@Example.test", first_name="Typed")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert TAKEN in html and 'value="Cora@Example.test"' in html and 'value="Typed"' in html
    assert snapshot(app) == before


def test_an_invalid_portal_level_is_refused(app, admin_client, make):
    contact = make.contact()
    response = admin_client.post(f"/admin/contacts/{contact.id}", data=_form(contact, portal_level="superuser"))
    assert response.status_code == 422
    assert contact_state(app, contact.id).portal_level == "requester"


# --- the primary contact ---------------------------------------------------------------


def test_ticking_primary_on_another_contact_moves_it(app, admin_client, make):
    org = make.organization()
    first = make.contact(org, is_primary=True)
    second = make.contact(org)
    response = admin_client.post(f"/admin/contacts/{second.id}", data=_form(second, is_primary="y"))
    assert response.status_code == 303
    assert _primaries(app, org.id) == [second.id]
    # a new contact created as primary takes it over the same way
    admin_client.post(f"/admin/organizations/{org.id}/contacts/new", data=_new_form(is_primary="y"))
    with app.app_context():
        newest = db.session.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1))
    assert _primaries(app, org.id) == [newest] and newest not in (first.id, second.id)


def test_the_new_contact_form_suggests_primary_only_when_the_organization_has_none(admin_client, make):
    org = make.organization()
    make.contact(org, is_primary=True)
    html = admin_client.get(f"/admin/organizations/{org.id}/contacts/new").get_data(as_text=True)
    assert re.search(r'<input id="is_primary" name="is_primary" type="checkbox" value="y">', html)


def test_deactivating_the_primary_contact_says_to_choose_another(app, admin_client, make):
    org = make.organization("Greenleaf")
    contact = make.contact(org, is_primary=True)
    html = admin_client.post(f"/admin/contacts/{contact.id}/deactivate", follow_redirects=True).get_data(as_text=True)
    assert "They were the primary contact of Greenleaf: choose another one." in html
    assert _primaries(app, org.id) == []
    response = admin_client.post(
        f"/admin/contacts/{contact.id}", data=_form(contact_state(app, contact.id), is_primary="y")
    )
    assert response.status_code == 422
    assert "An inactive contact can&#39;t be the primary contact." in response.get_data(as_text=True)


# --- the revocation rule, from the customer's browser ----------------------------------


def _deactivate(contact, other):
    return f"/admin/contacts/{contact.id}/deactivate", {}


def _edit(**changes):
    def build(contact, other):
        values = {k: (str(other.id) if v == "OTHER" else v) for k, v in changes.items()}
        return f"/admin/contacts/{contact.id}", _form(contact, **values)

    return build


TRIGGERS = {
    "portal disabled": (_edit(portal_enabled=None), "no access"),
    "contact deactivated": (_deactivate, "no access"),
    "email changed": (_edit(email="jane.new@example.test"), "revoked"),
    "organization changed": (_edit(organization_id="OTHER"), "revoked"),
    "level lowered": (_edit(portal_level="organization"), "revoked"),
}


@pytest.fixture
def customer(app, make, open_link):
    """A contact (level organization_tree) with a proposal open in their browser."""
    delivered = make.delivered(contact=make.contact(portal_level="organization_tree"))
    browser = app.test_client()
    assert open_link(browser, delivered.token).status_code == 200
    return delivered, browser


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_a_narrowing_change_revokes_links_and_ends_the_open_session_at_once(app, admin_client, make, customer, trigger):
    delivered, portal = customer
    other = make.organization()
    page = f"/p/proposals/{delivered.proposal.id}"
    assert portal.get(page).status_code == 200
    build, link_page = TRIGGERS[trigger]
    url, data = build(delivered.contact, other)
    response = admin_client.post(url, data=data)
    assert response.status_code == 303
    assert ENDED in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    # the very next request of the open session is refused: sent to sign-in, told why
    assert _sent_to_sign_in(portal.get(page))
    assert _sent_to_sign_in(portal.get(page))
    assert link_state(app, delivered.link_id).revoked_at is not None
    old_link = portal.get(f"/l/{delivered.token}")
    if link_page == "revoked":
        assert old_link.status_code == 410
        assert "This link is no longer active" in old_link.get_data(as_text=True)
    else:  # a contact without portal access is told so before anything about the link
        assert old_link.status_code == 403
        assert "Portal access is not active" in old_link.get_data(as_text=True)
    assert contact_state(app, delivered.contact.id).portal_epoch == delivered.contact.portal_epoch + 1


KEEPERS = {
    "renamed": dict(first_name="Janet", last_name="Parker"),
    "phone and title": dict(phone="+1 555 0199", title="Owner"),
    "level raised": dict(portal_level="organization_tree"),
}


@pytest.mark.parametrize("change", list(KEEPERS))
def test_renaming_or_raising_the_level_leaves_links_and_sessions_alone(app, admin_client, make, open_link, change):
    delivered = make.delivered(contact=make.contact(portal_level="requester"))
    portal = app.test_client()
    assert open_link(portal, delivered.token).status_code == 200
    response = admin_client.post(
        f"/admin/contacts/{delivered.contact.id}", data=_form(delivered.contact, **KEEPERS[change])
    )
    assert response.status_code == 303
    assert ENDED not in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert portal.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200
    assert link_state(app, delivered.link_id).revoked_at is None
    assert portal.get(f"/l/{delivered.token}").status_code == 303
    assert contact_state(app, delivered.contact.id).portal_epoch == delivered.contact.portal_epoch


def test_lowering_the_level_ends_a_signed_in_session_even_where_the_new_level_would_cover(app, admin_client, make):
    delivered = make.delivered(contact=make.contact(portal_level="organization"))
    contact = delivered.contact
    portal = app.test_client()
    forge_signed_in_session(app, portal, contact)  # as the sign-in flow leaves it
    page = f"/p/proposals/{delivered.proposal.id}"
    assert portal.get(page).status_code == 200
    # addressed to them: "requester" would still cover it, so only the ended session refuses
    assert (
        admin_client.post(f"/admin/contacts/{contact.id}", data=_form(contact, portal_level="requester")).status_code
        == 303
    )
    assert _sent_to_sign_in(portal.get(page))


def test_reactivating_does_not_bring_back_links_or_sessions(app, admin_client, customer):
    delivered, portal = customer
    admin_client.post(f"/admin/contacts/{delivered.contact.id}/deactivate")
    response = admin_client.post(f"/admin/contacts/{delivered.contact.id}/reactivate", follow_redirects=True)
    assert "is active again. Their earlier portal links stay revoked." in response.get_data(as_text=True)
    assert _sent_to_sign_in(portal.get(f"/p/proposals/{delivered.proposal.id}"))
    assert portal.get(f"/l/{delivered.token}").status_code == 410


def test_the_contact_page_and_lists_count_open_links(app, admin_client, make, customer):
    delivered, _portal = customer
    make.link(delivered.contact, delivered.proposal)
    make.link(delivered.contact, delivered.proposal, days=-1)  # expired: not open
    make.contact(SimpleNamespace(id=delivered.contact.organization_id))  # no links at all
    html = admin_client.get(f"/admin/contacts/{delivered.contact.id}").get_data(as_text=True)
    assert "2 open portal links." in html
    listed = admin_client.get(f"/admin/organizations/{delivered.proposal.organization_id}/contacts").get_data(
        as_text=True
    )
    cells = re.findall(r'<tr id="contact-(\d+)">.*?<td class="num">(\d+)</td>', listed, re.S)
    assert sorted(int(n) for _id, n in cells) == [0, 2]


# --- moving between organizations ------------------------------------------------------


def test_the_organization_select_searches_visible_organizations_with_htmx(app, make, browser):
    sales = make.staff(role="sales")
    home, branch = make.organization("Acme Home"), make.organization("Acme Branch")
    secret = make.organization("Acme Secret")  # matches the search, but not on their team
    add_to_team(app, home, sales)
    add_to_team(app, branch, sales)
    contact = make.contact(home)
    client = browser(sales)
    page = client.get(f"/admin/contacts/{contact.id}").get_data(as_text=True)
    assert "Acme Branch" in page and "Acme Secret" not in page
    partial = client.get(f"/admin/contacts/{contact.id}?org_q=acme+b", headers=HX)
    html = partial.get_data(as_text=True)
    assert "<html" not in html and "<option" in html
    assert f'<option value="{home.id}" selected>Acme Home</option>' in html  # the current one stays
    assert "Acme Branch" in html and "Acme Secret" not in html
    # the organization picked so far stays listed and selected through another search...
    html = client.get(f"/admin/contacts/{contact.id}?org_q=zzz&organization_id={branch.id}", headers=HX).get_data(
        as_text=True
    )
    assert f'<option value="{branch.id}" selected>Acme Branch</option>' in html
    # ...but naming one they may not see shows nothing of it
    html = client.get(f"/admin/contacts/{contact.id}?org_q=zzz&organization_id={secret.id}", headers=HX).get_data(
        as_text=True
    )
    assert "Acme Secret" not in html and f'value="{secret.id}"' not in html


def test_moving_to_an_organization_one_may_not_see_is_404(app, make, browser):
    sales = make.staff(role="sales")
    home, hidden = make.organization(), make.organization()
    add_to_team(app, home, sales)
    contact = make.contact(home)
    client = browser(sales)
    before = snapshot(app)
    response = client.post(f"/admin/contacts/{contact.id}", data=_form(contact, organization_id=str(hidden.id)))
    assert response.status_code == 404
    assert snapshot(app) == before


def test_a_contact_moves_to_another_organization(app, admin_client, make):
    old, new = make.organization(), make.organization("New Home")
    contact = make.contact(old, is_primary=True)
    response = admin_client.post(
        f"/admin/contacts/{contact.id}", data=_form(contact, organization_id=str(new.id), is_primary=None)
    )
    assert response.status_code == 303
    moved = contact_state(app, contact.id)
    assert moved.organization_id == new.id and not moved.is_primary
    assert _primaries(app, old.id) == []


# --- who may see and change what ---------------------------------------------------------


def _routes(org_id: int, contact_id: int) -> tuple[list[str], list[str]]:
    reads = [f"/admin/organizations/{org_id}/contacts", f"/admin/contacts/{contact_id}"]
    writes = [
        f"/admin/organizations/{org_id}/contacts/new",
        f"/admin/contacts/{contact_id}",
        f"/admin/contacts/{contact_id}/deactivate",
        f"/admin/contacts/{contact_id}/reactivate",
    ]
    return reads, writes


@pytest.mark.parametrize("role", ["technician", "sales"])
def test_staff_outside_the_account_team_get_404_everywhere(app, make, browser, role):
    user = make.staff(role=role)
    org = make.organization()
    contact = make.contact(org)
    client = browser(user)
    reads, writes = _routes(org.id, contact.id)
    before = snapshot(app)
    for url in reads + [f"/admin/organizations/{org.id}/contacts/new", f"/admin/contacts/{contact.id}?org_q=a"]:
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers=HX).status_code == 404, url
    for url in writes:
        assert client.post(url, data=_form(contact, first_name="Forged")).status_code == 404, url
    assert snapshot(app) == before


def test_a_technician_on_the_team_reads_but_cannot_change(app, make, browser):
    tech = make.staff(role="technician")
    org = make.organization()
    add_to_team(app, org, tech)
    contact = make.contact(org, first_name="Jane", last_name="Park", phone="+1 555 0100")
    client = browser(tech)
    reads, writes = _routes(org.id, contact.id)
    for url in reads:
        assert client.get(url).status_code == 200, url
    page = client.get(f"/admin/contacts/{contact.id}").get_data(as_text=True)
    assert "+1 555 0100" in page
    assert 'id="contact-form"' not in page and 'id="deactivate"' not in page
    assert "New contact" not in client.get(reads[0]).get_data(as_text=True)
    assert client.get(f"/admin/organizations/{org.id}/contacts/new").status_code == 404
    before = snapshot(app)
    for url in writes:
        assert client.post(url, data=_form(contact, first_name="Forged")).status_code == 404, url
    assert snapshot(app) == before


@pytest.mark.parametrize("role", ["sales", "manager"])
def test_sales_on_the_team_and_managers_may_edit(app, make, browser, role):
    user = make.staff(role=role)
    org = make.organization()
    if role == "sales":
        add_to_team(app, org, user)
    contact = make.contact(org)
    client = browser(user)
    assert 'id="contact-form"' in client.get(f"/admin/contacts/{contact.id}").get_data(as_text=True)
    response = client.post(f"/admin/contacts/{contact.id}", data=_form(contact, title="Owner"))
    assert response.status_code == 303
    assert contact_state(app, contact.id).title == "Owner"


def test_unknown_contacts_and_organizations_are_404(admin_client):
    assert admin_client.get("/admin/contacts/999999").status_code == 404
    assert admin_client.get("/admin/organizations/999999/contacts").status_code == 404
    assert admin_client.post("/admin/contacts/999999/deactivate").status_code == 404


def test_contact_pages_need_a_staff_login(client, make):
    contact = make.contact()
    for url in (
        "/admin/contacts/",
        f"/admin/contacts/{contact.id}",
        f"/admin/organizations/{contact.organization_id}/contacts",
    ):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"], url


def _sent_to_sign_in(response) -> bool:
    """A portal page without a (still valid) session: offered sign-in, nothing shown
    (it was a bare 404; tests/portal/test_session_ended.py)."""
    return response.status_code == 303 and response.headers["Location"].startswith("/sign-in?next=")
