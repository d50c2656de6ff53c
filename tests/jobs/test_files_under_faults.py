"""Attachments under faults: a folder that cannot take the files, a rollback after the
files were written, and the sweeper for orphans of crashed processes."""

from __future__ import annotations

import errno
import os
import time

import pytest
from sqlalchemy import select

from portal.cli import load_jobs
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.service_desk import attachments
from portal.domains.service_desk import tickets as service
from portal.domains.service_desk.models import Ticket, TicketAttachment
from portal.jobs.registry import HANDLERS
from tests.factories import snapshot
from tests.portal.test_tickets import count, file_storage, form, png_bytes, signed_in, stored_files, upload


@pytest.fixture(autouse=True)
def attachments_dir(app, tmp_path, monkeypatch):
    """Stored files go to a temporary folder."""
    folder = tmp_path / "attachments"
    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(folder))
    return folder


@pytest.fixture
def kinds(make):
    plumbing = make.issue_type("Plumbing")
    return {"plumbing": plumbing, "leak": make.issue_type("Leak", parent=plumbing)}


def _second_write_fails(monkeypatch):
    """The first file is written, the second meets a read-only (or full) folder; as
    root a chmod would not stop the write, so the failure is simulated here."""
    original = attachments._write_file
    calls = {"n": 0}

    def write(path, data):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        original(path, data)

    monkeypatch.setattr(attachments, "_write_file", write)
    return calls


def test_an_unwritable_attachments_folder_says_the_ticket_was_not_sent_and_leaves_nothing(
    app, make, kinds, attachments_dir, monkeypatch
):
    client = signed_in(app, make.contact())
    before = snapshot(app)
    calls = _second_write_fails(monkeypatch)
    response = client.post(
        "/tickets/new",
        data={**form(kinds), "attachments": [upload(png_bytes(), "one.png"), upload(png_bytes(), "two.png")]},
    )
    html = response.get_data(as_text=True)
    assert calls["n"] == 2  # the first file had been written
    assert response.status_code == 503
    assert "The ticket was NOT sent" in html and "nothing was saved" in html
    assert "Nothing you sent was lost" not in html
    assert 'value="Kitchen tap leaking"' in html  # the form comes back filled in
    assert count(app, Ticket) == 0 and count(app, TicketAttachment) == 0
    assert snapshot(app) == before
    assert stored_files(attachments_dir) == []


def test_staff_opening_a_ticket_with_an_unwritable_folder_get_the_same_clear_answer(
    app, make, kinds, attachments_dir, monkeypatch, login
):
    staff = make.staff(role="admin")
    client = app.test_client()
    login(client, staff)
    contact = make.contact()
    _second_write_fails(monkeypatch)
    response = client.post(
        f"/admin/tickets/new/{contact.id}",
        data={**form(kinds), "attachments": [upload(png_bytes(), "one.png"), upload(png_bytes(), "two.png")]},
    )
    assert response.status_code == 503
    assert "The ticket was NOT sent" in response.get_data(as_text=True)
    assert count(app, Ticket) == 0 and stored_files(attachments_dir) == []


def test_files_written_for_a_change_that_rolls_back_are_removed(app, make, kinds, attachments_dir):
    contact = make.contact()
    with app.app_context():
        service.open_ticket(
            db.session.get(Contact, contact.id),
            title="Tap",
            description="Leaks",
            priority="normal",
            issue_type_id=kinds["plumbing"].id,
            sub_issue_type_id=kinds["leak"].id,
            site_id=None,
            files=[file_storage(png_bytes())],
            submission_key="k1",
        )
        db.session.flush()
        assert len(stored_files(attachments_dir)) == 1  # written before the commit
        db.session.rollback()  # e.g. the commit failed
        db.session.remove()
    assert stored_files(attachments_dir) == []


def test_the_sweeper_job_removes_old_files_without_a_row_and_keeps_the_rest(app, make, kinds, attachments_dir):
    client = signed_in(app, make.contact())
    response = client.post("/tickets/new", data={**form(kinds), "attachments": [upload(png_bytes(), "kept.png")]})
    assert response.status_code == 303
    [kept] = stored_files(attachments_dir)
    old = time.time() - 2 * 3600
    orphan = attachments_dir / "ab" / ("ab" + "0" * 46)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crashed process")
    fresh = attachments_dir / "cd" / ("cd" + "1" * 46)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"a request still on its way to the commit")
    for path in (kept, orphan):
        os.utime(path, (old, old))

    load_jobs()
    with app.app_context():
        HANDLERS["service_desk.sweep_attachments"]()
        db.session.remove()
    assert sorted(stored_files(attachments_dir)) == sorted([kept, fresh])
    with app.app_context():
        assert db.session.scalar(select(TicketAttachment.storage_key)) == kept.name
