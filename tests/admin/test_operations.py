"""The one copy of "domain error -> rollback -> form errors / 409" in the staff area:
``admin.operations.attempt`` and the refusal handler every admin view falls back on."""

from __future__ import annotations

import pytest
from flask import session
from flask_wtf import FlaskForm
from wtforms import StringField

from admin.operations import attempt, saved_or_form
from portal.core.errors import ContentChanged, InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers import sites as site_service
from portal.domains.customers.models import Organization, Site
from tests.factories import stored

HX = {"HX-Request": "true"}


class _NameForm(FlaskForm):
    name = StringField("Name")


def _refusing(kind, message):
    """An operation that writes (and flushes) first, then refuses: the write must not stay."""

    def deactivate_then_refuse(site: Site) -> None:
        site.is_active = False
        site.name = "Half-done"
        db.session.flush()
        raise kind(message)

    return deactivate_then_refuse


@pytest.mark.parametrize("kind", [NotAllowed, ContentChanged])
def test_a_refusal_in_an_admin_view_rolls_back_and_answers_409_with_the_message(app, make, login, monkeypatch, kind):
    organization = make.organization()
    site = make.site(organization, "North campus")
    client = app.test_client()
    login(client, make.staff(role="admin"))
    monkeypatch.setattr(site_service, "deactivate_site", _refusing(kind, "Sites in use stay active."))

    response = client.post(f"/admin/sites/{site.id}/deactivate")

    assert response.status_code == 409
    assert "Sites in use stay active." in response.get_data(as_text=True)
    kept = stored(app, Site, site.id)
    assert (kept.name, kept.is_active) == ("North campus", True)


def test_a_refusal_in_an_htmx_request_answers_a_409_fragment_with_the_message(app, make, login, monkeypatch):
    organization = make.organization()
    site = make.site(organization, "North campus")
    client = app.test_client()
    login(client, make.staff(role="admin"))
    monkeypatch.setattr(site_service, "deactivate_site", _refusing(NotAllowed, "Sites <b>in use</b> stay active."))

    response = client.post(f"/admin/sites/{site.id}/deactivate", headers=HX)

    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert "Sites &lt;b&gt;in use&lt;/b&gt; stay active." in html  # escaped, not markup
    assert stored(app, Site, site.id).is_active is True


def test_invalid_input_in_attempt_writes_nothing_and_puts_the_message_on_the_field(app, make):
    organization = make.organization("Greenleaf")
    with app.test_request_context("/admin/", method="POST", data={"name": "Blueleaf"}):
        form = _NameForm(meta={"csrf": False})

        def rename_then_refuse():
            db.session.get(Organization, organization.id).name = form.name.data
            db.session.flush()
            raise InvalidInput({"name": "That name is taken.", "other": "Check the rest."})

        outcome = attempt(rename_then_refuse, form)

        assert not outcome.ok and outcome.status == 422
        assert form.name.errors == ["That name is taken."]
        assert form.form_errors == ["Check the rest."]  # no such field: at the top
    assert stored(app, Organization, organization.id).name == "Greenleaf"


def test_attempt_commits_and_returns_the_value_on_success(app, make):
    organization = make.organization("Greenleaf")
    with app.test_request_context("/admin/"):

        def rename():
            db.session.get(Organization, organization.id).name = "Blueleaf"
            db.session.flush()
            return "renamed"

        outcome = attempt(rename)
        db.session.rollback()  # a rollback after attempt cannot undo it: it was committed

        assert outcome.ok and outcome.value == "renamed" and outcome.status == 200
    assert stored(app, Organization, organization.id).name == "Blueleaf"


def test_a_kept_refusal_is_a_409_outcome_with_its_message_on_the_named_field(app, make):
    organization = make.organization("Greenleaf")
    with app.test_request_context("/admin/", method="POST", data={"name": "x"}):
        form = _NameForm(meta={"csrf": False})

        def rename_then_refuse():
            db.session.get(Organization, organization.id).name = "Blueleaf"
            db.session.flush()
            raise NotAllowed("Not now.")

        outcome = attempt(rename_then_refuse, form, keep_refusal="name")

        assert not outcome.ok and outcome.status == 409
        assert form.name.errors == ["Not now."]
    assert stored(app, Organization, organization.id).name == "Greenleaf"


def test_an_unkept_refusal_in_attempt_rolls_back_and_propagates(app, make):
    organization = make.organization("Greenleaf")
    with app.test_request_context("/admin/"):

        def rename_then_refuse():
            db.session.get(Organization, organization.id).name = "Blueleaf"
            db.session.flush()
            raise NotAllowed("Not now.")

        with pytest.raises(NotAllowed):
            attempt(rename_then_refuse)
    assert stored(app, Organization, organization.id).name == "Greenleaf"


def test_saved_or_form_shows_the_form_when_refused_and_otherwise_flashes_and_redirects(app):
    with app.test_request_context("/admin/", method="POST"):
        refused = saved_or_form(None, lambda: ("the form", 422), "never", "/nowhere")
        assert refused == ("the form", 422) and "_flashes" not in session
        done = saved_or_form("Greenleaf", lambda: ("the form", 422), lambda name: f"{name} saved.", lambda n: f"/{n}")
        assert done.status_code == 303 and done.headers["Location"] == "/Greenleaf"
        assert session["_flashes"] == [("success", "Greenleaf saved.")]
