#!/usr/bin/env python
"""The ticket queue at 100,000 tickets: seed fast, then time it. Used by ``scripts/bench.py``
(step 6) and runnable by hand to time the queries while working on them:

    python scripts/bench_tickets.py                       # a throw-away SQLite database
    python scripts/bench_tickets.py --database-url postgresql://postgres@127.0.0.1:5432/scratch
    python scripts/bench_tickets.py --explain             # plus each page's SQL plans

``--database-url`` is EMPTIED first (schema dropped, ``flask db upgrade``): give it a
scratch database. A report, not a test: it prints the median and 90th percentile
server time (Flask test client, in process) of each page, beside a bare Flask route
timed the same way.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TICKETS = 100_000
ORGANIZATIONS = 20
CONTACTS_PER_ORGANIZATION = 3
CHUNK = 5_000
BUDGET_MS = 100.0
PASSWORD = "bench-password-not-secret"
WORDS = ("Leaking", "Broken", "Noisy", "Cold", "Blocked", "Flickering", "Cracked", "Missing", "Loose", "Stuck")
THINGS = ("boiler", "tap", "gate", "window", "drain", "light", "door", "roof tile", "sprinkler", "fence")


def seed_tickets(app, count: int = TICKETS, admin_email: str | None = None) -> dict:
    """``count`` tickets over a year, on a few organizations and contacts, in bulk
    inserts of ``CHUNK`` rows (seconds, not minutes): 70% closed, 20% open, 10%
    waiting; every priority; some assigned; due times as the SLA would set them.
    Returns what the timings need (who to sign in as, what to search for)."""
    from sqlalchemy import insert, select

    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.core.queries.search import search_key
    from portal.domains.customers.models import Contact, Organization, organization_team
    from portal.domains.identity import staff as accounts
    from portal.domains.identity.models import StaffUser
    from portal.domains.service_desk.models import IssueType, Sla, Ticket, TicketState, TicketStatus

    rng = random.Random(4)
    with app.app_context():
        admin = (
            db.session.scalar(select(StaffUser).where(StaffUser.email == admin_email))
            if admin_email
            else accounts.create_staff("queue-admin@bench.example", "Queue Admin", PASSWORD, role="admin")
        )
        technician = accounts.create_staff("queue-tech@bench.example", "Queue Tech", PASSWORD, role="technician")
        staff = [admin, technician] + [
            accounts.create_staff(f"queue-staff{i}@bench.example", f"Staff {i}", PASSWORD, role="manager")
            for i in range(4)
        ]
        organizations = [
            Organization(name=f"{name} Property Group")
            for name in (
                "Acme",
                "Birch",
                "Cedar",
                "Dover",
                "Elm",
                "Fir",
                "Grove",
                "Heath",
                "Ivy",
                "Juniper",
                "Kestrel",
                "Larch",
                "Maple",
                "Nettle",
                "Oak",
                "Pine",
                "Quince",
                "Rowan",
                "Spruce",
                "Teak",
            )[:ORGANIZATIONS]
        ]
        db.session.add_all(organizations)
        db.session.flush()
        # The technician is on two customers' account team: a tenth of the queue.
        db.session.execute(
            organization_team.insert(),
            [{"organization_id": organizations[i].id, "staff_id": technician.id} for i in (0, 1)],
        )
        contacts = []
        for org in organizations:
            for n in range(CONTACTS_PER_ORGANIZATION):
                contacts.append(
                    Contact(
                        organization_id=org.id,
                        first_name=("Ana", "Ben", "Cleo")[n],
                        last_name=f"{org.name.split()[0]}son",
                        email=f"{('ana', 'ben', 'cleo')[n]}@{org.name.split()[0].lower()}.example",
                        portal_level="organization",
                    )
                )
        db.session.add_all(contacts)
        kinds = [IssueType(name=name) for name in ("Plumbing", "Electrical", "Grounds")]
        db.session.add_all(kinds)
        db.session.flush()
        statuses = {
            state: db.session.scalars(
                select(TicketStatus).where(TicketStatus.state == state).order_by(TicketStatus.position)
            ).all()
            for state in TicketState.ALL
        }
        sla_id = db.session.scalar(select(Sla.id).where(Sla.is_default.is_(True)))
        now = utcnow()
        start = now - timedelta(days=365)
        step = timedelta(days=365) / count
        rows = []
        started = time.perf_counter()
        for i in range(count):
            contact = contacts[i % len(contacts)]
            created = start + step * i
            roll = rng.random()
            state = TicketState.CLOSED if roll < 0.7 else TicketState.OPEN if roll < 0.9 else TicketState.WAITING
            status = statuses[state][i % len(statuses[state])]
            answered = state != TicketState.OPEN or i % 2 == 0
            title = f"{WORDS[i % len(WORDS)]} {THINGS[(i // 10) % len(THINGS)]} at unit {i % 997}"
            rows.append(
                {
                    "organization_id": contact.organization_id,
                    "contact_id": contact.id,
                    "title": title,
                    "title_key": search_key(title),
                    "description": "Seeded for the benchmark.",
                    "issue_type_id": kinds[i % 3].id,
                    "priority": rng.choices(("low", "normal", "high", "urgent"), (20, 50, 20, 10))[0],
                    "status_id": status.id,
                    "state": state,
                    "sla_id": sla_id,
                    "assignee_id": None if i % 4 == 0 else staff[i % len(staff)].id,
                    "first_response_due_at": created + timedelta(hours=2),
                    "resolution_due_at": None if state == TicketState.WAITING else created + timedelta(hours=16),
                    "waiting_since": created + timedelta(hours=3) if state == TicketState.WAITING else None,
                    "first_response_at": created + timedelta(minutes=rng.randint(5, 240)) if answered else None,
                    "closed_at": created + timedelta(hours=rng.randint(1, 48)) if state == TicketState.CLOSED else None,
                    "created_at": created,
                    "updated_at": min(now, created + timedelta(minutes=rng.randint(0, 4000))),
                }
            )
            if len(rows) == CHUNK:
                db.session.execute(insert(Ticket), rows)
                rows = []
        if rows:
            db.session.execute(insert(Ticket), rows)
        db.session.commit()
        seconds = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                from sqlalchemy import text

                conn.execute(text("ANALYZE"))
        else:
            from sqlalchemy import text

            db.session.execute(text("ANALYZE"))
            db.session.commit()
        info = {
            "admin_email": admin.email,
            "technician_email": technician.email,
            "seconds": seconds,
            "portal_contact": contacts[0].id,
            "portal_epoch": contacts[0].portal_epoch,
            "organization_prefix": organizations[5].name[:4].lower(),
            "count": count,
            "a_number": f"T-{count // 2:06d}",
        }
        db.session.remove()
    return info


def queue_paths(info: dict) -> list[tuple[str, str, str]]:
    """(label, who, path): the admin queue as the issue asks (first page, a search, a
    filter) and more, and the portal ticket list."""
    return [
        ("queue: first page", "admin", "/admin/tickets/"),
        ("queue: search a title word", "admin", "/admin/tickets/?q=boiler"),
        ("queue: search, no match", "admin", "/admin/tickets/?q=zzqx"),
        ("queue: search an org prefix", "admin", f"/admin/tickets/?q={info['organization_prefix']}"),
        ("queue: search a number", "admin", f"/admin/tickets/?q={info['a_number']}"),
        ("queue: filter urgent+unassigned", "admin", "/admin/tickets/?priority=urgent&assignee=unassigned"),
        ("queue: filter SLA breached", "admin", "/admin/tickets/?sla=breached"),
        ("queue: filter due soon", "admin", "/admin/tickets/?sla=due_soon&status=all"),
        ("queue: all statuses, oldest", "admin", "/admin/tickets/?status=all&sort=oldest"),
        ("queue: sort by priority", "admin", "/admin/tickets/?sort=priority"),
        ("queue: sort resolution due", "admin", "/admin/tickets/?sort=resolution_due"),
        ("queue: sort last updated", "admin", "/admin/tickets/?sort=updated"),
        ("queue: technician (2 of 20 orgs)", "technician", "/admin/tickets/"),
        ("portal: ticket list (org level)", "contact", "/tickets"),
    ]


def _login(client, email: str) -> None:
    response = client.post("/admin/login", data={"email": email, "password": PASSWORD})
    if response.status_code != 303:
        raise RuntimeError(f"admin login answered {response.status_code}")


def _median_ms(client, path: str, requests: int) -> tuple[float, float, int, str]:
    for _ in range(2):  # warm-up: templates, caches
        response = client.get(path)
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return (
        statistics.median(timings),
        timings[int(0.9 * (len(timings) - 1))],
        response.status_code,
        response.get_data(as_text=True),
    )


def time_in_process(app, info: dict, requests: int = 30, explain: bool = False) -> list[dict]:
    """Median and p90 server time per page with the Flask test client, plus a bare
    Flask route timed the same way (the reference)."""
    from sqlalchemy import event

    from portal.core.extensions import db

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_bare import app as bare_app

    app.config.update(RATELIMIT_ENABLED=False, WTF_CSRF_ENABLED=False)
    clients = {"admin": app.test_client(), "technician": app.test_client(), "contact": app.test_client()}
    _login(clients["admin"], info["admin_email"])
    _login(clients["technician"], info["technician_email"])
    from bench import _portal_session

    with clients["contact"].session_transaction() as session:
        session["portal"] = _portal_session(app, info)
    results = []
    median, p90, _status, _html = _median_ms(bare_app.test_client(), "/", requests)
    results.append({"label": "bare Flask route (reference)", "median": median, "p90": p90, "rows": None, "status": 200})
    paths = list(queue_paths(info))
    first = clients["admin"].get("/admin/tickets/").get_data(as_text=True)
    found = re.search(r'id="next-page" href="([^"]+)"', first)
    if found:
        paths.insert(1, ("queue: next page (keyset)", "admin", found.group(1).replace("&amp;", "&")))
    if "tickets.index" not in app.view_functions:
        paths = [p for p in paths if p[1] != "contact"]
    with app.app_context():
        engine = db.engine
    for label, who, path in paths:
        median, p90, status, html = _median_ms(clients[who], path, requests)
        rows = (
            len(re.findall(r'<tr id="ticket-\d+"', html))
            if who != "contact"
            else len(re.findall(r'href="/tickets/\d+"', html))
        )
        results.append({"label": label, "median": median, "p90": p90, "rows": rows, "status": status, "path": path})
        if explain and who != "contact":
            statements: list = []

            def before(conn, cursor, statement, parameters, context, executemany, into=statements):
                into.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", before)
            try:
                clients[who].get(path)
            finally:
                event.remove(engine, "before_cursor_execute", before)
            _explain(app, label, statements)
    return results


def _explain(app, label: str, statements) -> None:
    from portal.core.extensions import db

    print(f"\n--- {label}")
    with app.app_context():
        conn = db.session.connection()
        prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
        for statement, parameters in statements:
            if "tickets" not in statement or not statement.lstrip().upper().startswith("SELECT"):
                continue
            print(" ".join(statement.split())[:300])
            cursor = conn.connection.cursor()
            cursor.execute(prefix + statement, parameters)
            for row in cursor.fetchall():
                print("    ", " ".join(str(x) for x in row))
            cursor.close()
        db.session.remove()


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


def prepare_database(url: str):
    """An app on ``url`` with an empty, migrated schema."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal import create_app
    from portal.core.extensions import db

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False, "MAIL_SERVER": None}
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a scratch database (EMPTIED); default: a temporary SQLite file")
    parser.add_argument("--tickets", type=int, default=TICKETS)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--explain", action="store_true", help="print the plan of each page's ticket queries")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="porchlight-tickets-"))
    url = args.database_url or f"sqlite:///{workdir / 'tickets.db'}"
    app = prepare_database(url)
    info = seed_tickets(app, args.tickets)
    print(f"seeded {info['count']:,} tickets in {info['seconds']:.1f} s ({url.split(':')[0]})")
    results = time_in_process(app, info, args.requests, args.explain)
    print_results(results, url.split(":")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
