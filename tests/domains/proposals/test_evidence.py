"""The evidence log: what it records, that it refuses changes, that tampering is seen
(by ``check_chain`` and by ``flask evidence check``), and the sealed certificate."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from portal.core import sealing
from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import certificates, evidence
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.evidence_models import Certificate, EvidenceEntry, EvidenceImmutable
from portal.domains.proposals.models import Proposal
from tests.evidence_helpers import (
    ROMANIAN_LINE,
    SIGNER,
    SPANISH_LINE,
    entry_ids,
    run_worker,
    sign_through_portal,
    tamper,
)
from tests.factories import outbox


def _kinds(app, proposal_id: int) -> list[str]:
    with app.app_context():
        kinds = [entry.kind for entry in evidence.entries_of(proposal_id)]
        db.session.remove()
        return kinds


def test_a_proposal_life_is_chained_entry_by_entry(app, client, make):
    signed = sign_through_portal(app, client, make)
    run_worker(app)
    with app.app_context():
        entries = evidence.entries_of(signed.proposal_id)
        kinds = [entry.kind for entry in entries]
        assert kinds == [
            "delivered",
            "link_opened",
            "page_viewed",
            "option_ticked",
            "option_ticked",
            "option_unticked",
            "consent_given",
            "signed",
            "certificate_issued",
        ]
        assert [entry.seq for entry in entries] == list(range(1, len(entries) + 1))
        assert entries[0].prev_hash == evidence.GENESIS
        for before, after in zip(entries, entries[1:], strict=False):
            assert after.prev_hash == before.entry_hash
        by_kind = {entry.kind: entry for entry in entries}
        # The contact's own requests carry their address, browser, zone and link.
        for kind in ("link_opened", "page_viewed", "option_unticked", "consent_given", "signed"):
            entry = by_kind[kind]
            assert entry.ip == "127.0.0.1" and entry.link_id == signed.link_id, kind
            assert entry.time_zone == "Europe/Bucharest", kind
            assert entry.contact_id == signed.contact_id
        assert by_kind["option_unticked"].user_agent == "EvidenceTest/1.0 (phone)"
        consent = json.loads(by_kind["consent_given"].data)
        assert consent["text"] == proposals.consent_text()
        assert consent["text_sha256"] == hashlib.sha256(proposals.consent_text().encode()).hexdigest()
        signature = json.loads(by_kind["signed"].data)
        assert signature["signer_name"] == SIGNER and signature["selected"] == signed.option_ids
        staff_entry = by_kind["delivered"]
        assert staff_entry.staff_id is not None and json.loads(staff_entry.data)["message_id"].startswith("<")
        assert evidence.check_chain(signed.proposal_id, certificates.certificate_of(signed.proposal_id)).intact
        db.session.remove()


def test_reloading_the_page_is_one_view_per_version(app, client, make):
    delivered = make.delivered()
    client.get(f"/l/{delivered.token}")
    for _ in range(3):
        assert client.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200
    assert _kinds(app, delivered.proposal.id).count("page_viewed") == 1


def test_staff_decisions_and_revisions_are_evidence(app, make):
    first = make.signed()
    second = make.delivered()
    with app.app_context():
        rep = db.session.get(StaffUser, first.proposal.sales_rep_id)
        proposals.mark_won(proposals.load_proposal(first.proposal.id), rep)
        proposals.mark_lost(proposals.load_proposal(second.proposal.id), db.session.get(StaffUser, rep.id), "price")
        proposals.create_revision(proposals.load_proposal(second.proposal.id), db.session.get(StaffUser, rep.id))
        db.session.commit()
        db.session.remove()
    assert _kinds(app, first.proposal.id)[-1] == "won"
    assert _kinds(app, second.proposal.id)[-2:] == ["lost", "new_revision"]


def test_the_mail_sent_joins_the_chain_with_its_message_id(app, make, mail_server):
    delivered = make.delivered()
    run_worker(app)
    assert mail_server.messages, "the delivery mail was not sent"
    with app.app_context():
        entries = evidence.entries_of(delivered.proposal.id)
        sent = [json.loads(e.data) for e in entries if e.kind == "mail_sent"]
        queued = json.loads(entries[0].data)["message_id"]
        db.session.remove()
    assert [s["message_id"] for s in sent] == [queued]
    assert mail_server.messages[0]["Message-ID"] == queued


def test_the_orm_and_the_database_refuse_to_change_an_entry(app, make):
    delivered = make.delivered()
    with app.app_context():
        entry = db.session.scalar(select(EvidenceEntry).where(EvidenceEntry.proposal_id == delivered.proposal.id))
        entry.kind = "signed"
        with pytest.raises(EvidenceImmutable):
            db.session.flush()
        db.session.rollback()
        entry = db.session.scalar(select(EvidenceEntry).where(EvidenceEntry.proposal_id == delivered.proposal.id))
        db.session.delete(entry)
        with pytest.raises(EvidenceImmutable):
            db.session.flush()
        db.session.rollback()
        for statement in ("UPDATE evidence_entries SET kind = 'won'", "DELETE FROM evidence_entries"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()
        assert evidence.check_chain(delivered.proposal.id).intact
        db.session.remove()


# --- tampering is detected ----------------------------------------------------------


def _edit(app, ids):
    tamper(app, "UPDATE evidence_entries SET ip = '198.51.100.1' WHERE id = :id", id=ids[3])


def _remove_middle(app, ids):
    tamper(app, "DELETE FROM evidence_entries WHERE id = :id", id=ids[2])


def _remove_last(app, ids):
    tamper(app, "DELETE FROM evidence_entries WHERE id = :id", id=ids[-1])


def _reorder(app, ids):
    tamper(app, "UPDATE evidence_entries SET seq = -seq WHERE id IN (:a, :b)", a=ids[3], b=ids[4])
    tamper(app, "UPDATE evidence_entries SET seq = 5 WHERE id = :id", id=ids[3])
    tamper(app, "UPDATE evidence_entries SET seq = 4 WHERE id = :id", id=ids[4])


TAMPERING = {"edit": _edit, "remove_middle": _remove_middle, "remove_last": _remove_last, "reorder": _reorder}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_tampering_is_detected_by_the_check_the_command_and_the_verify_page(app, client, make, how):
    signed = sign_through_portal(app, client, make)
    run_worker(app)
    runner = app.test_cli_runner()
    healthy = runner.invoke(args=["evidence", "check", "--no-seals"])
    assert healthy.exit_code == 0, healthy.output
    with app.app_context():
        public_id = certificates.certificate_of(signed.proposal_id).public_id
        db.session.remove()
    assert "Intact" in client.post("/verify", data={"certificate_id": public_id}).get_data(as_text=True)

    TAMPERING[how](app, entry_ids(app, signed.proposal_id))

    with app.app_context():
        report = evidence.check_chain(signed.proposal_id, certificates.certificate_of(signed.proposal_id))
        db.session.remove()
    assert not report.intact
    result = runner.invoke(args=["evidence", "check", "--no-seals"])
    assert result.exit_code == 1, result.output
    assert f"DAMAGED proposal {signed.label} (id {signed.proposal_id})" in result.output
    assert "entry" in result.output
    page = client.post("/verify", data={"certificate_id": public_id}).get_data(as_text=True)
    assert "Genuine" in page and "Intact" not in page
    assert "Damaged" in page or "Cut" in page


def test_a_chain_cut_by_a_restore_is_named_as_such(app, client, make):
    """A restore from a backup taken between signing and the certificate's last
    entries: the head and the entries agree, but the certificate recorded more."""
    signed = sign_through_portal(app, client, make)
    run_worker(app)
    ids = entry_ids(app, signed.proposal_id)
    with app.app_context():
        kept = db.session.get(EvidenceEntry, ids[4])
        keep_hash = kept.entry_hash
        db.session.remove()
    tamper(app, "DELETE FROM evidence_entries WHERE proposal_id = :p AND seq > 5", p=signed.proposal_id)
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            text("UPDATE evidence_heads SET entry_count = 5, head_hash = :h WHERE proposal_id = :p"),
            {"h": keep_hash, "p": signed.proposal_id},
        )
    with app.app_context():
        certificate = certificates.certificate_of(signed.proposal_id)
        report = evidence.check_chain(signed.proposal_id, certificate)
        public_id = certificate.public_id
        db.session.remove()
    assert report.cut and "restored" in report.problems[0]
    page = client.post("/verify", data={"certificate_id": public_id}).get_data(as_text=True)
    assert "Cut:" in page and "restore" in page
    result = app.test_cli_runner().invoke(args=["evidence", "check", "--no-seals"])
    assert result.exit_code == 1 and "restored" in result.output


def test_a_stored_certificate_changed_in_the_database_fails_the_command(app, client, make):
    signed = sign_through_portal(app, client, make)
    run_worker(app)
    with app.app_context():
        certificate = certificates.certificate_of(signed.proposal_id)
        flipped = bytearray(certificate.pdf)
        flipped[len(flipped) // 2] ^= 0x01
        certificate.pdf = bytes(flipped)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["evidence", "check"])
    assert result.exit_code == 1 and "does not match its hash" in result.output


# --- the certificate ----------------------------------------------------------------


def test_the_certificate_is_sealed_once_and_validates(app, client, make):
    signed = sign_through_portal(app, client, make)
    run_worker(app)
    run_worker(app)  # a second pass (or a retried job) makes nothing new
    with app.app_context():
        found = db.session.scalars(select(Certificate).where(Certificate.proposal_id == signed.proposal_id)).all()
        assert len(found) == 1
        certificate = found[0]
        assert certificates.issue_certificate(signed.proposal_id).id == certificate.id
        assert hashlib.sha256(certificate.pdf).hexdigest() == certificate.pdf_sha256
        check = sealing.validate(certificate.pdf)
        assert check.intact and check.trusted and check.covers_whole_file, check.summary
        assert certificate.seal_fingerprint == sealing.identity().fingerprint
        proposal = db.session.get(Proposal, signed.proposal_id)
        assert (
            certificate.chain_count == 8
            and certificate.content_sha256 == proposals.load_proposal(proposal.id).signature.content_hash
        )
        flipped = bytearray(certificate.pdf)
        flipped[len(flipped) // 3] ^= 0x01
        try:
            assert not sealing.validate(bytes(flipped)).intact
        except Exception:  # a flip in the file's structure: pyHanko cannot even read it
            pass
        db.session.remove()
    mails = [m for m in outbox(app) if m["kind"] == "proposal_certificate"]
    assert len(mails) == 1 and "/l/" in mails[0]["body_text"] and public_id_in(mails[0]["body_text"])


def public_id_in(body: str) -> bool:
    return certificates.ID_PATTERN.search(body) is not None


def test_the_certificate_renders_with_romanian_and_spanish_text(app, client, make):
    pdfium = pytest.importorskip("pypdfium2")
    signed = sign_through_portal(app, client, make)
    run_worker(app)
    with app.app_context():
        certificate = certificates.certificate_of(signed.proposal_id)
        pdf, public_id = certificate.pdf, certificate.public_id
        entries = len(evidence.entries_of(signed.proposal_id))
        db.session.remove()
    document = pdfium.PdfDocument(pdf)
    try:
        assert len(document) >= 2  # the proposal as signed, then the audit page
        text_of = []
        for index in range(len(document)):
            page = document[index]
            text_of.append(page.get_textpage().get_text_range())
            image = page.render(scale=1).to_pil().convert("L")
            dark = sum(image.histogram()[:128])
            assert image.width > 500 and dark > 2000, f"page {index + 1} looks blank"
            if os.environ.get("EVIDENCE_PNG_DIR"):  # to look at it by eye
                image.save(os.path.join(os.environ["EVIDENCE_PNG_DIR"], f"certificate-{index + 1}.png"))
        first, audit = text_of[0], "\n".join(text_of[1:])
    finally:
        document.close()
    joined = " ".join(first.split())
    for expected in (ROMANIAN_LINE, SPANISH_LINE, SIGNER, public_id, "Mulch", "Signed total", "Plata în 15 zile"):
        assert " ".join(expected.split()) in joined or expected in first, expected
    for letter in "ștȘȚăîñ":
        assert letter in first, letter
    assert "Europe/Bucharest" in first
    assert "Audit trail" in audit and "Consent to sign electronically" in audit
    assert audit.count("UTC") >= entries - 1


def test_the_renderer_puts_the_signer_language_beside_english(app):
    """``_both``: a translation and its English, or English alone when they agree."""
    from flask_babel import lazy_gettext

    with app.test_request_context():
        assert certificates._both(lazy_gettext("Signed by"), "en") == "Signed by"
        assert certificates._both(lazy_gettext("Signed by"), "ro") in ("Signed by", "Semnat de / Signed by")


def test_certificate_ids_are_normalised_and_malformed_ones_refused():
    assert certificates.normalise_id(" pc-abcd efgh-ijkl-mnop ") == "PC-ABCD-EFGH-IJKL-MNOP"
    good = certificates.new_public_id()
    assert certificates.ID_PATTERN.fullmatch(good)
    assert certificates.normalise_id(good.lower().replace("-", " ")) == good
    for bad in ("", "PC-", "PC-AAAA-BBBB-CCCC", "PC-AAAA-BBBB-CCCC-DDD1", "x" * 5000, "PC-ÅAAA-BBBB-CCCC-DDDD"):
        assert certificates.normalise_id(bad) is None, bad


def test_appends_from_many_threads_at_once_keep_one_unbroken_chain(app, make):
    """Four requests appending at once: the head's conditional update makes them take
    turns, on SQLite and PostgreSQL alike; no seq twice, no fork."""
    import threading

    delivered = make.delivered()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def append(worker: int) -> None:
        try:
            with app.app_context():
                start.wait(timeout=30)
                for n in range(5):
                    evidence.record(delivered.proposal.id, evidence.Kind.PAGE_VIEWED, data={"worker": worker, "n": n})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        report = evidence.check_chain(delivered.proposal.id)
        db.session.remove()
    assert report.intact, report.problems
    assert report.entries == 21


def test_the_evidence_page_costs_the_same_queries_however_long_the_chain(app, make, login, count_queries):
    delivered = make.delivered()
    admin = make.staff(role="admin")
    staff_client = app.test_client()
    login(staff_client, admin)
    url = f"/admin/proposals/{delivered.proposal.id}/evidence"
    staff_client.get(url)
    counts = []
    for more in (2, 30):
        with app.app_context():
            for _ in range(more):
                evidence.record(delivered.proposal.id, evidence.Kind.PAGE_VIEWED, data={})
            db.session.commit()
            db.session.remove()
        with count_queries() as counter:
            assert staff_client.get(url).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_a_configured_key_with_a_passphrase_seals_and_a_wrong_one_is_refused(app, tmp_path, monkeypatch):
    from portal.core import pdf as renderer

    monkeypatch.setitem(app.config, "SEAL_KEY_PATH", str(tmp_path / "real-key.pem"))
    monkeypatch.setitem(app.config, "SEAL_CERT_PATH", str(tmp_path / "real-cert.pem"))
    monkeypatch.setitem(app.config, "SEAL_KEY_PASSPHRASE", "s3cret")
    with app.app_context():
        assert sealing.create_seal_key("Real seal", "Real business") is True
        assert sealing.create_seal_key("Real seal", "Real business") is False  # idempotent: kept
        assert b"ENCRYPTED" in (tmp_path / "real-key.pem").read_bytes()
        document = renderer.render(
            renderer.Document(title="t", issuer="Real business", blocks=[renderer.Paragraph("ș")])
        )
        sealed = sealing.seal(document, reason="test", name="Real business")
        check = sealing.validate(sealed)
        assert check.intact and check.trusted, check.summary
        app.config["SEAL_KEY_PASSPHRASE"] = "wrong"
        with pytest.raises(sealing.SealUnavailable):
            sealing.seal(document, reason="test", name="Real business")


def test_the_setup_command_makes_the_key_once(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "SEAL_KEY_PATH", str(tmp_path / "k.pem"))
    monkeypatch.setitem(app.config, "SEAL_CERT_PATH", str(tmp_path / "c.pem"))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["evidence", "create-seal-key"])
    second = runner.invoke(args=["evidence", "create-seal-key"])
    assert first.exit_code == 0 and "Created" in first.output, first.output
    assert second.exit_code == 0 and "Kept" in second.output
    assert first.output.splitlines()[-1] == second.output.splitlines()[-1]  # the same fingerprint
