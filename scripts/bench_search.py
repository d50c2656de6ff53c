#!/usr/bin/env python
"""Organization search and ticket search at 100,000 rows: seed, then time the service
calls in process (the statement each list runs, no HTTP), several runs each.

    python scripts/bench_search.py                               # a throw-away SQLite file
    python scripts/bench_search.py --database-url postgresql://postgres@127.0.0.1:5432/scratch

``--database-url`` is EMPTIED first (schema dropped, ``flask db upgrade``). A report,
not a test: it prints the median and the slowest of ``--runs`` timings per query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.bench_tickets import prepare_database, seed_tickets  # noqa: E402

ORGANIZATIONS = 100_000
CHUNK = 5_000
FIRST = ("Harbor", "North", "Greenleaf", "Stone", "Maple", "Cedar", "Ştefan", "Ñoño", "Summit", "River")
SECOND = ("Dental", "Campus", "Gardens", "Works", "Facilities", "Bakery", "Instalaţii", "Jardines", "Clinic", "Labs")
CITIES = ("Portland", "North Bend", "Iaşi", "Málaga", "Springfield", "Salem", "Cluj", "Sevilla")


def seed_organizations(app, count: int) -> None:
    from sqlalchemy import insert

    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.core.queries.search import search_key
    from portal.domains.customers.models import Organization

    rng = random.Random(7)
    now = utcnow()
    with app.app_context():
        for start in range(0, count, CHUNK):
            rows = []
            for i in range(start, min(count, start + CHUNK)):
                name = f"{rng.choice(FIRST)} {rng.choice(SECOND)} {i}"
                city = rng.choice(CITIES)
                tax_id = f"RO{rng.randrange(10**7):07d}"
                rows.append(
                    dict(
                        name=name,
                        name_key=search_key(name),
                        city=city,
                        city_key=search_key(city),
                        tax_id=tax_id,
                        tax_id_key=search_key(tax_id),
                        billing_address="1 Bench Street",
                        is_active=i % 10 != 0,
                        created_at=now,
                    )
                )
            db.session.execute(insert(Organization), rows)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def _time(call, runs: int) -> tuple[float, float, int]:
    timings, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), max(timings), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a scratch database (EMPTIED); default: a temporary SQLite file")
    parser.add_argument("--organizations", type=int, default=ORGANIZATIONS)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench_search.db"
    app = prepare_database(url)
    info = seed_tickets(app, args.tickets)
    seed_organizations(app, args.organizations)

    from sqlalchemy import select

    from portal.access.staff import staff_organizations_query, staff_tickets_query
    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.domains.customers.organizations import list_organizations
    from portal.domains.identity.models import StaffUser
    from portal.domains.service_desk import queue

    with app.app_context():
        admin = db.session.scalar(select(StaffUser).where(StaffUser.role == "admin").limit(1))
        engine = db.engine.dialect.name
        print(f"{engine}: {args.organizations} organizations, {args.tickets} tickets, {args.runs} runs each")
        base = staff_organizations_query(admin)
        for query in ("dental", "Campus", "north", "4417", "ştefan", "harbor dental 12", "zzqx", ""):
            median, slowest, found = _time(lambda q=query: len(list_organizations(base, q).organizations), args.runs)
            print(f"  organizations q={query!r:22} median {median:7.1f} ms  max {slowest:7.1f} ms  rows {found}")
        tickets = staff_tickets_query(admin)
        now = utcnow()
        for query in ("boiler", "unit 99", "zzqx", info.get("organization_prefix", ""), str(info.get("a_number", ""))):
            filters = queue.QueueFilters(q=query, status="all")
            median, slowest, found = _time(
                lambda f=filters: len(queue.list_tickets(tickets, f, admin, now).tickets), args.runs
            )
            print(f"  tickets       q={query!r:22} median {median:7.1f} ms  max {slowest:7.1f} ms  rows {found}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
