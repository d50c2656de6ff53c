"""The accepted attachment types, as told to the contact, are the ones the check accepts."""

from __future__ import annotations

import io

import pytest

from portal.domains.service_desk import attachments
from tests.portal.test_tickets import signed_in


@pytest.mark.parametrize("suffix", sorted(attachments.TEXT_SUFFIXES))
def test_every_text_ending_the_check_accepts_is_in_the_label(app, suffix):
    with app.test_request_context():
        assert attachments.sniff(b"meter reading 42\n", f"notes{suffix}") is not None
        assert suffix in attachments.allowed_types_label()


def test_a_text_file_the_check_refuses_is_not_promised_by_the_label(app):
    with app.test_request_context():
        assert attachments.sniff(b"meter reading 42\n", "notes.md") is None
        label = attachments.allowed_types_label()
    # The old label promised "text files" without saying which: a .md was refused.
    assert "text files ending in" in label and ".md" not in label


def test_the_label_follows_the_table_the_check_reads(app, monkeypatch):
    monkeypatch.setitem(attachments.TEXT_SUFFIXES, ".md", "text/markdown")
    with app.test_request_context():
        assert attachments.sniff(b"# notes\n", "notes.md") == "text/markdown"
        assert ".md" in attachments.allowed_types_label()
        assert ".md" in attachments.accept_attribute()


def test_the_form_hint_and_the_refusal_list_the_same_types(app, make, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(tmp_path))
    contact = make.contact()
    client = signed_in(app, contact)
    page = client.get("/tickets/new").get_data(as_text=True)
    with app.test_request_context():
        label = attachments.allowed_types_label()
    assert label in page
    assert 'accept="image/*,application/pdf,.txt,.log,.csv"' in page
    response = client.post(
        "/tickets/new",
        data={
            "title": "Tap",
            "description": "Leaks",
            "attachments": [(io.BytesIO(b"# hi\n"), "notes.md", "text/plain")],
        },
    )
    assert response.status_code == 422
    assert f"notes.md is not a file type we accept: {label}." in response.get_data(as_text=True)
