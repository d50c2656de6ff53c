"""The admin Outbox page: mail kept without SMTP, dead letters and their Retry button."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.mail.outbox import deliver_due
from tests.factories import queued_mail


def _message(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        db.session.expunge(message)
        return message


def _kill(app, message_id: int, error: str = "SMTPDataError(550, b'5.1.1 no such user')") -> None:
    with app.app_context():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=OutboxStatus.DEAD, attempts=1, last_error=error)
        )
        db.session.commit()


@pytest.fixture
def staff(make):
    """The outbox holds every customer's mail: it is for admins and managers."""
    return make.staff(role="manager", name="Mia Manager")


@pytest.mark.parametrize("role", ["sales", "technician"])
def test_the_outbox_is_not_shown_to_sales_or_technicians(app, make, login, role):
    client = app.test_client()
    login(client, make.staff(role=role))
    assert client.get("/admin/outbox/").status_code == 404
    assert client.post("/admin/outbox/send").status_code == 404
    message = queued_mail(app)
    assert client.get(f"/admin/outbox/{message.id}/html").status_code == 404
    assert "/admin/outbox/" not in client.get("/admin/proposals/").get_data(as_text=True)


def test_without_smtp_the_outbox_shows_the_mail_body_with_a_clickable_portal_link(
    app, staff_client, staff, make, monkeypatch, open_link
):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    proposal = make.proposal(rep=staff, title="Grounds care 2027")
    staff_client.post(f"/admin/proposals/{proposal.id}/deliver", data={"contact_id": str(proposal.contact_id)})
    response = staff_client.get("/admin/outbox/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "No SMTP server is configured" in html
    assert "Send due mail now" not in html
    link = re.search(r'<a href="(https://portal\.example\.test/l/([A-Za-z0-9_\-]+))" rel="noreferrer">\1</a>', html)
    assert link, html
    assert "Grounds care 2027" in html
    # the link works: the whole story can be walked without a mail server
    page = open_link(app.test_client(), link.group(2))
    assert page.status_code == 200 and "Grounds care 2027" in page.get_data(as_text=True)


def test_outbox_escapes_mail_bodies_while_linking_urls(app, staff_client):
    queued_mail(app, url='https://portal.example.test/l/x"><img src=x>')
    html = staff_client.get("/admin/outbox/").get_data(as_text=True)
    assert "<img src=x>" not in html
    assert '"><img' not in html


def test_outbox_lists_dead_letters_with_a_retry_button(app, staff_client):
    dead = queued_mail(app, to_addr="nobody@example.test", subject="Bounced letter")
    waiting = queued_mail(app, to_addr="cora@example.test", subject="Pending letter")
    _kill(app, dead.id)
    response = staff_client.get("/admin/outbox/?status=dead")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Bounced letter" in html and "Pending letter" not in html
    assert "550" in html  # the reason is shown
    assert f'action="/admin/outbox/{dead.id}/retry"' in html
    everything = staff_client.get("/admin/outbox/").get_data(as_text=True)
    assert f'action="/admin/outbox/{waiting.id}/retry"' not in everything  # only dead letters can be retried


def test_retry_puts_a_dead_letter_back_in_the_queue_and_it_is_delivered(app, staff_client, mail_server):
    dead = queued_mail(app, to_addr="nobody@example.test")
    _kill(app, dead.id)
    response = staff_client.post(f"/admin/outbox/{dead.id}/retry")
    assert response.status_code == 303
    assert "Queued again." in staff_client.get(response.headers["Location"]).get_data(as_text=True)
    stored = _message(app, dead.id)
    assert stored.status == OutboxStatus.PENDING
    assert stored.next_attempt_at <= utcnow() and stored.claimed_until is None
    with app.app_context():
        assert deliver_due().sent == 1
    assert [m["Message-ID"] for m in mail_server.messages] == [dead.message_id]
    assert _message(app, dead.id).status == OutboxStatus.SENT


def test_retrying_a_message_that_is_not_dead_changes_nothing(app, staff_client):
    waiting = queued_mail(app)
    before = _message(app, waiting.id)
    response = staff_client.post(f"/admin/outbox/{waiting.id}/retry")
    assert response.status_code == 303
    assert "Only a failed message can be retried." in staff_client.get("/admin/outbox/").get_data(as_text=True)
    after = _message(app, waiting.id)
    assert (after.status, after.next_attempt_at, after.attempts) == (
        before.status,
        before.next_attempt_at,
        before.attempts,
    )


def test_send_now_hands_the_delivery_to_the_worker(app, staff_client, mail_server):
    """The button no longer sends inside the web request (a hanging SMTP server would
    outlast the request): it queues a job, and the worker sends the mail."""
    from portal.jobs.models import Job
    from portal.jobs.worker import run_pass

    queued_mail(app)
    page = staff_client.get("/admin/outbox/").get_data(as_text=True)
    assert "Send due mail now" in page
    response = staff_client.post("/admin/outbox/send")
    assert response.status_code == 303
    assert "The worker is sending the due mail now." in staff_client.get("/admin/outbox/").get_data(as_text=True)
    assert mail_server.messages == []  # nothing was sent by the request itself
    staff_client.post("/admin/outbox/send")  # a second press right away is the same job
    with app.app_context():
        assert db.session.scalars(select(Job.name)).all() == ["mail.deliver"]
        run_pass("test-worker")
        db.session.remove()
    assert len(mail_server.messages) == 1


def test_send_now_without_smtp_keeps_the_mail(app, staff_client, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    waiting = queued_mail(app)
    staff_client.post("/admin/outbox/send")
    assert "No SMTP server is configured: mail is kept here." in staff_client.get("/admin/outbox/").get_data(
        as_text=True
    )
    assert _message(app, waiting.id).attempts == 0


def test_outbox_page_query_count_does_not_grow_with_the_number_of_messages(app, staff_client, count_queries):
    for n in range(3):
        queued_mail(app, to_addr=f"r{n}@example.test")
    with count_queries() as few:
        assert staff_client.get("/admin/outbox/").status_code == 200
    for n in range(27):
        queued_mail(app, to_addr=f"s{n}@example.test")
    with count_queries() as many:
        response = staff_client.get("/admin/outbox/")
    assert response.status_code == 200
    assert many.count == few.count


def test_outbox_pages_keep_the_status_filter(app, staff_client):
    for n in range(31):
        queued_mail(app, to_addr=f"r{n}@example.test")
    response = staff_client.get("/admin/outbox/?status=pending")
    assert response.status_code == 200
    assert 'href="/admin/outbox/?status=pending&amp;page=2"' in response.get_data(as_text=True)


def test_outbox_pages_newest_first(app, staff_client):
    ids = [queued_mail(app, to_addr=f"r{n}@example.test").id for n in range(31)]
    first = staff_client.get("/admin/outbox/").get_data(as_text=True)
    assert f'id="message-{ids[-1]}"' in first and f'id="message-{ids[0]}"' not in first
    second = staff_client.get("/admin/outbox/?page=2").get_data(as_text=True)
    assert f'id="message-{ids[0]}"' in second
    assert 'href="/admin/outbox/?page=1"' in second
    with app.app_context():
        assert len(db.session.scalars(select(OutboxMessage.id)).all()) == 31


# --- secrets in mail: production shows none, development is a mail catcher -----------


def _deliver_proposal(app, staff_client, staff, make) -> str:
    """Deliver a proposal (queues a mail with a portal link); the link's token."""
    proposal = make.proposal(rep=staff, title="Grounds care 2027")
    staff_client.post(f"/admin/proposals/{proposal.id}/deliver", data={"contact_id": str(proposal.contact_id)})
    with app.app_context():
        body = db.session.scalar(select(OutboxMessage.body_text).order_by(OutboxMessage.id.desc()))
    return re.search(r"/l/([A-Za-z0-9_\-]+)", body).group(1)


def _sign_in_mail(app, make) -> tuple[str, str]:
    """Ask for a portal sign-in (queues the link-and-code mail); its token and code."""
    from portal.domains.identity.sign_in import request_sign_in

    contact = make.contact(email="cora@example.test")
    with app.app_context():
        request_sign_in(contact.email, "127.0.0.1")
        db.session.commit()
        body = db.session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.kind == "portal_sign_in"))
        db.session.remove()
    token = re.search(r"/sign-in/([A-Za-z0-9_\-]{16,})", body).group(1)
    code = re.search(r"^\s*(\d{6})\s*$", body, re.M).group(1)
    return token, code


def test_with_smtp_the_outbox_page_shows_no_working_token_or_code(app, staff_client, staff, make, mail_server):
    link_token = _deliver_proposal(app, staff_client, staff, make)
    sign_in_token, code = _sign_in_mail(app, make)
    html = staff_client.get("/admin/outbox/").get_data(as_text=True)
    assert "Grounds care 2027" in html  # the mail is listed...
    for secret in (link_token, sign_in_token, code):
        assert secret not in html  # ...without the customer's keys
    assert "Development mail catcher" not in html


def test_a_sent_message_no_longer_stores_its_tokens_or_code(app, staff_client, staff, make, mail_server):
    link_token = _deliver_proposal(app, staff_client, staff, make)
    sign_in_token, code = _sign_in_mail(app, make)
    with app.app_context():
        assert deliver_due().sent == 2
        db.session.remove()
    for kind in ("plain", "html"):  # the customer got them, in both parts
        delivered = "\n".join(m.get_body((kind,)).get_content() for m in mail_server.messages)
        assert link_token in delivered and sign_in_token in delivered and code in delivered, kind
    with app.app_context():
        stored = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert all(m.body_html for m in stored)
        bodies = "\n".join(m.body_text + m.body_html for m in stored)
        assert {m.status for m in stored} == {OutboxStatus.SENT}
        assert all(m.message_id and m.to_addr and m.subject for m in stored)  # what staff need stays
        db.session.remove()
    for secret in (link_token, sign_in_token, code):
        assert secret not in bodies
    assert "/l/[removed]" in bodies


def test_without_smtp_the_outbox_is_a_development_mail_catcher_with_working_links(
    app, staff_client, staff, make, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    link_token = _deliver_proposal(app, staff_client, staff, make)
    html = staff_client.get("/admin/outbox/").get_data(as_text=True)
    assert "Development mail catcher" in html
    assert f'<a href="https://portal.example.test/l/{link_token}" rel="noreferrer">' in html


# --- the HTML part, in a sandboxed frame with its own policy ------------------------------


def test_the_outbox_page_frames_each_html_part_from_its_own_url(app, staff_client):
    message = queued_mail(app, subject="Your new link")
    html = staff_client.get("/admin/outbox/").get_data(as_text=True)
    frame = re.search(r"<iframe [^>]*>", html).group(0)
    assert f'src="/admin/outbox/{message.id}/html"' in frame
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame  # no scripts, no same origin


def test_the_html_part_is_served_with_a_policy_that_lets_only_its_inline_styles_in(app, staff_client):
    message = queued_mail(app)
    response = staff_client.get(f"/admin/outbox/{message.id}/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy
    assert "script-src" not in policy and "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    assert 'class="button"' in body and '<base target="_blank">' in body


def test_without_smtp_the_html_part_keeps_its_working_link(app, staff_client, staff, make, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    link_token = _deliver_proposal(app, staff_client, staff, make)
    with app.app_context():
        message_id = db.session.scalar(select(OutboxMessage.id))
    body = staff_client.get(f"/admin/outbox/{message_id}/html").get_data(as_text=True)
    assert f'href="https://portal.example.test/l/{link_token}"' in body


def test_with_smtp_the_html_part_shows_no_token_or_code_even_before_it_is_sent(
    app, staff_client, staff, make, mail_server
):
    link_token = _deliver_proposal(app, staff_client, staff, make)
    sign_in_token, code = _sign_in_mail(app, make)
    with app.app_context():
        ids = list(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING)))
    assert len(ids) == 2
    served = "\n".join(staff_client.get(f"/admin/outbox/{i}/html").get_data(as_text=True) for i in ids)
    for secret in (link_token, sign_in_token, code):
        assert secret not in served
    assert 'href="https://portal.example.test/l/[removed]"' in served and "[code removed]" in served


def test_a_message_without_an_html_part_or_unknown_has_no_html_page(app, staff_client):
    message = queued_mail(app)
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(body_html=None))
        db.session.commit()
    assert staff_client.get(f"/admin/outbox/{message.id}/html").status_code == 404
    assert staff_client.get("/admin/outbox/999999/html").status_code == 404
    assert "<iframe" not in staff_client.get("/admin/outbox/").get_data(as_text=True)
