#!/usr/bin/env python
"""The leads list at 100,000 leads over 50 reps: seed fast, then time the list query
(``portal.domains.sales.leads.list_leads`` through the access filter) for an admin and
a sales rep: first page, a search, "mine", "unassigned".

    python scripts/bench_leads.py                         # a throw-away SQLite database
    python scripts/bench_leads.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/scratch

``--database-url`` is EMPTIED first (schema dropped, migrations run): give it a scratch
database. A report, not a test: it prints the mean of a few runs of each query, in
process (no HTTP).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LEADS = 100_000
REPS = 50
RUNS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench_leads.db"

    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from portal import create_app
    from portal.core.extensions import db

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False}
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        from portal.access.staff.leads import staff_leads_query
        from portal.domains.identity import staff as accounts
        from portal.domains.sales import leads as service
        from portal.domains.sales.models import Lead

        password = "bench-password-not-secret"
        reps = [accounts.create_staff(f"rep{i}@bench.example", f"Rep {i}", password, role="sales") for i in range(REPS)]
        admin = accounts.create_staff("admin@bench.example", "Admin", password, role="admin")
        db.session.commit()
        rows = [
            dict(
                name=f"Lead {i}",
                name_key=f"lead {i} company {i % 997}",
                company=f"Company {i % 997}",
                email=f"lead{i}@bench.example",
                status="open" if i % 3 else "converted",
                origin="staff",
                rep_id=reps[i % REPS].id if i % 7 else None,
            )
            for i in range(LEADS)
        ]
        db.session.execute(insert(Lead), rows)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        cases = (
            ("first page", service.LeadFilters()),
            ("search", service.LeadFilters(q="company 42")),
            ("mine", service.LeadFilters(rep="me")),
            ("unassigned", service.LeadFilters(rep="none")),
        )
        print(f"{LEADS} leads, {REPS} reps, {db.engine.dialect.name}: mean of {RUNS} runs")
        for who, user in (("admin", admin), ("sales", reps[3])):
            for label, filters in cases:
                service.list_leads(staff_leads_query(user), filters, user)  # warm
                start = time.perf_counter()
                for _ in range(RUNS):
                    page = service.list_leads(staff_leads_query(user), filters, user)
                    for obj in [o for o in db.session if isinstance(o, Lead)]:
                        db.session.expunge(obj)
                ms = (time.perf_counter() - start) / RUNS * 1000
                print(f"  {who:6} {label:11} {ms:7.1f} ms  ({len(page.leads)} rows)")


if __name__ == "__main__":
    main()
