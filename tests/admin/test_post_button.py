"""The one-button POST form macro (``admin/_forms.html`` ``post_button``): one copy
of "form + CSRF token + hidden fields + one button" for every staff page."""

from __future__ import annotations

import re

from flask import render_template_string

MACRO = '{% from "admin/_forms.html" import post_button %}'


def _render(app, call: str) -> str:
    with app.test_request_context("/admin/"):
        return render_template_string(MACRO + call)


def test_post_button_renders_a_post_form_with_the_csrf_token_and_one_button(app):
    html = _render(
        app,
        '{{ post_button("admin.proposals.mark_won", {"proposal_id": 1}, "Mark won", class="button block", id="mark-won") }}',
    )
    assert re.search(r'<form method="post" action="/admin/proposals/1/won">', html)
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+">', html)
    assert '<button class="button block" type="submit" id="mark-won">Mark won</button>' in html
    assert html.count("<button") == 1 and "hx-post" not in html and "hx-confirm" not in html


def test_post_button_with_htmx_posts_to_the_same_url_and_keeps_hidden_fields_and_confirm(app):
    html = _render(
        app,
        '{{ post_button("admin.sites.deactivate", {"site_id": 3}, "Deactivate", class="button small danger",'
        ' form_class="inline",'
        ' form_id="f", hx_target="#sites", confirm="Sure?", fields={"direction": "up"},'
        ' hidden_label="North <b>", note="Shown once.") }}',
    )
    assert '<form method="post" class="inline" action="/admin/sites/3/deactivate" id="f"' in html
    assert 'hx-post="/admin/sites/3/deactivate" hx-target="#sites" hx-swap="outerHTML"' in html
    assert 'hx-confirm="Sure?"' in html
    assert '<input type="hidden" name="direction" value="up">' in html
    assert '<span class="visually-hidden"> North &lt;b&gt;</span></button>' in html  # escaped
    assert '<small class="muted">Shown once.</small>' in html


def test_the_staff_pages_use_the_macro_for_their_one_button_forms(app, make, login):
    """The sign-out button (on every staff page) comes from the macro: same markup."""
    client = app.test_client()
    login(client, make.staff(role="admin"))
    html = client.get("/admin/outbox/").get_data(as_text=True)
    assert re.search(
        r'<form method="post" class="inline" action="/admin/logout">\s*'
        r'<input type="hidden" name="csrf_token" value="[^"]*">\s*'
        r'<button class="button small" type="submit">Sign out</button>',
        html,
    )
