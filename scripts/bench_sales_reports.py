#!/usr/bin/env python
"""The sales reports at 100,000 opportunities over 50 reps: seed fast, then time the
pipeline, win-rate and first-response pages in process (Flask test client).

    python scripts/bench_sales_reports.py                   # a throw-away SQLite database
    python scripts/bench_sales_reports.py --database-url postgresql://postgres@127.0.0.1:5432/scratch

``--database-url`` is EMPTIED first. A report, not a test: median and 90th percentile
server time per page against the 300 ms budget. ``scripts/bench_sales.py`` (SALES-CORE)
may call ``time_reports(app, info)`` after seeding its own opportunities.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

OPPORTUNITIES = 100_000
REPS = 50
CHUNK = 5_000
BUDGET_MS = 300.0
PASSWORD = "bench-password-not-secret"
PATHS = (
    ("pipeline report", "/admin/sales/reports/pipeline"),
    ("win rate report", "/admin/sales/reports/win-rate?from_month={first}&to_month={last}"),
    ("first response report", "/admin/sales/reports/first-response?from_month={first}&to_month={last}"),
)


def seed_opportunities(app, count: int = OPPORTUNITIES) -> dict:
    """``count`` opportunities over a year and ``REPS`` reps in bulk inserts: 60% open
    over the open stages, the rest won or lost (a lost reason each), three currencies,
    a first response for most."""
    from sqlalchemy import insert, select

    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.core.queries.search import search_key
    from portal.domains.identity import staff as accounts
    from portal.domains.sales.models import (
        LostReason,
        Opportunity,
        OpportunityType,
        Outcome,
        Source,
        Stage,
        opportunity_lost_reasons,
    )
    from portal.domains.sales.models_more import OpportunityFirstResponse

    rng = random.Random(11)
    began = time.perf_counter()
    with app.app_context():
        admin = accounts.create_staff("reports-admin@bench.example", "Reports Admin", PASSWORD, role="admin")
        reps = [accounts.create_staff(f"rep{i}@bench.example", f"Rep {i}", PASSWORD, role="sales") for i in range(REPS)]
        admin_email = admin.email
        rep_ids = [r.id for r in reps]
        stages = list(db.session.scalars(select(Stage)))
        open_stages = [s for s in stages if s.outcome == Outcome.OPEN]
        won = next(s for s in stages if s.outcome == Outcome.WON)
        lost = next(s for s in stages if s.outcome == Outcome.LOST)
        kinds = list(db.session.scalars(select(OpportunityType.id)))
        sources = list(db.session.scalars(select(Source.id)))
        reasons = list(db.session.scalars(select(LostReason.id)))
        db.session.commit()
        now = utcnow()
        done = 0
        while done < count:
            rows, responses, lost_rows = [], [], []
            first_id = done + 1
            for n in range(min(CHUNK, count - done)):
                created = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
                roll = rng.random()
                stage = rng.choice(open_stages) if roll < 0.6 else (won if roll < 0.8 else lost)
                rows.append(
                    {
                        "id": first_id + n,
                        "title": f"Opportunity {first_id + n}",
                        "label_key": search_key(f"opportunity {first_id + n}"),
                        "type_id": rng.choice(kinds),
                        "source_id": rng.choice(sources),
                        "stage_id": stage.id,
                        "outcome": stage.outcome,
                        "amount": Decimal(rng.randrange(100, 5_000_000)) / 100,
                        "currency": rng.choice(("USD", "USD", "EUR", "RON")),
                        "probability": rng.choice((None, 10, 50, 90)),
                        "expected_close_on": (created + timedelta(days=rng.randrange(10, 120))).date(),
                        "rep_id": rng.choice(rep_ids) if rng.random() < 0.95 else None,
                        "closed_at": None
                        if stage.outcome == Outcome.OPEN
                        else created + timedelta(days=rng.randrange(1, 60)),
                        "created_at": created,
                        "updated_at": created,
                    }
                )
                if rng.random() < 0.8:
                    responses.append(
                        {
                            "opportunity_id": first_id + n,
                            "responded_at": created + timedelta(hours=1),
                            "business_minutes": int(rng.expovariate(1 / 240)),
                            "via": "proposal_delivered",
                        }
                    )
                if stage.outcome == Outcome.LOST:
                    lost_rows.append({"opportunity_id": first_id + n, "lost_reason_id": rng.choice(reasons)})
            db.session.execute(insert(Opportunity), rows)
            db.session.execute(insert(OpportunityFirstResponse), responses)
            if lost_rows:
                db.session.execute(opportunity_lost_reasons.insert(), lost_rows)
            db.session.commit()
            done += len(rows)
        if db.engine.dialect.name == "postgresql":
            from sqlalchemy import text

            db.session.execute(text("SELECT setval('opportunities_id_seq', (SELECT max(id) FROM opportunities))"))
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        first = (now - timedelta(days=365)).strftime("%Y-%m")
        return {
            "count": done,
            "seconds": time.perf_counter() - began,
            "admin": admin_email,
            "first": first,
            "last": now.strftime("%Y-%m"),
        }


def time_reports(app, info: dict, requests: int = 15) -> list[dict]:
    """Median and p90 server time of each report page, signed in as an admin."""
    from bench_tickets import _median_ms

    client = app.test_client()
    response = client.post("/admin/login", data={"email": info["admin"], "password": PASSWORD})
    if response.status_code != 303:
        raise RuntimeError(f"admin login answered {response.status_code}")
    results = []
    for label, path in PATHS:
        median, p90, status, _body = _median_ms(client, path.format(**info), requests)
        results.append({"label": label, "median_ms": median, "p90_ms": p90, "status": status})
    return results


def print_results(results: list[dict], engine: str) -> None:
    for r in results:
        verdict = (
            "ok"
            if r["median_ms"] < BUDGET_MS and r["status"] == 200
            else "OVER BUDGET"
            if r["status"] == 200
            else f"HTTP {r['status']}"
        )
        print(
            f"  {r['label']:<24} {engine:<10} median {r['median_ms']:7.1f} ms  p90 {r['p90_ms']:7.1f} ms  [{verdict}; budget {BUDGET_MS:.0f} ms]"
        )


def main() -> int:
    from bench_tickets import prepare_database

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a scratch database (EMPTIED); default: a temporary SQLite file")
    parser.add_argument("--opportunities", type=int, default=OPPORTUNITIES)
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="porchlight-sales-reports-"))
    url = args.database_url or f"sqlite:///{workdir / 'sales.db'}"
    app = prepare_database(url)
    info = seed_opportunities(app, args.opportunities)
    print(f"seeded {info['count']:,} opportunities over {REPS} reps in {info['seconds']:.1f} s ({url.split(':')[0]})")
    print_results(time_reports(app, info, args.requests), url.split(":")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
