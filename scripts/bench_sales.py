#!/usr/bin/env python
"""The sales pipeline at 100,000 opportunities over 50 reps: seed fast, then time the
board (open stages), the list's first page, a search and filtered pages, on SQLite and,
when ``TEST_DATABASE_URL`` (or ``--database-url``) names a PostgreSQL database, there
too (that database is EMPTIED: give it a scratch one).

    python scripts/bench_sales.py [--opportunities 100000] [--requests 20] [--sqlite-only]

A report, not a test: the median and 90th percentile server time (Flask test client,
in process) of each page against the 100 ms budget. Other sales parts add their own
figures below (round-robin assignment: ``--assignments``, the pipeline report).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "scripts"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_tickets import _login, _median_ms, prepare_database  # noqa: E402

OPPORTUNITIES = 100_000
REPS = 50
ORGANIZATIONS = 200
CHUNK = 5_000
BUDGET_MS = 100.0
PASSWORD = "bench-password-not-secret"
WORDS = ("Hedge", "Lawn", "Snow", "Irrigation", "Roof", "Fence", "Pond", "Garden", "Patio", "Tree")
CURRENCIES = ("USD", "USD", "USD", "EUR", "GBP")


def seed_opportunities(app, count: int = OPPORTUNITIES) -> dict:
    """``count`` opportunities over two years, spread over the stages (most closed), 50
    reps, 200 organizations (each rep on four account teams), in bulk inserts."""
    from sqlalchemy import insert, select, text

    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.core.queries.search import search_key
    from portal.domains.customers.models import Organization, organization_team
    from portal.domains.identity import staff as accounts
    from portal.domains.sales.models import Opportunity, OpportunityType, Source, Stage

    rng = random.Random(9)
    with app.app_context():
        admin = accounts.create_staff("sales-admin@bench.example", "Sales Admin", PASSWORD, role="admin")
        reps = [
            accounts.create_staff(f"rep{i}@bench.example", f"Rep {i:02d}", PASSWORD, role="sales") for i in range(REPS)
        ]
        organizations = [Organization(name=f"{WORDS[i % 10]} {i:03d} Holdings") for i in range(ORGANIZATIONS)]
        db.session.add_all(organizations)
        db.session.flush()
        db.session.execute(
            organization_team.insert(),
            [
                {"organization_id": organizations[(i * 4 + k) % ORGANIZATIONS].id, "staff_id": rep.id}
                for i, rep in enumerate(reps)
                for k in range(4)
            ],
        )
        stages = list(db.session.scalars(select(Stage).order_by(Stage.position)))
        types = list(db.session.scalars(select(OpportunityType)))
        sources = list(db.session.scalars(select(Source)))
        weights = [8 if s.outcome == "open" else 30 for s in stages]
        now = utcnow()
        start = now - timedelta(days=730)
        step = timedelta(days=730) / count
        rows = []
        began = time.perf_counter()
        for i in range(count):
            org = organizations[i % ORGANIZATIONS]
            stage = rng.choices(stages, weights)[0]
            created = start + step * i
            title = f"{WORDS[i % 10]} work {i}"
            rows.append(
                {
                    "title": title,
                    "label_key": search_key(f"{title} {org.name}"),
                    "organization_id": org.id,
                    "type_id": types[i % len(types)].id,
                    "source_id": sources[i % len(sources)].id,
                    "stage_id": stage.id,
                    "outcome": stage.outcome,
                    "amount": Decimal(rng.randint(100, 500_000)) / 10,
                    "currency": CURRENCIES[i % len(CURRENCIES)],
                    "expected_close_on": (created + timedelta(days=rng.randint(10, 120))).date(),
                    "rep_id": reps[i % REPS].id,
                    "next_contact_on": (now + timedelta(days=rng.randint(-10, 30))).date() if i % 3 == 0 else None,
                    "closed_at": created + timedelta(days=30) if stage.outcome != "open" else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if len(rows) == CHUNK:
                db.session.execute(insert(Opportunity), rows)
                rows = []
        if rows:
            db.session.execute(insert(Opportunity), rows)
        db.session.commit()
        seconds = time.perf_counter() - began
        if db.engine.dialect.name == "postgresql":
            # VACUUM too: the steady state autovacuum gives a table after bulk inserts
            # (pages marked all-visible, so the board's sums per stage read the covering
            # index alone); the benchmark's server may run with autovacuum off.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        info = {
            "admin_email": admin.email,
            "rep_email": reps[7].email,
            "rep_id": reps[7].id,
            "stage_id": stages[1].id,
            "seconds": seconds,
            "count": count,
            "month": (now - timedelta(days=200)).strftime("%Y-%m"),
        }
        db.session.remove()
    return info


def sales_paths(info: dict) -> list[tuple[str, str, str]]:
    base = "/admin/sales/opportunities"
    return [
        ("board: open stages (admin)", "admin", "/admin/sales/board"),
        ("board: open stages (a rep)", "rep", "/admin/sales/board"),
        ("board: with won and lost", "admin", "/admin/sales/board?closed=1"),
        ("list: first page", "admin", base),
        ("list: all outcomes", "admin", f"{base}?outcome=all"),
        ("list: search a word", "admin", f"{base}?q=hedge&outcome=all"),
        ("list: search an org prefix", "admin", f"{base}?q=pond+04&outcome=all"),
        ("list: search, no match", "admin", f"{base}?q=zzqx&outcome=all"),
        ("list: filter rep + stage", "admin", f"{base}?rep={info['rep_id']}&stage={info['stage_id']}&outcome=all"),
        ("list: filter close month", "admin", f"{base}?close_month={info['month']}&outcome=all"),
        ("list: next contact due", "admin", f"{base}?due=1"),
        ("list: sort by amount", "admin", f"{base}?sort=amount&outcome=all"),
        ("list: a rep's own view", "rep", base),
    ]


def time_in_process(app, info: dict, requests: int) -> list[dict]:
    from bench_bare import app as bare_app

    app.config.update(RATELIMIT_ENABLED=False, WTF_CSRF_ENABLED=False)
    clients = {"admin": app.test_client(), "rep": app.test_client()}
    _login(clients["admin"], info["admin_email"])
    _login(clients["rep"], info["rep_email"])
    results = []
    median, p90, _status, _html = _median_ms(bare_app.test_client(), "/", requests)
    results.append({"label": "bare Flask route (reference)", "median": median, "p90": p90, "rows": None, "status": 200})
    paths = sales_paths(info)
    first = clients["admin"].get("/admin/sales/opportunities").get_data(as_text=True)
    found = re.search(r'id="next-page" href="([^"]+)"', first)
    if found:
        paths.insert(4, ("list: next page (keyset)", "admin", found.group(1).replace("&amp;", "&")))
    for label, who, path in paths:
        median, p90, status, html = _median_ms(clients[who], path, requests)
        rows = len(re.findall(r'id="(?:opportunity|card)-\d+"', html))
        results.append({"label": label, "median": median, "p90": p90, "rows": rows, "status": status})
    return results


def print_results(results: list[dict], engine: str) -> None:
    print(f"   {'page':<34} {'median':>9} {'p90':>9}  {'rows':>4}  budget < {BUDGET_MS:.0f} ms ({engine})")
    for r in results:
        verdict = (
            ""
            if r["rows"] is None
            else ("PASS" if r["median"] < BUDGET_MS and r["status"] == 200 else f"FAIL ({r['status']})")
        )
        rows = "" if r["rows"] is None else str(r["rows"])
        print(f"   {r['label']:<34} {r['median']:7.1f}ms {r['p90']:7.1f}ms  {rows:>4}  {verdict}")


def run(url: str, count: int, requests: int, assignments: int = 10_000) -> None:
    engine = url.split(":")[0]
    app = prepare_database(url)
    info = seed_opportunities(app, count)
    print(f"seeded {info['count']:,} opportunities over {REPS} reps in {info['seconds']:.1f} s ({engine})")
    print_results(time_in_process(app, info, requests), engine)
    if assignments:
        # SALES-RULES: new opportunities assigned by one round-robin rule over 50 reps
        # (scripts/bench_sales_assign.py), on top of the 100,000 already there.
        import bench_sales_assign

        elapsed, got = bench_sales_assign.run(app, assignments, reps=REPS)
        bench_sales_assign.report(engine, elapsed, got, assignments)
    # The sales reports (SALES-MORE): pipeline, win rate, first response, on the same rows.
    from bench_sales_reports import print_results as print_report_results
    from bench_sales_reports import time_reports

    now = time.gmtime()
    months = {
        "admin": info["admin_email"],
        "first": f"{now.tm_year - 1}-{now.tm_mon:02d}",
        "last": time.strftime("%Y-%m", now),
    }
    print_report_results(time_reports(app, months, requests), engine)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opportunities", type=int, default=OPPORTUNITIES)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (EMPTIED); default TEST_DATABASE_URL")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--assignments", type=int, default=10_000, help="round-robin assignments to time (0: none)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="porchlight-sales-"))
    run(f"sqlite:///{workdir / 'sales.db'}", args.opportunities, args.requests, args.assignments)
    pg = args.database_url or os.environ.get("TEST_DATABASE_URL")
    if pg and pg.startswith("postgres") and not args.sqlite_only:
        run(pg, args.opportunities, args.requests, args.assignments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
