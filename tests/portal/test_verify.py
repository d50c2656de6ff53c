"""The public verify page and the certificate downloads: each bad input a clear
message (never a 500), nothing sent is stored, rate-limited."""

from __future__ import annotations

import io
import zlib

import pytest

from portal.core import pdf as renderer
from portal.core.extensions import db
from portal.domains.proposals import certificates
from tests.evidence_helpers import SIGNER, run_worker, sign_through_portal
from tests.factories import snapshot


@pytest.fixture
def issued(app, client, make):
    signed = sign_through_portal(app, client, make)
    run_worker(app)
    with app.app_context():
        certificate = certificates.certificate_of(signed.proposal_id)
        db.session.expunge(certificate)
        db.session.remove()
    return signed, certificate


def _upload(client, data: bytes, name: str = "certificate.pdf"):
    return client.post("/verify", data={"document": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_the_page_is_public_and_says_what_it_does(client):
    page = client.get("/verify")
    assert page.status_code == 200
    assert "Verify a signed proposal" in page.get_data(as_text=True)


def test_a_genuine_certificate_is_recognised_by_upload_and_by_id(app, issued):
    signed, certificate = issued
    anonymous = app.test_client()
    for response in (
        _upload(anonymous, certificate.pdf),
        anonymous.post("/verify", data={"certificate_id": certificate.public_id.lower()}),
    ):
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Genuine" in body and signed.label in body and "revision 1" in body
        assert SIGNER in body and "Intact (" in body
        assert "120.00" not in body  # name only: no amounts, no address, no email


def test_the_verify_page_stores_nothing_it_was_sent(app, issued):
    _signed, certificate = issued
    before = snapshot(app, audit=True)
    anonymous = app.test_client()
    _upload(anonymous, certificate.pdf)
    _upload(anonymous, b"%PDF-1.7 something else")
    anonymous.post("/verify", data={"certificate_id": "PC-AAAA-BBBB-CCCC-DDDD"})
    assert snapshot(app, audit=True) == before


def test_one_flipped_byte_is_an_altered_certificate(app, issued):
    _signed, certificate = issued
    flipped = bytearray(certificate.pdf)
    flipped[len(flipped) // 2] ^= 0x01
    body = _upload(app.test_client(), bytes(flipped)).get_data(as_text=True)
    assert "Altered" in body and certificate.public_id in body and "Genuine" not in body


def test_not_a_pdf_is_refused_with_a_message(client):
    response = _upload(client, b"\x89PNG\r\n\x1a\n not a pdf", "photo.pdf")
    assert response.status_code == 422
    assert "not a PDF" in response.get_data(as_text=True)


def test_an_empty_form_and_an_empty_file_get_a_message(client):
    assert client.post("/verify", data={}).status_code == 422
    response = _upload(client, b"")
    assert response.status_code == 422


def test_too_large_uploads_get_a_message_not_a_500(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFY_MAX_BYTES", 2000)
    response = _upload(client, b"%PDF-1.7\n" + b"0" * 3000)
    assert response.status_code == 413
    assert "too large to be one of our certificates" in response.get_data(as_text=True)
    # 200 MB announced: refused before it is read (werkzeug's content-length check).
    response = client.post(
        "/verify",
        data=b"--x\r\n",
        environ_overrides={"CONTENT_LENGTH": str(200 * 1024 * 1024)},
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_a_pdf_of_another_instance_is_named_as_such(app, client):
    with app.app_context():
        other = renderer.render(
            renderer.Document(
                title="Certificate",
                issuer="Another business",
                blocks=[renderer.Paragraph("Semnătură")],
                keywords=f"porchlight-certificate:PC-AAAA-BBBB-CCCC-DDDD porchlight-instance:{'9' * 64}",
            )
        )
    body = _upload(client, other).get_data(as_text=True)
    assert "Issued elsewhere" in body and "PC-AAAA-BBBB-CCCC-DDDD" in body


def test_our_pdf_missing_from_the_records_is_blamed_on_a_restore(app, issued):
    """The database was restored from a backup taken before the certificate existed."""
    from sqlalchemy import text

    _signed, certificate = issued
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM evidence_certificates WHERE id = :id"), {"id": certificate.id})
    body = _upload(app.test_client(), certificate.pdf).get_data(as_text=True)
    assert "Not on record" in body and "restored from a backup" in body


def test_a_pdf_bomb_is_only_hashed(client):
    """A tiny file whose stream inflates to 100 MB: never inflated, just not ours."""
    bomb = zlib.compress(b"\0" * (100 * 1024 * 1024), 9)
    data = (
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"3 0 obj << /Length " + str(len(bomb)).encode() + b" /Filter /FlateDecode >> stream\n" + bomb + b"\nendstream"
        b"\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    assert len(data) < 200 * 1024
    response = _upload(client, data)
    assert response.status_code == 200
    assert "Not one of our certificates" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "typed", ["PC-", "PC-AAAA-BBBB-CCCC-DDD1", "<script>", "x" * 5000, "PC-AAAA-BBBB-CCCC-DDDD-EEEE", "\u0130" * 20]
)
def test_malformed_certificate_ids_get_a_message(client, typed):
    response = client.post("/verify", data={"certificate_id": typed})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "not a certificate id" in body and "<script>" not in body


def test_an_unknown_certificate_id_says_so(client):
    body = client.post("/verify", data={"certificate_id": "PC-AAAA-BBBB-CCCC-DDDD"}).get_data(as_text=True)
    assert "No such certificate" in body


def test_the_verify_page_is_rate_limited(rate_limited_app):
    limited = rate_limited_app.test_client()
    codes = [limited.post("/verify", data={"certificate_id": "PC-AAAA-BBBB-CCCC-DDDD"}).status_code for _ in range(12)]
    assert codes[:10] == [200] * 10 and codes[-1] == 429


# --- downloads ------------------------------------------------------------------------


def test_the_signer_downloads_the_certificate_from_the_proposal_page(app, client, issued):
    signed, certificate = issued
    page = client.get(f"/p/proposals/{signed.proposal_id}").get_data(as_text=True)
    assert f"/p/proposals/{signed.proposal_id}/certificate.pdf" in page
    response = client.get(f"/p/proposals/{signed.proposal_id}/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == certificate.pdf
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]


def test_before_the_worker_made_it_the_download_says_it_is_coming(app, client, make):
    signed = sign_through_portal(app, client, make)
    response = client.get(f"/p/proposals/{signed.proposal_id}/certificate.pdf")
    assert response.status_code == 404
    assert "being prepared" in response.get_data(as_text=True)


def test_staff_download_it_from_the_admin_proposal_page(app, make, login, issued):
    signed, certificate = issued
    admin = make.staff(role="admin")
    staff_client = app.test_client()
    login(staff_client, admin)
    page = staff_client.get(f"/admin/proposals/{signed.proposal_id}").get_data(as_text=True)
    assert f"/admin/proposals/{signed.proposal_id}/certificate.pdf" in page
    response = staff_client.get(f"/admin/proposals/{signed.proposal_id}/certificate.pdf")
    assert response.status_code == 200 and response.data == certificate.pdf
    log = staff_client.get(f"/admin/proposals/{signed.proposal_id}/evidence").get_data(as_text=True)
    assert "Intact: 9 entries" in log and certificate.public_id in log
