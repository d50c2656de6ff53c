"""What every page carries around its content: the icon, flashed messages."""

from __future__ import annotations

import io

from PIL import Image


def test_favicon_ico_is_served(client):
    with client.get("/favicon.ico") as response:  # closing it closes the served file
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.data)).format == "ICO"


def test_the_svg_icon_is_served(client):
    with client.get("/static/favicon.svg") as response:
        assert response.status_code == 200
        assert b"<svg" in response.data


def test_portal_and_admin_pages_link_the_icon(client):
    for path in ("/", "/admin/login", "/sign-in"):
        html = client.get(path).get_data(as_text=True)
        assert '<link rel="icon" href="/static/favicon.svg"' in html, path
        assert 'href="/favicon.ico"' in html, path


# --- flashed messages --------------------------------------------------------------


def _flash(client, message: str) -> None:
    with client.session_transaction() as session:
        session["_flashes"] = [("success", message)]


def test_a_flash_is_shown_once_on_the_next_full_page(app, make, login):
    staff = make.staff(role="admin")
    client = app.test_client()
    login(client, staff)
    _flash(client, "Saved the thing.")
    first = client.get("/admin/proposals/").get_data(as_text=True)
    assert first.count("Saved the thing.") == 1
    assert '<div id="flashes">' in first
    assert "Saved the thing." not in client.get("/admin/proposals/").get_data(as_text=True)


def test_a_flash_pending_during_an_htmx_partial_comes_with_it_and_not_later(app, make, login):
    # Partials never rendered the flash region: the message stayed in the session and
    # appeared on a later, unrelated page ("lingering").
    staff = make.staff(role="admin")
    client = app.test_client()
    login(client, staff)
    _flash(client, "Reply sent.")
    partial = client.get("/admin/tickets/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial
    assert '<div id="flashes" hx-swap-oob="true">' in partial and "Reply sent." in partial
    later = client.get("/admin/proposals/").get_data(as_text=True)
    assert "Reply sent." not in later


def test_partials_without_a_pending_flash_are_unchanged(app, make, login):
    staff = make.staff(role="admin")
    client = app.test_client()
    login(client, staff)
    partial = client.get("/admin/tickets/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "flashes" not in partial


def test_the_script_empties_the_flash_region_before_the_next_htmx_request(client):
    from pathlib import Path

    import portal

    script = (Path(portal.__file__).parent / "static" / "js" / "app.js").read_text()
    assert 'addEventListener("htmx:beforeRequest"' in script and 'getElementById("flashes")' in script
