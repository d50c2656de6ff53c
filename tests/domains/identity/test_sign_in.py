"""Portal sign-in service, without HTTP: who gets mail, single use, the code's count and lock."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.identity import sign_in as service
from portal.domains.identity.models import PortalSignIn
from portal.mail.models import OutboxMessage


def _ask(email: str) -> tuple[str, str]:
    """Request a sign-in, commit, and read the token and code back from the queued mail."""
    service.request_sign_in(email, "203.0.113.9")
    db.session.commit()
    body = db.session.scalars(select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc())).first()
    return re.search(r"/sign-in/([A-Za-z0-9_-]+)", body).group(1), re.search(r"^(\d{6})$", body, re.M).group(1)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_only_an_active_contact_with_portal_access_gets_a_sign_in(make, ctx):
    make.contact(email="off@example.test", portal_enabled=False)
    make.contact(email="gone@example.test", is_active=False)
    for address in ("off@example.test", "gone@example.test", "nobody@example.test", "", "not-an-address"):
        service.request_sign_in(address, None)
    db.session.commit()
    assert _count(PortalSignIn) == 0 and _count(OutboxMessage) == 0


def test_a_link_works_once_even_when_two_requests_both_passed_the_checks(make, ctx, monkeypatch):
    contact = make.contact()
    token, _code = _ask(contact.email)
    assert service.complete_sign_in_by_link(token).id == contact.id
    db.session.commit()
    with pytest.raises(NotAllowed):
        service.complete_sign_in_by_link(token)
    # the second tab read the row before the first used it: the conditional update refuses
    monkeypatch.setattr(service, "check_usable", lambda sign_in: None)
    with pytest.raises(NotAllowed, match="already used"):
        service.complete_sign_in_by_link(token)


def test_each_try_is_counted_and_a_right_code_gives_its_count_back(make, ctx):
    contact = make.contact()
    _token, code = _ask(contact.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(InvalidInput) as refused:
        service.complete_sign_in_by_code(contact.email, wrong)
    assert set(refused.value.errors) == {"code"}
    db.session.commit()
    assert service.complete_sign_in_by_code(contact.email.upper(), code).id == contact.id
    db.session.commit()
    row = db.session.scalars(select(PortalSignIn)).one()
    assert row.failed_attempts == 1 and row.used_at is not None


def test_the_code_is_keyed_with_the_secret_so_the_table_alone_cannot_check_it(app, make, ctx, monkeypatch):
    contact = make.contact()
    _token, code = _ask(contact.email)
    monkeypatch.setitem(app.config, "SECRET_KEY", "another secret")
    with pytest.raises(InvalidInput):
        service.complete_sign_in_by_code(contact.email, code)


def test_a_lock_reached_by_parallel_tries_holds_for_the_right_code(make, ctx):
    contact = make.contact()
    _token, code = _ask(contact.email)
    row = db.session.scalars(select(PortalSignIn)).one()
    row.failed_attempts = service.MAX_CODE_ATTEMPTS
    db.session.commit()
    with pytest.raises(InvalidInput, match="locked"):
        service.complete_sign_in_by_code(contact.email, code)


def _work_of_a_request(app, monkeypatch, email: str) -> tuple[list[str], list[str]]:
    """The SQL statements (without their parameters) and the templates rendered while
    asking for a sign-in to ``email``."""
    from flask import render_template as real_render
    from sqlalchemy import event

    import portal.mail.rendering as rendering

    statements: list[str] = []
    rendered: list[str] = []

    def render(template, **context):
        rendered.append(template)
        return real_render(template, **context)

    def before(conn, cursor, statement, parameters, context, executemany):
        # A savepoint's end (RELEASE or ROLLBACK TO) is the one step that may differ.
        if not statement.lstrip().upper().startswith(("PRAGMA", "RELEASE", "ROLLBACK")):
            statements.append(re.sub(r"\s+", " ", statement).strip())

    monkeypatch.setattr(rendering, "render_template", render)
    event.listen(db.engine, "before_cursor_execute", before)
    try:
        service.request_sign_in(email, "203.0.113.9")
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    db.session.commit()
    return statements, rendered


def test_an_unknown_address_costs_the_same_database_work_and_rendering_as_a_known_one(app, make, ctx, monkeypatch):
    """No timing oracle: the same statements run (the unknown one's writes are rolled
    back in a savepoint) and the same mail is rendered, whichever the address."""
    make.contact(email="known@example.test")
    known = _work_of_a_request(app, monkeypatch, "known@example.test")
    unknown = _work_of_a_request(app, monkeypatch, "nobody@example.test")
    assert any(s.startswith("INSERT INTO portal_sign_ins") for s in known[0])
    assert unknown == known
    assert known[1] == ["emails/portal_sign_in.txt", ["emails/portal_sign_in.html", "emails/_text_only.html"]]
    # ... and only the known address got anything
    assert _count(PortalSignIn) == 1 and _count(OutboxMessage) == 1
    assert db.session.scalar(select(OutboxMessage.to_addr)) == "known@example.test"
