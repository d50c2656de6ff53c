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
