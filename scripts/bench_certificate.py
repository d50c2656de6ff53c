"""Build and seal the certificate of a signed proposal, and print the figures.

    python scripts/bench_certificate.py [--runs 10]

A throwaway SQLite database and seal key in a temporary directory; the demo data
(``seed-demo``) gives a staff member and a contact, and the script makes a proposal of
20 lines (5 optional, Romanian descriptions), delivers it, ticks and unticks options
(about 30 evidence entries in all) and signs it. Prints the median and slowest wall
time and the median CPU time to build the PDF (fpdf2, fonts subset) and to seal it
(pyHanko, RSA 2048), and the sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from flask_migrate import upgrade

    from portal import create_app
    from portal.core import pdf as renderer
    from portal.core import sealing
    from portal.demo import seed_demo
    from portal.domains.proposals import certificates, evidence
    from portal.domains.proposals.operations import load_proposal

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "SEAL_KEY_PATH": f"{tmp}/key.pem",
                "SEAL_CERT_PATH": f"{tmp}/cert.pem",
                "RATELIMIT_ENABLED": False,
            }
        )
        with app.app_context():
            upgrade()
            seed_demo()
            sealing.create_seal_key("bench seal", "bench")
            proposal_id = _signed_proposal()
            proposal = load_proposal(proposal_id)
            entries = evidence.entries_of(proposal_id)
            fingerprint = sealing.identity().fingerprint
            builds, seals, sizes, cpu_builds, cpu_seals = [], [], [], [], []
            for _ in range(args.runs):
                cpu = time.process_time()
                started = time.perf_counter()
                document = certificates.build_document(
                    proposal, proposal.signature, entries, certificates.new_public_id(), fingerprint
                )
                unsealed = renderer.render(document)
                built, cpu_built = time.perf_counter(), time.process_time()
                sealed = sealing.seal(unsealed, reason="bench", name="bench")
                builds.append(built - started)
                seals.append(time.perf_counter() - built)
                cpu_builds.append(cpu_built - cpu)
                cpu_seals.append(time.process_time() - cpu_built)
                sizes.append((len(unsealed), len(sealed)))
            print(f"proposal {proposal.label}: {len(proposal.lines)} lines, {len(entries)} evidence entries")
            for name, wall, cpu in (
                ("build (blocks + render)", builds, cpu_builds),
                ("seal (pyHanko PAdES)", seals, cpu_seals),
            ):
                print(
                    f"{name}: median {statistics.median(wall) * 1000:.0f} ms, max {max(wall) * 1000:.0f} ms wall; "
                    f"median {statistics.median(cpu) * 1000:.0f} ms CPU"
                )
            print(f"size: {sizes[-1][0] / 1024:.1f} KB built, {sizes[-1][1] / 1024:.1f} KB sealed")


def _signed_proposal() -> int:
    """A 20-line proposal (5 optional) delivered, with options ticked and unticked, signed."""
    from decimal import Decimal

    from sqlalchemy import select

    from portal.core.extensions import db
    from portal.demo import DEMO_STROKES, demo_signature_png
    from portal.domains.customers.models import Contact
    from portal.domains.identity.models import StaffUser
    from portal.domains.proposals import evidence
    from portal.domains.proposals import operations as proposals

    rep = db.session.scalar(select(StaffUser).order_by(StaffUser.id).limit(1))
    contact = db.session.scalar(
        select(Contact)
        .where(Contact.portal_enabled.is_(True), Contact.is_active.is_(True))
        .order_by(Contact.id)
        .limit(1)
    )
    proposal = proposals.create_proposal(
        rep, contact, "Întreținere anuală a spațiilor verzi", "EUR", "Plata în 15 zile."
    )
    proposal = proposals.load_proposal(proposal.id)
    for n in range(20):
        proposals.add_line(
            proposal,
            proposals.LineInput(f"Lucrare {n + 1}: tuns, ștergere, țesătură", Decimal("3"), Decimal("45.50"), n >= 15),
        )
    issued = proposals.deliver_proposal(proposal, rep)
    options = [line.id for line in proposal.lines if line.is_optional]
    kept: list[int] = []
    for n in range(24):
        chosen = options[: (n % 5) + 1]
        evidence.record_options(proposal.id, contact.id, issued.link.id, kept, chosen)
        kept = chosen
    proposals.sign_proposal(
        proposal,
        contact,
        issued.link,
        proposals.SignInput(
            option_ids=[str(i) for i in kept],
            signer_name="Ștefan Țăranu",
            consent=True,
            signature_png=demo_signature_png(),
            strokes=DEMO_STROKES,
            seen_hash=proposals.content_hash(proposal),
        ),
    )
    db.session.commit()
    return proposal.id


if __name__ == "__main__":
    main()
