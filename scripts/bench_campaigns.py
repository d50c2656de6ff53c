#!/usr/bin/env python
"""The Optional Service Opportunity campaign at 10,000 qualifying contracts (issue 10's
figures): the preview under 200 ms; the run, 10,000 opportunities with their draft
proposals, under 5 s on SQLite and on PostgreSQL; a second run of the same campaign
creating 0 in under 2 s. A report, not a test.

    python scripts/bench_campaigns.py [--contracts 10000] [--pg auto|none|postgresql://.../scratch]

A throw-away SQLite instance (``flask db upgrade``), then PostgreSQL: by default a
throw-away database made on the local server (``DEFAULT_PG_SERVER``) and dropped after,
or with ``--pg URL`` that database (EMPTIED first). The contracts are seeded in bulk (each property with its
site contact, 1,000 organizations, 20 reps sharing one round-robin rule); the run is
timed from Run (``start_campaign``, committed) to the campaign marked done, its jobs
run by one worker in this process (``claim_next`` / ``run_claimed``, as ``flask
worker`` does), and reported also as a ratio to a reference measured in the same run
on the same database: the rows it wrote, written again by bare ``INSERT ... SELECT``
(``raw_write_seconds``). ``scripts/bench.py`` calls ``run`` for its table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PREVIEW_BUDGET_MS = 200.0
RUN_BUDGET_SECONDS = 5.0
SECOND_RUN_BUDGET_SECONDS = 2.0
ORGANIZATIONS = 1_000
REPS = 20


# Where ``--pg auto`` (the default of ``bench.py``'s step 7) looks for a PostgreSQL
# server: a throw-away database is made there for the run and dropped after.
DEFAULT_PG_SERVER = os.environ.get("PORCHLIGHT_BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def throwaway_database(server_url: str = DEFAULT_PG_SERVER):
    """A new PostgreSQL database on ``server_url``'s server for one run, dropped after:
    its URL, or None (and a line saying why) when no server answers there."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    server = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"porchlight_bench_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as error:
        print(
            f"PostgreSQL: skipped, no database could be made at {server.render_as_string(hide_password=True)}"
            f" ({type(error.orig or error).__name__}); pass --pg URL (that database is emptied)"
        )
        admin.dispose()
        yield None
        return
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        from portal.core.extensions import db  # the run's engines hold connections to it

        with contextlib.suppress(Exception):
            db.session.remove()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _app(url: str | None):
    from sqlalchemy import text

    from portal import create_app
    from portal.core.extensions import db

    instance = tempfile.mkdtemp(prefix="porchlight-bench-campaigns-")
    uri = url or f"sqlite:///{instance}/bench.db"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False, "MAIL_SERVER": None}
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
    return app


def seed(app, contracts: int) -> tuple[int, int]:
    """``contracts`` active contracts offering one service as optional: (service id, staff id)."""
    from decimal import Decimal

    from sqlalchemy import insert, select

    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.domains.contracts.models import Contract, ContractLine, ContractRevision
    from portal.domains.customers.models import Contact, Organization, Site
    from portal.domains.identity.models import StaffUser
    from portal.domains.identity.staff import hash_password
    from portal.domains.proposals.models import CatalogItem
    from portal.domains.sales.models_rules import AssignmentRule, SalesTeam, SalesTeamMember

    now = utcnow()
    with app.app_context():
        password = hash_password("bench-password")
        runner = StaffUser(email="runner@bench.test", name="Campaign Runner", password_hash=password, role="manager")
        people = [
            StaffUser(email=f"rep{i}@bench.test", name=f"Rep {i:02d}", password_hash=password, role="sales")
            for i in range(REPS)
        ]
        db.session.add_all([runner, *people])
        db.session.flush()
        team = SalesTeam(name="Bench team", members=[SalesTeamMember(staff_id=p.id, weight=1) for p in people])
        db.session.add(team)
        db.session.flush()
        db.session.add(AssignmentRule(name="Round robin", position=1, team_id=team.id))
        service = CatalogItem(code="AER", name="Aeration", unit_price=Decimal("100.00"))
        db.session.add(service)
        db.session.flush()
        db.session.execute(
            insert(Organization.__table__),
            [
                {"name": f"Customer {i:04d}", "name_key": f"customer {i:04d}", "zone": ("North", "South")[i % 2]}
                | {"city": "", "city_key": "", "bill_to_parent": False, "invoice_template": "standard"}
                | {"tax_region": "none", "tax_id": "", "tax_id_key": "", "billing_address": "", "billing_attention": ""}
                | {"is_active": True, "is_supplier": False, "created_at": now}
                for i in range(ORGANIZATIONS)
            ],
        )
        org_ids = db.session.scalars(select(Organization.id).order_by(Organization.id)).all()
        db.session.execute(
            insert(Contact.__table__),
            [
                {
                    "organization_id": org_ids[n % len(org_ids)],
                    "first_name": "Site",
                    "last_name": f"Contact {n}",
                    "email": f"site{n}@bench.test",
                    "timezone": "UTC",
                    "is_active": True,
                    "portal_enabled": True,
                    "portal_level": "requester",
                    "portal_epoch": 1,
                    "is_primary": False,
                    "title": "",
                    "created_at": now,
                }
                for n in range(contracts)
            ],
        )
        contact_ids = db.session.scalars(select(Contact.id).order_by(Contact.id)).all()
        db.session.execute(
            insert(Site.__table__),
            [
                {
                    "organization_id": org_ids[n % len(org_ids)],
                    "name": f"Property {n}",
                    "address": "",
                    "zone": "",
                    "notes": "",
                    "site_contact_id": contact_ids[n],
                    "is_active": True,
                    "created_at": now,
                }
                for n in range(contracts)
            ],
        )
        site_ids = db.session.scalars(select(Site.id).order_by(Site.id)).all()
        db.session.execute(
            insert(Contract.__table__),
            [
                {
                    "number": f"C-{n:06d}",
                    "organization_id": org_ids[n % len(org_ids)],
                    "site_id": site_ids[n],
                    "title": "Grounds care",
                    "status": "active",
                    "billing_cycle": "monthly",
                    "currency": "USD",
                    "starts_on": date(2026, 1, 1),
                    "ends_on": date(2027, 12, 31),
                    "notes": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(contracts)
            ],
        )
        contract_ids = db.session.scalars(select(Contract.id).order_by(Contract.id)).all()
        db.session.execute(
            insert(ContractRevision.__table__),
            [
                {"contract_id": c, "number": 0, "included_total": Decimal("0"), "note": "", "created_at": now}
                for c in contract_ids
            ],
        )
        revisions = dict(db.session.execute(select(ContractRevision.contract_id, ContractRevision.id)).all())
        db.session.execute(
            insert(ContractLine.__table__),
            [
                {
                    "revision_id": revisions[c],
                    "kind": "optional",
                    "service_id": service.id,
                    "description": "Core aeration",
                    "quantity": Decimal("1"),
                    "unit_price": Decimal(100 + n % 50),
                    "position": 1,
                }
                for n, c in enumerate(contract_ids)
            ],
        )
        from sqlalchemy import bindparam, update

        table = Contract.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("c")).values(current_revision_id=bindparam("r")),
            [{"c": c, "r": revisions[c]} for c in contract_ids],
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # Fresh bulk-loaded tables have no statistics until autovacuum's next visit.
            from sqlalchemy import text

            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        return service.id, runner.id


def _drain(app) -> int:
    from portal.core.extensions import db
    from portal.jobs import queue

    ran = 0
    with app.app_context():
        while True:
            job_id = queue.claim_next("bench-worker")
            if job_id is None:
                return ran
            queue.run_claimed(job_id, "bench-worker")
            db.session.remove()
            ran += 1


def run(app, contracts: int = 10_000) -> dict:
    """Seed, then time the preview, the run and a second run: a dict of figures."""
    from portal.cli import load_jobs
    from portal.core.extensions import db
    from portal.domains.campaigns.models import Campaign
    from portal.domains.campaigns.operations import CampaignInput, rerun_campaign, start_campaign
    from portal.domains.campaigns.preview import Filters, preview
    from portal.domains.identity.models import StaffUser

    load_jobs()
    service_id, runner_id = seed(app, contracts)
    figures: dict = {}
    with app.app_context():
        preview(Filters(service_id=service_id))  # warm the connection and the plan
        times = []
        for _ in range(3):
            began = time.perf_counter()
            found = preview(Filters(service_id=service_id))
            times.append((time.perf_counter() - began) * 1000)
        figures["preview_ms"] = min(times)
        figures["preview_count"] = found.count
        db.session.remove()
    with app.app_context():
        began, cpu = time.perf_counter(), time.process_time()
        campaign = start_campaign(
            db.session.get(StaffUser, runner_id), CampaignInput(name="Bench aeration", service_id=service_id)
        )
        db.session.commit()
        campaign_id = campaign.id
        db.session.remove()
    jobs = _drain(app)
    figures["run_seconds"] = time.perf_counter() - began
    figures["run_cpu_seconds"] = time.process_time() - cpu
    figures["run_jobs"] = jobs
    with app.app_context():
        state = db.session.get(Campaign, campaign_id)
        figures["made"], figures["status"] = state.made_count, state.status
        db.session.remove()
    with app.app_context():
        began = time.perf_counter()
        state = db.session.get(Campaign, campaign_id)
        rerun_campaign(db.session.get(StaffUser, runner_id), state, state.run_count)
        db.session.commit()
        db.session.remove()
    _drain(app)
    figures["second_run_seconds"] = time.perf_counter() - began
    with app.app_context():
        state = db.session.get(Campaign, campaign_id)
        figures["second_made"] = state.made_count - figures["made"]
        db.session.remove()
    figures["raw_seconds"] = raw_write_seconds(app, campaign_id)
    return figures


def raw_write_seconds(app, campaign_id: int) -> float:
    """The reference of the same run: the database's own cost of the rows a run writes,
    with none of the run's work around them. The campaign's opportunities, their item
    lines, proposals, proposal lines and timeline entries are copied by one
    ``INSERT ... SELECT`` per table (same indexes, same foreign keys; the copies lost
    and renumbered so no unique key refuses them), and its items updated once, in one
    transaction that is rolled back. Best of three."""
    from sqlalchemy import text

    from portal.core.extensions import db

    def copy(table: str, where: str, changed: dict[str, str]) -> str:
        columns = [c.name for c in db.metadata.tables[table].columns if c.name != "id"]
        values = ", ".join(changed.get(c, c) for c in columns)
        return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} WHERE {where}"

    mine = f"campaign_id = {int(campaign_id)}"
    opportunities = f"opportunity_id IN (SELECT id FROM opportunities WHERE {mine})"
    proposals = f"proposal_id IN (SELECT id FROM proposals WHERE {opportunities})"
    statements = [
        copy("opportunities", mine, {"outcome": "'lost'"}),
        copy("opportunity_lines", opportunities, {}),
        copy("proposals", opportunities, {"revision": "revision + 1000"}),
        copy("proposal_lines", proposals, {}),
        copy("timeline_entries", "created_at >= (SELECT started_at FROM campaigns WHERE id = :c)", {}),
        f"UPDATE campaign_items SET processed_at = processed_at WHERE {mine}",
    ]
    best = float("inf")
    with app.app_context():
        for _ in range(3):
            with db.engine.connect() as conn:
                began = time.perf_counter()
                with conn.begin() as transaction:
                    for statement in statements:
                        conn.execute(text(statement), {"c": campaign_id})
                    elapsed = time.perf_counter() - began
                    transaction.rollback()
            best = min(best, elapsed)
        db.session.remove()
    return best


def report(label: str, figures: dict, contracts: int) -> None:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print(
        f"{label}: preview of {figures['preview_count']} qualifying contracts in {figures['preview_ms']:.0f} ms"
        f" (budget {PREVIEW_BUDGET_MS:.0f} ms) {verdict(figures['preview_ms'] < PREVIEW_BUDGET_MS)}"
    )
    print(
        f"{label}: run made {figures['made']} opportunities with their proposals in {figures['run_seconds']:.2f} s"
        f" ({figures['run_jobs']} jobs, {figures['run_cpu_seconds']:.2f} s CPU in this process;"
        f" budget {RUN_BUDGET_SECONDS} s)"
        f" {verdict(figures['run_seconds'] < RUN_BUDGET_SECONDS and figures['made'] == contracts)}"
    )
    print(
        f"{label}: reference, the same rows written by bare INSERT ... SELECT: {figures['raw_seconds']:.2f} s;"
        f" the run is {figures['run_seconds'] / figures['raw_seconds']:.1f}x that"
    )
    print(
        f"{label}: second run made {figures['second_made']} in {figures['second_run_seconds']:.2f} s"
        f" (budget {SECOND_RUN_BUDGET_SECONDS} s)"
        f" {verdict(figures['second_run_seconds'] < SECOND_RUN_BUDGET_SECONDS and figures['second_made'] == 0)}"
    )
    print(f"  (load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument(
        "--pg",
        default="auto",
        help="a PostgreSQL URL to run on as well (the database is EMPTIED); 'auto' (the default): a"
        f" throw-away database on {DEFAULT_PG_SERVER} (PORCHLIGHT_BENCH_PG_SERVER), dropped after; 'none': SQLite only",
    )
    args = parser.parse_args()
    report("SQLite", run(_app(None), args.contracts), args.contracts)
    if args.pg == "auto":
        with throwaway_database() as url:
            if url:
                report("PostgreSQL", run(_app(url), args.contracts), args.contracts)
    elif args.pg != "none":
        report("PostgreSQL", run(_app(args.pg), args.contracts), args.contracts)


if __name__ == "__main__":
    main()
