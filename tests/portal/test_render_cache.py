"""The proposal page and the option toggle are served from a render cache keyed by
the proposal's version: these tests hold that no change is ever hidden by it."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import update

from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import ProposalLine
from tests.conftest import csrf_token_from
from tests.factories import page_form, staff_add_line

HX = {"HX-Request": "true"}


def _grand_total(html: str) -> str:
    return re.search(r'<dd id="grand-total">([^<]+)</dd>', html).group(1)


def test_a_staff_edit_shows_on_the_next_view(app, make, client, open_link):
    delivered = make.delivered()
    first = open_link(client, delivered.token).get_data(as_text=True)
    assert "Gutter cleaning" not in first
    staff_add_line(app, delivered.proposal.id, "Gutter cleaning", price="80.00")
    again = client.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert "Gutter cleaning" in again
    assert page_form(again)["seen_hash"] != page_form(first)["seen_hash"]


def test_each_session_gets_its_own_csrf_token_in_a_cached_page(app, make, open_link):
    delivered = make.delivered()
    one, two = app.test_client(), app.test_client()
    html_one = open_link(one, delivered.token).get_data(as_text=True)
    html_two = open_link(two, delivered.token).get_data(as_text=True)
    tokens = [re.search(r'"X-CSRFToken": "([^"]+)"', h).group(1) for h in (html_one, html_two)]
    assert tokens[0] != tokens[1]
    assert "__porchlight_csrf_token__" not in html_one + html_two


def test_two_contacts_never_share_a_cached_page(app, make, open_link):
    contact = make.contact(first_name="Ann")
    other = make.contact(organization=_org_of(app, contact), first_name="Bea")
    delivered = make.delivered(contact=contact)
    token_other = make.link(other, delivered.proposal)
    ann = open_link(app.test_client(), delivered.token).get_data(as_text=True)
    bea = open_link(app.test_client(), token_other).get_data(as_text=True)
    assert "Ann " in ann and "Bea " not in ann
    assert "Bea " in bea and "Ann " not in bea


def test_renaming_the_contact_shows_in_the_header(app, make, client, open_link):
    delivered = make.delivered()
    open_link(client, delivered.token)
    with app.app_context():
        db.session.execute(update(Contact).where(Contact.id == delivered.contact.id).values(first_name="Renata"))
        db.session.commit()
    html = client.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert "Renata" in html


def test_toggle_follows_a_price_change(app, make, client, open_link):
    delivered = make.delivered(included=(("Mowing", "1", "100.00"),), optional=(("Mulch", "1", "10.00"),))
    html = open_link(client, delivered.token).get_data(as_text=True)
    option = page_form(html)["options"][0]
    first = client.post(f"/p/proposals/{delivered.proposal.id}/options", data={"option": option}, headers=HX)
    assert "$110.00" in first.get_data(as_text=True)
    with app.app_context():
        proposal = proposals.load_proposal(delivered.proposal.id)
        line = next(line for line in proposal.lines if line.is_optional)
        proposals.update_line(proposal, line, proposals.LineInput("Mulch", Decimal("1"), Decimal("25.00"), True))
        db.session.commit()
    second = client.post(f"/p/proposals/{delivered.proposal.id}/options", data={"option": option}, headers=HX)
    assert _grand_total(second.get_data(as_text=True)) == "$125.00"


def test_toggle_on_a_signed_proposal_shows_the_signed_selection(app, make, client, open_link):
    delivered = make.delivered()
    open_link(client, delivered.token)
    make.signed(delivered, option_count=0)
    with app.app_context():
        optional = db.session.scalars(
            ProposalLine.__table__.select().where(
                ProposalLine.proposal_id == delivered.proposal.id, ProposalLine.is_optional.is_(True)
            )
        ).all()
    response = client.post(
        f"/p/proposals/{delivered.proposal.id}/options", data={"option": [str(optional[0])]}, headers=HX
    )
    assert response.status_code == 200
    assert "Signed total" in response.get_data(as_text=True)


def _org_of(app, contact):
    from portal.domains.customers.models import Organization

    with app.app_context():
        org = db.session.get(Organization, contact.organization_id)
        db.session.expunge(org)
        return org


# --- the view model and its key --------------------------------------------------


def test_a_tree_level_contact_sees_a_renamed_sub_organization(app, make, portal_sign_in):
    from portal.domains.customers.models import Organization

    parent = make.organization("Harbor Holdings")
    branch = make.organization_with("Harbor North", parent_id=parent.id)
    head = make.contact(parent, first_name="Tess", portal_level="organization_tree")
    delivered = make.delivered(contact=make.contact(branch))
    client = app.test_client()
    portal_sign_in(client, head)  # a real sign-in: a forged signed_in flag opens nothing
    url = f"/p/proposals/{delivered.proposal.id}"
    assert "Harbor North" in client.get(url).get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(Organization).where(Organization.id == branch.id).values(name="Harbor Nord"))
        db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "Harbor Nord" in html and "Harbor North" not in html


def test_the_render_cache_belongs_to_the_app(app, make, open_link, tmp_path_factory):
    from portal.core.pagecache import EXTENSION_KEY, render_cache
    from tests.conftest import make_app

    delivered = make.delivered()
    open_link(app.test_client(), delivered.token)
    assert app.extensions[EXTENSION_KEY] is render_cache(app)
    assert len(render_cache(app)._items) == 1
    other = make_app(tmp_path_factory, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        assert len(render_cache(other)._items) == 0
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _orm_objects(value, seen=None) -> list:
    """ORM instances reachable from a template context value (dataclasses, sequences, dicts)."""
    import dataclasses

    seen = seen if seen is not None else set()
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, db.Model):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [o for f in dataclasses.fields(value) for o in _orm_objects(getattr(value, f.name), seen)]
    if isinstance(value, dict):
        return [o for v in value.values() for o in _orm_objects(v, seen)]
    if isinstance(value, list | tuple | set | frozenset):
        return [o for v in value for o in _orm_objects(v, seen)]
    return []


def test_the_page_renders_from_the_view_model_alone(app, make, open_link, monkeypatch):
    """The guard: every relationship raises during the render, and the template's
    context holds no ORM object, so the page reads only what its key covers."""
    from flask import template_rendered
    from sqlalchemy import event
    from sqlalchemy.orm import raiseload

    from portal.core.pagecache import render_cache

    for signed in (False, True):
        delivered = make.delivered()
        if signed:
            make.signed(delivered)
        client = app.test_client()
        open_link(client, delivered.token)
        render_cache(app).clear()
        contexts = []

        def raise_on_relationships(state):
            if state.is_select:
                state.statement = state.statement.options(raiseload("*"))

        def record(_sender, template, context, _contexts=contexts, **_extra):
            _contexts.append((template.name, context))

        with app.app_context():
            session_class = db.session.session_factory.class_
        event.listen(session_class, "do_orm_execute", raise_on_relationships)
        template_rendered.connect(record, app)
        try:
            response = client.get(f"/p/proposals/{delivered.proposal.id}")
        finally:
            template_rendered.disconnect(record, app)
            event.remove(session_class, "do_orm_execute", raise_on_relationships)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html[:300]
        assert ("Signed by" in html) is signed
        [(name, context)] = [(n, c) for n, c in contexts if n == "proposals/show.html"]
        reachable = _orm_objects({k: v for k, v in context.items() if k not in ("g", "request", "session")})
        assert reachable == [], reachable


def _count_csrf_signing(monkeypatch) -> list:
    """Record each signing of a CSRF token (Flask-WTF's salt), not of session cookies."""
    from itsdangerous import URLSafeTimedSerializer

    calls = []
    original = URLSafeTimedSerializer.dumps

    def dumps(self, obj, salt=None):
        if self.salt == b"wtf-csrf-token":
            calls.append(obj)
        return original(self, obj, salt)

    monkeypatch.setattr(URLSafeTimedSerializer, "dumps", dumps)
    return calls


def test_a_session_token_is_signed_once_a_minute_not_per_view(app, make, open_link, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    delivered = make.delivered()
    client = app.test_client()
    first = open_link(client, delivered.token).get_data(as_text=True)
    calls = _count_csrf_signing(monkeypatch)
    pages = [client.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True) for _ in range(3)]
    assert len(calls) <= 1, calls
    tokens = {csrf_token_from(html) for html in pages}
    assert len(tokens) == 1 and csrf_token_from(first) in tokens | {None}
    # The reused token is accepted by the toggle, as a fresh one is.
    options = page_form(first)["options"]
    response = client.post(
        f"/p/proposals/{delivered.proposal.id}/options",
        data={"option": options[:1]},
        headers={"HX-Request": "true", "X-CSRFToken": tokens.pop()},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def test_an_old_signed_token_is_not_reused(app, make, open_link, monkeypatch):
    from itsdangerous import TimestampSigner

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    delivered = make.delivered()
    client = app.test_client()
    old = TimestampSigner.get_timestamp
    with monkeypatch.context() as patch:  # signed two minutes ago
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: old(self) - 120)
        stale = csrf_token_from(open_link(client, delivered.token).get_data(as_text=True))
    fresh = csrf_token_from(client.get(f"/p/proposals/{delivered.proposal.id}").get_data(as_text=True))
    assert fresh != stale


def test_a_gzip_client_gets_the_same_page_spliced_with_its_own_token(app, make, open_link):
    import gzip

    delivered = make.delivered()
    client = app.test_client()
    open_link(client, delivered.token)
    url = f"/p/proposals/{delivered.proposal.id}"
    plain = client.get(url).get_data(as_text=True)
    for _ in range(2):  # a miss, then a hit: both encodings of one entry
        packed = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"] and "HX-Request" in packed.headers["Vary"]
        assert gzip.decompress(packed.get_data()).decode() == plain
    other = app.test_client()
    open_link(other, delivered.token)
    theirs = gzip.decompress(other.get(url, headers={"Accept-Encoding": "gzip"}).get_data()).decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', theirs).group(1)
    assert token not in plain and "__porchlight_csrf_token__" not in theirs


def test_a_client_without_gzip_gets_the_page_plain(app, make, client, open_link):
    delivered = make.delivered()
    open_link(client, delivered.token)
    for accepted in ("br", "identity", None):
        headers = {"Accept-Encoding": accepted} if accepted else {}
        response = client.get(f"/p/proposals/{delivered.proposal.id}", headers=headers)
        assert "Content-Encoding" not in response.headers
        assert "<html" in response.get_data(as_text=True)


def test_the_option_toggle_partial_is_served_gzipped_from_the_cache(app, make, client, open_link):
    import gzip

    delivered = make.delivered()
    html = open_link(client, delivered.token).get_data(as_text=True)
    url = f"/p/proposals/{delivered.proposal.id}/options"
    headers = {**HX, "X-CSRFToken": csrf_token_from(html)}
    option = page_form(html)["options"][0]
    plain = client.post(url, data={"option": option}, headers=headers).get_data(as_text=True)
    packed = client.post(url, data={"option": option}, headers={**headers, "Accept-Encoding": "gzip"})
    if len(plain) >= app.config["COMPRESS_MIN_SIZE"]:
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.get_data()).decode() == plain
    else:
        assert packed.get_data(as_text=True) == plain
