"""Helpers of the evidence tests: a proposal taken through its life over HTTP, its
certificate made by the real worker, and tampering as a database owner would do it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from portal.core.extensions import db
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.evidence_models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL
from tests.factories import sign_form

ROMANIAN_LINE = "Întreținere spații verzi: tuns, ștergere frunze"
SPANISH_LINE = "Poda de árboles (señal ñ)"
SIGNER = "Ștefan Țăranu"


@dataclass
class SignedThrough:
    proposal_id: int
    contact_id: int
    link_id: int
    option_ids: list[int]
    label: str


def sign_through_portal(app, client, make, option_count: int = 1) -> SignedThrough:
    """Deliver a proposal with Romanian and Spanish lines, open its link, view it, tick
    two options and untick one, and sign it, all over HTTP."""
    contact = make.contact(first_name="Ștefan", last_name="Țăranu", timezone="Europe/Bucharest")
    proposal = make.proposal(
        contact=contact,
        included=((ROMANIAN_LINE, "4", "45.00"),),
        optional=((SPANISH_LINE, "1", "120.00"), ("Mulch", "2", "65.00")),
        terms="Plata în 15 zile. Pago en 15 días.",
    )
    delivered = make.delivered(proposal)
    assert client.get(f"/l/{delivered.token}").status_code == 303
    page = f"/p/proposals/{proposal.id}"
    assert client.get(page).status_code == 200
    with app.app_context():
        loaded = proposals.load_proposal(proposal.id)
        options = [line.id for line in loaded.lines if line.is_optional]
        seen = proposals.content_hash(loaded)
    headers = {"User-Agent": "EvidenceTest/1.0 (phone)"}
    assert (
        client.post(f"{page}/options", data={"option": [str(i) for i in options]}, headers=headers).status_code == 200
    )
    chosen = options[:option_count]
    assert client.post(f"{page}/options", data={"option": [str(i) for i in chosen]}, headers=headers).status_code == 200
    form = sign_form(loaded, chosen, signer_name=SIGNER, seen_hash=seen)
    response = client.post(f"{page}/sign", data=form, headers=headers)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return SignedThrough(proposal.id, contact.id, delivered.link_id, chosen, loaded.label)


def run_worker(app) -> None:
    """One pass of the real worker (the certificate job, then mail)."""
    from portal.jobs.worker import run_pass

    with app.app_context():
        report = run_pass("evidence-test")
        db.session.remove()
    assert report.failed == 0, report


def tamper(app, statement: str, **params) -> None:
    """Change the evidence tables as someone with the database owner's rights can: the
    append-only trigger dropped, the change made, the trigger put back."""
    with app.app_context(), db.engine.begin() as conn:
        dialect = conn.dialect.name
        for ddl in DROP_APPEND_ONLY_DDL[dialect]:
            conn.execute(text(ddl))
        conn.execute(text(statement), params)
        for ddl in APPEND_ONLY_DDL[dialect]:
            conn.execute(text(ddl))


def entry_ids(app, proposal_id: int) -> list[int]:
    with app.app_context():
        ids = list(
            db.session.execute(
                text("SELECT id FROM evidence_entries WHERE proposal_id = :p ORDER BY seq"), {"p": proposal_id}
            ).scalars()
        )
        db.session.remove()
        return ids
