"""Build and seal the certificate of the demo's signed proposal, and print the figures.

    python scripts/bench_certificate.py [--runs 10]

A throwaway SQLite database and seal key in a temporary directory; the demo data
(``seed-demo``) gives the signed proposal. Prints the median and slowest time to
build the PDF (fpdf2, fonts subset) and to seal it (pyHanko, RSA 2048), and the sizes.
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
    from sqlalchemy import select

    from portal import create_app
    from portal.core import pdf as renderer
    from portal.core import sealing
    from portal.core.extensions import db
    from portal.demo import seed_demo
    from portal.domains.proposals import certificates, evidence
    from portal.domains.proposals.models import Proposal
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
            proposal_id = db.session.scalar(select(Proposal.id).where(Proposal.signed_at.is_not(None)).limit(1))
            proposal = load_proposal(proposal_id)
            entries = evidence.entries_of(proposal_id)
            fingerprint = sealing.identity().fingerprint
            builds, seals, sizes = [], [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                document = certificates.build_document(
                    proposal, proposal.signature, entries, certificates.new_public_id(), fingerprint
                )
                unsealed = renderer.render(document)
                built = time.perf_counter()
                sealed = sealing.seal(unsealed, reason="bench", name="bench")
                builds.append(built - started)
                seals.append(time.perf_counter() - built)
                sizes.append((len(unsealed), len(sealed)))
            print(f"proposal {proposal.label}: {len(proposal.lines)} lines, {len(entries)} evidence entries")
            print(
                f"build (blocks + render): median {statistics.median(builds) * 1000:.0f} ms, max {max(builds) * 1000:.0f} ms"
            )
            print(
                f"seal (pyHanko PAdES):    median {statistics.median(seals) * 1000:.0f} ms, max {max(seals) * 1000:.0f} ms"
            )
            print(f"size: {sizes[-1][0] / 1024:.1f} KB built, {sizes[-1][1] / 1024:.1f} KB sealed")


if __name__ == "__main__":
    main()
