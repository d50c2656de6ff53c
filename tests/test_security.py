"""Security: CSRF on every POST, headers and cookies, and templates a strict CSP can serve."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import url_for

from portal.core.extensions import db
from portal.domains.identity.models import PortalLink
from portal.domains.proposals import operations as service
from portal.links.views import renew_reference
from portal.mail.models import OutboxMessage, OutboxStatus
from tests.conftest import csrf_token_from
from tests.factories import PASSWORD, outbox, queued_mail, sign_form, snapshot

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "portal" / "templates", ROOT / "admin" / "templates"]
CSRF_REFUSED = "This form expired or was sent from another page."
# forms that come back filled in (422) instead of the generic refusal page (400)
RERENDERED = {
    "admin.auth.login": "The page was open too long. Please sign in again.",
    "proposals.sign": "This page was open for a long time",
    "proposals.options": "This page was open a long time, so we refreshed it.",
    "sign_in.start": "This page was open for a long time. Please send it again.",
    "sign_in.code": "This page was open for a long time. Please press Sign in once more.",
    "tickets.new": "This page was open for a long time, so we need you to send it once more.",
    "tickets.reply": "This page was open for a long time, so we need you to send it once more.",
}


def _templates(suffix: str = ".html") -> list[Path]:
    found = sorted(p for d in TEMPLATE_DIRS for p in d.rglob(f"*{suffix}"))
    assert found, "no templates found"
    return found


# --- CSRF on every POST ------------------------------------------------------------


@pytest.fixture
def world(app, make, login, open_link):
    """A signed-in staff member who also opened a portal link, and one object of each kind.

    Each POST below would change something if CSRF let it through.
    """
    staff = make.staff()
    delivered = make.delivered(rep=staff)
    dead = queued_mail(app, to_addr="nobody@example.test")
    with app.app_context():
        message = db.session.get(OutboxMessage, dead.id)
        message.status = OutboxStatus.DEAD
        db.session.commit()
        proposal = service.load_proposal(delivered.proposal.id)
        seen_hash = service.content_hash(proposal)
        line_id = proposal.lines[0].id
        option_id = [line.id for line in proposal.lines if line.is_optional][0]
        with app.test_request_context():
            ref = renew_reference(db.session.get(PortalLink, delivered.link_id))
    client = app.test_client()
    login(client, staff)
    assert open_link(client, delivered.token).status_code == 200
    values = {
        "proposal_id": delivered.proposal.id,
        "line_id": line_id,
        "link_id": delivered.link_id,
        "message_id": dead.id,
        "contact_id": delivered.contact.id,
        "organization_id": delivered.proposal.organization_id,
    }
    with app.test_request_context():  # a pending portal sign-in, whose link and code a POST would use
        from portal.domains.identity.sign_in import request_sign_in

        request_sign_in(delivered.contact.email, None)
        db.session.commit()
    values["token"] = re.search(r"/sign-in/([A-Za-z0-9_-]{20,})", outbox(app)[-1]["body_text"]).group(1)
    # admin tickets: a ticket of the delivered proposal's customer (the rep's proposal lets them see it)
    values["ticket_id"] = values.get("ticket_id") or make.ticket(delivered.contact).id
    # portal tickets: the same ticket opened through its mailed link, in the same session
    [ticket_mail] = [
        m for m in outbox(app) if m["kind"] == "ticket_opened" and f"T-{values['ticket_id']:06d}" in m["subject"]
    ]
    assert (
        open_link(client, re.search(r"/l/([A-Za-z0-9_-]{20,})", ticket_mail["body_text"]).group(1)).status_code == 200
    )
    # service setup: the reference calendar, SLA and status, an issue type and a holiday
    values.update(calendar_id=1, sla_id=1, status_id=1, issue_type_id=make.issue_type("Forgeable").id)
    with app.app_context():
        from portal.domains.service_desk.models import ServiceHoliday

        holiday = ServiceHoliday(calendar_id=1, day=date(2030, 1, 1), name="Forgeable")
        db.session.add(holiday)
        db.session.commit()
        values["holiday_id"] = holiday.id
    # sites: one of the delivered proposal's customer
    from types import SimpleNamespace

    values["site_id"] = make.site(SimpleNamespace(id=values["organization_id"]), "Forgeable site").id
    # sales: the CSRF check answers before any of these is looked up, so ids of rows that
    # need not exist serve (each route's own tests load real ones)
    values.update(lead_id=1, opportunity_id=1, rule_id=1, team_id=1, absence_id=1, entry_id=1, slug="stages")
    # contracts: likewise, the CSRF check answers first (tests/admin/contracts load real ones)
    values.update(contract_id=1)
    values["campaign_id"] = 1  # campaigns: likewise (tests/admin/campaigns load real ones)
    from tests.admin.test_jobs import dead_job

    values["job_id"] = dead_job(app)  # a real one, so Try again would change the database
    values["staff_id"] = staff.id
    forms = {
        "admin.auth.login": {"email": staff.email, "password": PASSWORD},
        "admin.proposals.new": {"contact_id": str(delivered.contact.id), "title": "Forged", "currency": "USD"},
        "admin.proposals.add_line": {
            "catalog_item_id": "0",
            "description": "Forged",
            "quantity": "1",
            "unit_price": "1.00",
        },
        "admin.proposals.update_line": {
            "catalog_item_id": "0",
            "description": "Forged",
            "quantity": "1",
            "unit_price": "1.00",
        },
        "admin.proposals.update_header": {"title": "Forged", "terms": "Forged", "internal_notes": "Forged"},
        "admin.proposals.deliver": {"contact_id": str(delivered.contact.id)},
        "admin.proposals.mark_lost": {"reason": "price"},
        "links.renew": {"ref": ref},
        "proposals.options": {"option": [str(option_id)]},
        "proposals.sign": sign_form(delivered.proposal, [option_id], seen_hash=seen_hash),
        "sign_in.start": {"email": delivered.contact.email},
        "sign_in.code": {"email": delivered.contact.email, "code": "000000"},
        "tickets.new": {"title": "Forged", "description": "Forged", "priority": "low"},
        "tickets.reply": {"body": "Forged"},
        "admin.tickets.reply": {"body": "Forged reply"},
        "admin.tickets.note": {"body": "Forged note"},
        "admin.tickets.change_status": {"status_id": "4"},
        "admin.tickets.change_priority": {"priority": "urgent"},
        "admin.tickets.assign": {"assignee_id": str(staff.id)},
        "admin.tickets.bulk_assign": {"ticket_ids": ["1"], "assignee_id": str(staff.id)},
        "admin.service.new_sla": {
            "name": "Forged",
            "calendar_id": "1",
            "is_shared": "y",
            "is_default": "y",
            **{f"{kind}_{p}": "1" for kind in ("first", "resolution") for p in ("low", "normal", "high", "urgent")},
        },
        "admin.service.new_calendar": {"name": "Forged", "timezone": "UTC", "day_0": "09:00-17:00"},
        "admin.service.edit_calendar": {"name": "Forged", "timezone": "UTC", "day_0": "09:00-10:00"},
        "admin.service.add_holiday": {"day": "2030-12-25", "holiday_name": "Forged"},
        "admin.service.statuses": {"name": "Forged", "state": "open"},
        "admin.service.edit_status": {"name": "Forged", "state": "open", "position": "9"},
        "admin.service.issue_types": {"name": "Forged", "parent_id": "0", "sla_id": "0"},
        "admin.service.edit_issue_type": {"name": "Forged", "sla_id": "1"},
        "admin.service.move_issue_type": {"direction": "up"},
        "admin.sites.create": {"name": "Forged site", "address": "Forged"},
    }
    return client, values, forms


@pytest.mark.slow
def test_every_post_route_refuses_a_request_without_a_csrf_token(app, world, monkeypatch):
    client, values, forms = world
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    post_rules = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    checked = []
    for rule in post_rules:
        missing = set(rule.arguments) - set(values)
        assert not missing, f"{rule.endpoint}: no test value for {missing}; add one to the world fixture"
        with app.test_request_context():
            url = url_for(rule.endpoint, **{arg: values[arg] for arg in rule.arguments})
        before = snapshot(app)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post(url, data=forms.get(rule.endpoint, {}), headers=headers)
            html = response.get_data(as_text=True)
            assert response.status_code in (400, 422), (rule.endpoint, response.status_code)
            # refused by the CSRF check, not by something else that happened to fail
            assert RERENDERED.get(rule.endpoint, CSRF_REFUSED) in html, rule.endpoint
            assert snapshot(app) == before, f"{rule.endpoint} changed the database without a CSRF token"
        checked.append(rule.endpoint)
    # the staff member is still signed in: even logout needs the token
    assert client.get("/admin/proposals/").status_code == 200
    assert len(checked) == len(post_rules) >= 17, checked
    print(f"\nCSRF: {len(checked)} POST routes checked: {', '.join(sorted(checked))}")


def test_a_post_with_the_pages_csrf_token_goes_through(app, world, monkeypatch):
    client, values, forms = world
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = client.get(f"/admin/proposals/{values['proposal_id']}").get_data(as_text=True)
    token = csrf_token_from(page)
    response = client.post(
        f"/admin/proposals/{values['proposal_id']}/lines",
        data={**forms["admin.proposals.add_line"], "csrf_token": token},
    )
    assert response.status_code == 303
    # htmx sends it as a header, set once on <body>
    response = client.post(
        f"/admin/proposals/{values['proposal_id']}/lines",
        data=forms["admin.proposals.add_line"],
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200


def test_a_csrf_token_from_another_session_is_refused(app, world, make, login, monkeypatch):
    client, values, forms = world
    other = app.test_client()
    login(other, make.staff())
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    foreign = csrf_token_from(other.get("/admin/proposals/").get_data(as_text=True))
    before = snapshot(app)
    response = client.post(
        f"/admin/proposals/{values['proposal_id']}/lines",
        data={**forms["admin.proposals.add_line"], "csrf_token": foreign},
    )
    assert response.status_code == 400
    assert snapshot(app) == before


def test_login_without_a_csrf_token_shows_the_form_again(app, client, make, monkeypatch):
    user = make.staff()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post("/admin/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The page was open too long. Please sign in again." in html
    token = csrf_token_from(html)
    response = client.post("/admin/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


# --- headers and cookies -----------------------------------------------------------


@pytest.fixture
def pages(app, make, login, open_link):
    """(client, path) for a sample of pages: public, staff, customer, errors and a partial."""
    staff = make.staff()
    delivered = make.delivered(rep=staff)
    signed = make.signed(make.delivered(rep=staff))
    staff_client = app.test_client()
    login(staff_client, staff)
    portal = app.test_client()
    open_link(portal, delivered.token)
    ticket = make.ticket(delivered.contact)  # and the ticket mail's link, in the same session
    [ticket_mail] = [m for m in outbox(app) if m["kind"] == "ticket_opened"]
    open_link(portal, re.search(r"/l/([A-Za-z0-9_-]{20,})", ticket_mail["body_text"]).group(1))
    anonymous = app.test_client()
    return [
        (anonymous, "GET", "/", {}),
        (anonymous, "GET", "/admin/login", {}),
        (anonymous, "GET", "/no-such-page", {}),
        (anonymous, "GET", "/l/not-a-token", {}),
        (staff_client, "GET", "/admin/proposals/", {}),
        (staff_client, "GET", "/admin/proposals/?status=delivered", {"HX-Request": "true"}),
        (staff_client, "GET", f"/admin/proposals/{delivered.proposal.id}", {}),
        (staff_client, "GET", f"/admin/proposals/{signed.proposal.id}/signature", {}),
        (staff_client, "GET", "/admin/outbox/", {}),
        (portal, "GET", f"/p/proposals/{delivered.proposal.id}", {}),
        (portal, "POST", f"/p/proposals/{delivered.proposal.id}/options", {"HX-Request": "true"}),
        (portal, "GET", "/tickets", {}),
        (portal, "GET", "/tickets?show=all", {"HX-Request": "true"}),
        (portal, "GET", "/tickets/new", {}),
        (portal, "GET", f"/tickets/{ticket.id}", {}),
    ]


def _csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def test_pages_send_a_strict_content_security_policy_and_security_headers(pages):
    for client, method, path, headers in pages:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code in (200, 404), (path, response.status)
        csp = response.headers.get("Content-Security-Policy")
        assert csp, path
        directives = _csp(csp)
        assert directives["default-src"] == ["'self'"], path
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, path
        for name in ("script-src", "style-src"):
            assert directives.get(name, ["'self'"]) == ["'self'"], (path, name)
        assert directives["frame-ancestors"] == ["'none'"]
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin"), path
        if response.mimetype == "text/html":
            assert "no-store" in response.headers["Cache-Control"], path


def test_portal_link_pages_send_no_referrer(client, make):
    delivered = make.delivered()
    response = client.get(f"/l/{delivered.token}")
    assert response.headers["Referrer-Policy"] == "no-referrer"


def _cookie_header(response, name: str) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(client, make, login):
    cookie = _cookie_header(login(client, make.staff()), "porchlight")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


def test_portal_session_cookie_is_httponly_and_samesite_lax(client, make):
    delivered = make.delivered()
    cookie = _cookie_header(client.get(f"/l/{delivered.token}"), "porchlight")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes


def test_session_cookie_is_secure_when_base_url_is_https(app):
    import os

    from portal.core.config import Config

    old = os.environ.get("BASE_URL")
    os.environ["BASE_URL"] = "https://portal.example.com"
    try:
        config = Config(app.instance_path)
    finally:
        if old is None:
            del os.environ["BASE_URL"]
        else:
            os.environ["BASE_URL"] = old
    assert config.SESSION_COOKIE_SECURE is True
    assert config.SESSION_COOKIE_HTTPONLY is True and config.SESSION_COOKIE_SAMESITE == "Lax"


# --- templates a strict CSP can serve --------------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>|<script\b[^>]*>\s*[^<\s]", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I | re.S)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\s(?:on[a-z]+|hx-on[:\-][\w:\-]*)\s*=", re.I | re.S)
JAVASCRIPT_URL = re.compile(r"javascript:", re.I)
OTHER_HOST = re.compile(
    r"\b(?:src|href|action|formaction|srcset|poster|data|hx-(?:get|post|put|patch|delete))\s*=\s*[\"']?\s*"
    r"(?:https?:)?//",
    re.I,
)
EMAIL_TEMPLATES = ROOT / "portal" / "templates" / "emails"
HX_URL = re.compile(r"\shx-(get|post|put|patch|delete)\s*=\s*\"([^\"]*)\"")


def _scan(pattern: re.Pattern, text: str) -> list[str]:
    return [m.group(0)[:80] for m in pattern.finditer(text)]


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("inline <script>", INLINE_SCRIPT),
        ("style= attribute", STYLE_ATTRIBUTE),
        ("<style> element", STYLE_ELEMENT),
        ("on*= event handler", EVENT_HANDLER),
        ("javascript: URL", JAVASCRIPT_URL),
        ("reference to another host", OTHER_HOST),
    ],
)
def test_no_template_has_what_a_strict_csp_would_block(name, pattern):
    templates = _templates()
    if pattern in (STYLE_ATTRIBUTE, STYLE_ELEMENT):
        # Mail needs its styles inline (clients load no stylesheet); the site's policy never
        # serves it: the one page that shows a mail's HTML (admin.outbox.html_part) has its
        # own, which allows inline styles and nothing else. Scripts, handlers and other
        # hosts stay banned in mail too.
        templates = [p for p in templates if EMAIL_TEMPLATES not in p.parents]
    offenders = {str(p.relative_to(ROOT)): hits for p in templates if (hits := _scan(pattern, p.read_text()))}
    assert not offenders, f"{name}: {offenders}"


@pytest.mark.parametrize(
    "sample, pattern",
    [
        ("<script>alert(1)</script>", INLINE_SCRIPT),
        ('<script src="/x.js">alert(1)</script>', INLINE_SCRIPT),
        ('<p class="x" style="color:red">', STYLE_ATTRIBUTE),
        ("<style>p{}</style>", STYLE_ELEMENT),
        ('<button type="button" onclick="go()">', EVENT_HANDLER),
        ('<form hx-on:submit="go()">', EVENT_HANDLER),
        ('<a href="javascript:go()">', JAVASCRIPT_URL),
        ('<img src="https://cdn.example/x.png">', OTHER_HOST),
        ('<link href="//cdn.example/x.css">', OTHER_HOST),
    ],
)
def test_the_template_scanner_catches_what_it_looks_for(sample, pattern):
    assert _scan(pattern, sample)


def test_the_template_scanner_leaves_safe_markup_alone():
    safe = (
        '<script src="{{ ASSET_URL }}" defer></script><a href="{{ url_for(\'index\') }}" class="button">'
        '<button type="submit" hx-post="{{ url_for(\'x\') }}" data-pad-clear>'
    )
    for pattern in (INLINE_SCRIPT, STYLE_ATTRIBUTE, STYLE_ELEMENT, EVENT_HANDLER, JAVASCRIPT_URL, OTHER_HOST):
        assert not _scan(pattern, safe), pattern


def test_every_hx_url_in_templates_comes_from_url_for():
    offenders = {}
    for path in _templates():
        bad = [value for _verb, value in HX_URL.findall(path.read_text()) if not value.startswith("{{ url_for(")]
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert not offenders, offenders


ABSOLUTE_URL = re.compile(r"\b(?:src|href|action|formaction|hx-\w+)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]*)", re.I)


def test_rendered_pages_have_no_inline_script_style_or_handlers(app, pages):
    own_host = urlsplit(app.config["BASE_URL"]).netloc
    for client, method, path, headers in pages:
        html = client.open(path, method=method, headers=headers).get_data(as_text=True)
        for pattern in (INLINE_SCRIPT, STYLE_ATTRIBUTE, STYLE_ELEMENT, EVENT_HANDLER):
            assert not _scan(pattern, html), (path, _scan(pattern, html))
        # absolute links only to our own BASE_URL (the outbox shows portal links from mail)
        hosts = {urlsplit(url).netloc for url in ABSOLUTE_URL.findall(html)}
        assert hosts <= {own_host}, (path, hosts)


def test_htmx_is_configured_for_a_strict_csp(client):
    html = client.get("/").get_data(as_text=True)
    raw = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html).group(1)
    config = json.loads(raw)
    assert config["includeIndicatorStyles"] is False  # htmx would inject an inline <style>
    assert config["allowEval"] is False
    assert config["selfRequestsOnly"] is True
    swaps = {rule["code"]: rule.get("swap") for rule in config["responseHandling"]}
    assert swaps["422"] is True
