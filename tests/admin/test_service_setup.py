"""Service setup pages (admins and managers): SLAs and their targets, service-hours
calendars with holidays and a due-time preview, ticket statuses, issue types; invalid
forms come back filled in with 422 and nothing stored; query counts of the lists."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.service_desk.models import IssueType, ServiceCalendar, Sla, TicketState, TicketStatus
from tests.factories import snapshot, stored

HX = {"HX-Request": "true"}
UNREADABLE_DAY = "Write hours as 09:00-17:00, or two intervals as 09:00-12:00, 13:00-17:00 (empty: closed)."


@pytest.fixture
def admin_client(app, make, login):
    client = app.test_client()
    login(client, make.staff(role="admin", name="Ada Admin"))
    return client


def _errors(html: str) -> list[str]:
    return re.findall(r'<p class="error">([^<]*)</p>', html)


def _sla_form(**values) -> dict:
    """What the SLA form posts: a shared SLA on calendar 1 with sane targets unless told otherwise."""
    data = {"name": "Gold", "calendar_id": "1", "is_shared": "y"}
    for priority, (first, resolution) in {
        "low": ("8", "40"),
        "normal": ("4", "24"),
        "high": ("2", "8"),
        "urgent": ("1", "4"),
    }.items():
        data[f"first_{priority}"] = first
        data[f"resolution_{priority}"] = resolution
    for key, value in values.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _sla_by_name(app, name: str) -> Sla | None:
    with app.app_context():
        sla = db.session.scalar(select(Sla).where(Sla.name == name))
        if sla is not None:
            db.session.expunge(sla)
        db.session.remove()
        return sla


def _targets(sla: Sla) -> dict[str, tuple[int, int]]:
    return {t.priority: (t.first_response_minutes, t.resolution_minutes) for t in sla.targets}


def _week(**days) -> dict:
    form = {"name": "Rome office", "timezone": "Europe/Rome"}
    form.update({f"day_{d}": "" for d in range(7)})
    form.update(days)
    return form


# --- who may ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["sales", "technician"])
def test_sales_and_technicians_get_404_on_service_setup_and_see_no_nav_entry(app, make, login, role):
    client = app.test_client()
    login(client, make.staff(role=role))
    for path in (
        "/admin/service/",
        "/admin/service/slas",
        "/admin/service/slas/1",
        "/admin/service/calendars/1",
        "/admin/service/statuses",
        "/admin/service/issue-types",
    ):
        assert client.get(path).status_code == 404, path
    before = snapshot(app)
    assert client.post("/admin/service/statuses", data={"name": "Sneaky", "state": "open"}).status_code == 404
    assert client.post("/admin/service/slas/1", data=_sla_form(name="Hijacked")).status_code == 404
    assert snapshot(app) == before
    assert "Service setup" not in client.get("/admin/proposals/").get_data(as_text=True)


def test_managers_see_the_nav_entry_and_the_pages(app, make, login):
    client = app.test_client()
    login(client, make.staff(role="manager"))
    assert 'href="/admin/service/slas">Service setup</a>' in client.get("/admin/proposals/").get_data(as_text=True)
    for path in (
        "/admin/service/slas",
        "/admin/service/calendars",
        "/admin/service/statuses",
        "/admin/service/issue-types",
        "/admin/service/slas/new",
        "/admin/service/calendars/new",
    ):
        assert client.get(path).status_code == 200, path


# --- SLAs ------------------------------------------------------------------------------


def test_a_new_sla_stores_hours_minutes_and_decimal_hours_as_minutes(app, admin_client):
    response = admin_client.post(
        "/admin/service/slas/new",
        data=_sla_form(
            name="Gold",
            first_urgent="0:30",
            resolution_urgent="1.5",
            first_high="1h 15m",
            resolution_high="2,25",
            first_normal="90m",
        ),
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/service/slas")
    sla = _sla_by_name(app, "Gold")
    assert _targets(sla) == {"urgent": (30, 90), "high": (75, 135), "normal": (90, 24 * 60), "low": (480, 2400)}
    assert (sla.calendar_id, sla.is_shared, sla.is_default) == (1, True, False)
    # The edit form shows them back as hours.
    html = admin_client.get(f"/admin/service/slas/{sla.id}").get_data(as_text=True)
    assert 'name="first_urgent" type="text" value="0:30"' in html
    assert 'name="resolution_high" type="text" value="2:15"' in html
    assert 'name="resolution_normal" type="text" value="24"' in html


def test_invalid_targets_are_a_422_with_every_message_what_was_typed_kept_and_nothing_stored(app, admin_client):
    before = snapshot(app)
    response = admin_client.post(
        "/admin/service/slas/new",
        data=_sla_form(
            name="Broken", first_urgent="0", resolution_high="1", first_high="2", first_low="soon", resolution_low=""
        ),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert set(_errors(html)) >= {
        "A target must be longer than zero.",
        "Resolution cannot be due before the first response.",
        "Enter a time in hours, such as 4, 1.5 or 1:30.",
        "Enter a time.",
    }
    assert 'value="soon"' in html and 'value="Broken"' in html
    assert snapshot(app) == before


def test_editing_an_sla_with_an_error_loses_nothing_already_saved(app, admin_client, make):
    sla = make.sla("Silver", targets={"low": (60, 120), "normal": (60, 120), "high": (30, 60), "urgent": (15, 30)})
    response = admin_client.post(
        f"/admin/service/slas/{sla.id}", data=_sla_form(name="Silver renamed", first_normal="5", resolution_normal="4")
    )
    assert response.status_code == 422
    assert "Silver renamed" in response.get_data(as_text=True)
    kept = stored(app, Sla, sla.id)
    assert kept.name == "Silver" and _targets(kept)["normal"] == (60, 120)


def test_an_htmx_post_gets_the_form_block_back_with_422(app, admin_client):
    response = admin_client.post("/admin/service/slas/new", data=_sla_form(name=""), headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="sla-form"' in html and "Enter a name." in html
    assert "HX-Request" in response.headers["Vary"]
    ok = admin_client.post("/admin/service/slas/new", data=_sla_form(name="Bronze"), headers=HX)
    assert ok.status_code == 200 and ok.headers["HX-Redirect"] == "/admin/service/slas"


def test_names_are_unique_whatever_the_case(app, admin_client):
    response = admin_client.post("/admin/service/slas/new", data=_sla_form(name="standard"))
    assert response.status_code == 422
    assert "Another SLA has this name." in _errors(response.get_data(as_text=True))


def test_making_an_sla_the_default_takes_the_flag_from_the_old_default(app, admin_client):
    assert (
        admin_client.post("/admin/service/slas/new", data=_sla_form(name="Premium", is_default="y")).status_code == 303
    )
    with app.app_context():
        defaults = db.session.scalars(select(Sla.name).where(Sla.is_default.is_(True))).all()
    assert defaults == ["Premium"]


def test_the_default_cannot_be_unticked_nor_be_custom(app, admin_client):
    response = admin_client.post("/admin/service/slas/1", data=_sla_form(name="Standard"))  # no is_default
    assert response.status_code == 422
    assert "This is the default SLA: make another SLA the default instead." in response.get_data(as_text=True)
    response = admin_client.post(
        "/admin/service/slas/1", data=_sla_form(name="Standard", is_default="y", is_shared=None)
    )
    assert response.status_code == 422
    assert "it must be shared" in response.get_data(as_text=True)
    assert stored(app, Sla, 1).is_default is True


def test_the_list_shows_targets_and_how_many_organizations_and_issue_types_use_each_sla(app, admin_client, make):
    gold = make.sla("Gold", targets={"low": (90, 600), "normal": (60, 480), "high": (30, 240), "urgent": (15, 60)})
    for name in ("Acme", "Bolt"):
        make.organization_with(name, sla_id=gold.id)
    make.issue_type("Leaks", sla_id=gold.id)
    html = admin_client.get("/admin/service/slas").get_data(as_text=True)
    row = re.search(rf'<tr id="sla-{gold.id}">(.*?)</tr>', html, re.DOTALL).group(1)
    assert "1:30 / 10" in row and "0:15 / 1" in row
    assert 'data-organizations="2"' in row and 'data-issue-types="1"' in row
    standard = re.search(r'<tr id="sla-1">(.*?)</tr>', html, re.DOTALL).group(1)
    assert "Default" in standard and 'data-organizations="0"' in standard
    page = admin_client.get(f"/admin/service/slas/{gold.id}").get_data(as_text=True)
    assert ">Acme</a>" in page and ">Bolt</a>" in page and ">Leaks</a>" in page


def test_the_sla_list_query_count_does_not_grow_with_slas(app, admin_client, make, count_queries):
    def grow(n: int) -> None:
        for _ in range(n):
            sla = make.sla()
            make.organization_with(sla_id=sla.id)
            make.issue_type(sla_id=sla.id)

    grow(1)
    with count_queries() as few:
        assert admin_client.get("/admin/service/slas").status_code == 200
    grow(6)
    with count_queries() as many:
        assert admin_client.get("/admin/service/slas").status_code == 200
    assert many.count == few.count, many.statements


# --- calendars ------------------------------------------------------------------------


def test_a_calendar_with_a_split_day_and_a_closed_weekend_is_stored_as_intervals(app, admin_client):
    response = admin_client.post(
        "/admin/service/calendars/new",
        data=_week(
            day_0="09:00-12:00, 13:00-17:00", day_1="9-17", day_2="08:30-12:30", day_3="closed", day_4="09:00-24:00"
        ),
    )
    assert response.status_code == 303
    with app.app_context():
        calendar = db.session.scalar(select(ServiceCalendar).where(ServiceCalendar.name == "Rome office"))
        rows = [(h.weekday, h.start_minute, h.end_minute) for h in calendar.hours]
        calendar_id = calendar.id
    assert response.headers["Location"].endswith(f"/admin/service/calendars/{calendar_id}")
    assert rows == [(0, 540, 720), (0, 780, 1020), (1, 540, 1020), (2, 510, 750), (4, 540, 1440)]
    html = admin_client.get(f"/admin/service/calendars/{calendar_id}").get_data(as_text=True)
    assert 'name="day_0" placeholder="closed" type="text" value="09:00-12:00, 13:00-17:00"' in html
    assert "A 1-hour target opened now would be due at" in html


@pytest.mark.parametrize(
    "days, field_message",
    [
        ({}, "Set working hours on at least one day: a week without any cannot time an SLA."),
        ({"day_0": "09:00-09:00"}, "Each interval must end after it starts (09:00-09:00)."),
        ({"day_0": "09:00-13:00, 12:00-17:00"}, "The intervals overlap."),
        ({"day_0": "9 to 5ish"}, UNREADABLE_DAY),
        ({"day_0": "09:00-25:00"}, UNREADABLE_DAY),
    ],
)
def test_a_week_that_is_empty_or_unreadable_is_refused_with_422(app, admin_client, days, field_message):
    before = snapshot(app)
    response = admin_client.post("/admin/service/calendars/new", data=_week(**days))
    assert response.status_code == 422
    assert field_message in _errors(response.get_data(as_text=True))
    assert snapshot(app) == before


def test_an_unknown_time_zone_is_refused_and_the_typed_hours_stay(app, admin_client):
    response = admin_client.post(
        "/admin/service/calendars/1", data=_week(name="Business hours", timezone="Mars/Olympus", day_0="10:00-11:00")
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose a time zone from the list, such as Europe/Rome." in html
    assert 'value="10:00-11:00"' in html and 'value="Mars/Olympus"' in html
    assert stored(app, ServiceCalendar, 1).timezone == "UTC"


def test_holidays_are_added_once_and_removed(app, admin_client):
    url = "/admin/service/calendars/1/holidays"
    assert admin_client.post(url, data={"day": "2026-12-25", "holiday_name": "Christmas"}).status_code == 303
    again = admin_client.post(url, data={"day": "2026-12-25", "holiday_name": "Twice"})
    assert again.status_code == 422 and "This date is already a holiday." in again.get_data(as_text=True)
    partial = admin_client.post(url, data={"day": ""}, headers=HX)
    assert partial.status_code == 422
    assert "<html" not in partial.get_data(as_text=True) and "Enter a date." in partial.get_data(as_text=True)
    calendar = stored(app, ServiceCalendar, 1)
    assert [(h.day, h.name) for h in calendar.holidays] == [(date(2026, 12, 25), "Christmas")]
    holiday_id = calendar.holidays[0].id
    assert "Christmas" in admin_client.get("/admin/service/calendars/1").get_data(as_text=True)
    assert admin_client.post(f"{url}/{holiday_id}/remove").status_code == 303
    assert stored(app, ServiceCalendar, 1).holidays == []
    assert admin_client.post(f"{url}/{holiday_id}/remove").status_code == 404


def test_the_preview_counts_in_the_calendar_hours(app, admin_client, make):
    # Open only on Sunday 10:00-11:00 in Tokyo: the hour-long target ends at 11:00 Tokyo time.
    sla = make.sla(timezone="Asia/Tokyo", hours=((6, 10, 11),))
    with app.app_context():
        calendar_id = db.session.get(Sla, sla.id).calendar_id
    html = admin_client.get(f"/admin/service/calendars/{calendar_id}").get_data(as_text=True)
    preview = re.search(r'<section class="card" id="preview">(.*?)</section>', html, re.DOTALL).group(1)
    assert "11:00" in preview and "Asia/Tokyo" in preview


def test_the_calendar_list_query_count_does_not_grow(app, admin_client, make, count_queries):
    make.sla()
    with count_queries() as few:
        assert admin_client.get("/admin/service/calendars").status_code == 200
    for _ in range(5):
        make.sla(holidays=(date(2026, 1, 1), date(2026, 12, 25)))
    with count_queries() as many:
        html = admin_client.get("/admin/service/calendars").get_data(as_text=True)
    assert many.count == few.count, many.statements
    assert html.count('<tr id="calendar-') == 7


# --- statuses -----------------------------------------------------------------------------


def _status(app, name: str) -> TicketStatus:
    with app.app_context():
        status = db.session.scalar(select(TicketStatus).where(TicketStatus.name == name))
        db.session.expunge(status)
        db.session.remove()
        return status


def test_a_status_is_added_last_renamed_and_moved(app, admin_client):
    assert admin_client.post("/admin/service/statuses", data={"name": "On hold", "state": "waiting"}).status_code == 303
    added = _status(app, "On hold")
    assert added.state == TicketState.WAITING and added.is_active
    assert added.position > max(s.position for s in [_status(app, "Resolved"), _status(app, "New")])
    response = admin_client.post(
        f"/admin/service/statuses/{added.id}", data={"name": "Parts on order", "state": "waiting", "position": "0"}
    )
    assert response.status_code == 303
    html = admin_client.get("/admin/service/statuses").get_data(as_text=True)
    assert html.index("Parts on order") < html.index(">New<")


def test_a_status_name_and_state_are_checked(app, admin_client):
    before = snapshot(app)
    response = admin_client.post("/admin/service/statuses", data={"name": "new", "state": "limbo"})
    assert response.status_code == 422
    assert set(_errors(response.get_data(as_text=True))) == {
        "Another status has this name.",
        "Choose what the status means.",
    }
    assert snapshot(app) == before


def test_a_status_in_use_keeps_its_state_and_is_never_deleted(app, admin_client, make):
    make.ticket()  # takes "New"
    new = _status(app, "New")
    response = admin_client.post(
        f"/admin/service/statuses/{new.id}", data={"name": "Fresh", "state": "closed", "position": "1"}
    )
    assert response.status_code == 422
    assert "Tickets have this status, so what it means cannot change" in response.get_data(as_text=True)
    assert admin_client.post(f"/admin/service/statuses/{new.id}/delete").status_code == 303
    assert "Tickets have New: deactivate it instead." in admin_client.get("/admin/service/statuses").get_data(
        as_text=True
    )
    assert stored(app, TicketStatus, new.id).name == "New"
    # Renaming is fine.
    assert (
        admin_client.post(
            f"/admin/service/statuses/{new.id}", data={"name": "Fresh", "state": "open", "position": "1"}
        ).status_code
        == 303
    )
    assert stored(app, TicketStatus, new.id).name == "Fresh"


def test_each_state_keeps_one_active_status(app, admin_client):
    waiting = _status(app, "Waiting on customer")
    assert admin_client.post(f"/admin/service/statuses/{waiting.id}/deactivate").status_code == 303
    html = admin_client.get("/admin/service/statuses").get_data(as_text=True)
    assert "Waiting on customer is the only active status of its kind" in html
    assert stored(app, TicketStatus, waiting.id).is_active is True
    response = admin_client.post(
        f"/admin/service/statuses/{waiting.id}", data={"name": "Waiting on customer", "state": "open", "position": "3"}
    )
    assert response.status_code == 422
    # With a second open status, "New" may go (and come back).
    new = _status(app, "New")
    assert admin_client.post(f"/admin/service/statuses/{new.id}/deactivate").status_code == 303
    assert stored(app, TicketStatus, new.id).is_active is False
    in_progress = _status(app, "In progress")
    assert admin_client.post(f"/admin/service/statuses/{in_progress.id}/deactivate").status_code == 303
    assert stored(app, TicketStatus, in_progress.id).is_active is True
    assert admin_client.post(f"/admin/service/statuses/{new.id}/reactivate").status_code == 303
    assert stored(app, TicketStatus, new.id).is_active is True


def test_an_unused_status_can_be_deleted(app, admin_client):
    admin_client.post("/admin/service/statuses", data={"name": "Escalated", "state": "open"})
    escalated = _status(app, "Escalated")
    assert admin_client.post(f"/admin/service/statuses/{escalated.id}/delete").status_code == 303
    with app.app_context():
        assert db.session.get(TicketStatus, escalated.id) is None


def test_the_status_list_query_count_does_not_grow_with_tickets(app, admin_client, make, count_queries):
    contact = make.contact()
    make.ticket(contact)
    with count_queries() as few:
        assert admin_client.get("/admin/service/statuses").status_code == 200
    for _ in range(4):
        make.ticket(contact)
    admin_client.post("/admin/service/statuses", data={"name": "Escalated", "state": "open"})
    with count_queries() as many:
        html = admin_client.get("/admin/service/statuses").get_data(as_text=True)
    assert many.count == few.count, many.statements
    new = _status(app, "New")
    assert re.search(rf'<tr id="status-{new.id}">.*?<td class="num">5</td>', html, re.DOTALL)


# --- issue types -------------------------------------------------------------------------


def _kind(app, name: str) -> IssueType:
    with app.app_context():
        kind = db.session.scalar(select(IssueType).where(IssueType.name == name))
        db.session.expunge(kind)
        db.session.remove()
        return kind


def test_issue_types_and_sub_types_are_added_moved_and_deactivated(app, admin_client, make):
    for name in ("Plumbing", "Electrical"):
        assert (
            admin_client.post(
                "/admin/service/issue-types", data={"name": name, "parent_id": "0", "sla_id": "0"}
            ).status_code
            == 303
        )
    plumbing = _kind(app, "Plumbing")
    for name in ("Leak", "Blocked drain"):
        assert (
            admin_client.post(
                "/admin/service/issue-types", data={"name": name, "parent_id": str(plumbing.id), "sla_id": "0"}
            ).status_code
            == 303
        )
    html = admin_client.get("/admin/service/issue-types").get_data(as_text=True)
    assert html.index(">Plumbing<") < html.index(">Leak<") < html.index(">Blocked drain<") < html.index(">Electrical<")
    drain = _kind(app, "Blocked drain")
    assert drain.parent_id == plumbing.id
    assert admin_client.post(f"/admin/service/issue-types/{drain.id}/move", data={"direction": "up"}).status_code == 303
    electrical = _kind(app, "Electrical")
    admin_client.post(f"/admin/service/issue-types/{electrical.id}/move", data={"direction": "up"})
    html = admin_client.get("/admin/service/issue-types").get_data(as_text=True)
    assert html.index(">Electrical<") < html.index(">Plumbing<") < html.index(">Blocked drain<") < html.index(">Leak<")
    assert admin_client.post(f"/admin/service/issue-types/{drain.id}/deactivate").status_code == 303
    assert stored(app, IssueType, drain.id).is_active is False
    with app.app_context():
        from portal.domains.service_desk.tickets import sub_issue_types

        assert [k.name for k in sub_issue_types(plumbing.id)] == ["Leak"]


def test_a_sub_type_cannot_have_sub_types_and_names_are_unique_per_level(app, admin_client, make):
    parent = make.issue_type("Garden")
    child = make.issue_type("Mowing", parent=parent)
    before = snapshot(app)
    response = admin_client.post(
        "/admin/service/issue-types", data={"name": "Edges", "parent_id": str(child.id), "sla_id": "0"}
    )
    assert response.status_code == 422
    assert "Choose a top-level issue type: sub-types have no sub-types." in response.get_data(as_text=True)
    response = admin_client.post(
        "/admin/service/issue-types", data={"name": "mowing", "parent_id": str(parent.id), "sla_id": "0"}
    )
    assert response.status_code == 422
    assert snapshot(app) == before
    # The same name at another level is fine.
    assert (
        admin_client.post(
            "/admin/service/issue-types", data={"name": "Mowing", "parent_id": "0", "sla_id": "0"}
        ).status_code
        == 303
    )


def test_an_issue_type_sla_override_is_set_shown_and_used_by_new_tickets(app, admin_client, make):
    rush = make.sla("Rush", targets={p: (15, 60) for p in ("low", "normal", "high", "urgent")})
    kind = make.issue_type("Flood")
    form = admin_client.get(f"/admin/service/issue-types/{kind.id}").get_data(as_text=True)
    assert '<optgroup label="Shared SLAs">' in form
    assert (
        admin_client.post(
            f"/admin/service/issue-types/{kind.id}", data={"name": "Flooding", "sla_id": str(rush.id)}
        ).status_code
        == 303
    )
    assert "SLA: Rush" in admin_client.get("/admin/service/issue-types").get_data(as_text=True)
    ticket = make.ticket(issue_type_id=kind.id)
    assert ticket.sla_id == rush.id
    bad = admin_client.post(f"/admin/service/issue-types/{kind.id}", data={"name": "Flooding", "sla_id": "999"})
    assert bad.status_code == 422 and "Choose an SLA from the list." in bad.get_data(as_text=True)


def test_the_issue_type_tree_query_count_does_not_grow(app, admin_client, make, count_queries):
    sla = make.sla()
    top = make.issue_type("Top", sla_id=sla.id)
    make.issue_type(parent=top, sla_id=sla.id)
    with count_queries() as few:
        assert admin_client.get("/admin/service/issue-types").status_code == 200
    for _ in range(4):
        parent = make.issue_type(sla_id=sla.id)
        make.issue_type(parent=parent)
        make.issue_type(parent=parent, sla_id=sla.id)
    with count_queries() as many:
        assert admin_client.get("/admin/service/issue-types").status_code == 200
    assert many.count == few.count, many.statements
