#!/usr/bin/env python
"""Assign 10,000 new opportunities by a round-robin rule (issue 9's figure: under 5 s),
and print the counts per rep. A report, not a test.

    python scripts/bench_sales_assign.py [--count 10000] [--reps 50] [--batch 500]
                                         [--pg postgresql://.../scratch]

A throw-away SQLite instance (``flask db upgrade``), or with ``--pg`` that PostgreSQL
database (EMPTIED first). 50 reps share one team and one round-robin rule; the
opportunities are created and assigned by the batch path a background import (and the
campaign run) takes, a batch per transaction: ``plan_assignments`` picks the reps from
plain facts (the rule's lock and ledger), the rows go in with one bulk INSERT
(``portal.core.bulk``), and ``write_assignments`` adds the timeline entries and one
mail per new owner per batch. (``assign_owners``, the same two steps for ORM records
already flushed, is what the tests hold to the rules.)
``scripts/bench_sales.py`` calls ``run`` for its table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUDGET_SECONDS = 5.0


def _app(url: str | None):
    from sqlalchemy import text

    from portal import create_app
    from portal.core.extensions import db

    instance = tempfile.mkdtemp(prefix="porchlight-bench-assign-")
    uri = url or f"sqlite:///{instance}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
    return app


COLUMNS = (
    "title",
    "label_key",
    "type_id",
    "stage_id",
    "outcome",
    "amount",
    "currency",
    "rep_id",
    "created_at",
    "updated_at",
)


def run(app, count: int = 10_000, reps: int = 50, batch: int = 500) -> tuple[float, Counter]:
    """Seconds to create and assign ``count`` opportunities, and the counts per rep name."""
    from sqlalchemy import select

    from portal.core.bulk import insert_rows
    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.domains.identity.models import StaffUser
    from portal.domains.identity.staff import hash_password
    from portal.domains.sales.assignment import Facts, Target, plan_assignments, write_assignments
    from portal.domains.sales.models import Opportunity, OpportunityType, Stage
    from portal.domains.sales.models_rules import AssignmentRule, RuleTarget, SalesTeam, SalesTeamMember
    from portal.domains.timeline.models import Subject

    with app.app_context():
        password = hash_password("bench-password")
        people = [
            StaffUser(email=f"rr{i}@bench.test", name=f"Rep {i:02d}", password_hash=password, role="sales")
            for i in range(reps)
        ]
        db.session.add_all(people)
        db.session.flush()
        team = SalesTeam(name="Bench team", members=[SalesTeamMember(staff_id=p.id, weight=1) for p in people])
        db.session.add(team)
        db.session.flush()
        db.session.add(AssignmentRule(name="Round robin", position=1, team_id=team.id))
        stage_id = db.session.scalar(select(Stage.id).where(Stage.key == "new"))
        type_id = db.session.scalar(select(OpportunityType.id).where(OpportunityType.key == "sales"))
        db.session.commit()
        names = {p.id: p.name for p in people}
        started, cpu_started = time.perf_counter(), time.process_time()
        assigning = 0.0
        got: Counter = Counter()
        now = utcnow()
        for first in range(0, count, batch):
            numbers = range(first, min(first + batch, count))
            # The batch path an import takes: the rules' plan from plain facts, the rows
            # inserted in bulk with their reps, then the write step (timeline, flags, mail).
            facts = [
                Facts(
                    kind=RuleTarget.OPPORTUNITY,
                    source_id=None,
                    type_id=type_id,
                    zone="",
                    city="",
                    amount=Decimal("100.00"),
                    currency="USD",
                )
                for _n in numbers
            ]
            began = time.perf_counter()
            picks = plan_assignments(facts)
            rows = [
                (f"Bench {n}", f"bench {n}", type_id, stage_id, "open", Decimal("100.00"), "USD", pick.rep_id, now, now)
                for n, pick in zip(numbers, picks, strict=True)
            ]
            ids = [row[0] for row in insert_rows(Opportunity.__table__, COLUMNS, rows, returning=("id",))]
            write_assignments(
                [Target(Subject.OPPORTUNITY, i, f"Bench {n}") for i, n in zip(ids, numbers, strict=True)],
                picks,
                reason_context="bench import",
                set_rep=False,
            )
            db.session.commit()
            assigning += time.perf_counter() - began
            got.update(names[pick.rep_id] for pick in picks if pick.rep_id is not None)
        elapsed = time.perf_counter() - started
        # On a shared machine the wall clock includes waiting for a core: say both.
        print(
            f"  (of which assigning and committing: {assigning:.2f} s; CPU time of this process: "
            f"{time.process_time() - cpu_started:.2f} s; load average {os.getloadavg()[0]:.1f})"
        )
        db.session.remove()
    return elapsed, got


def report(label: str, elapsed: float, got: Counter, count: int) -> None:
    verdict = "PASS" if elapsed < BUDGET_SECONDS else "FAIL"
    spread = max(got.values()) - min(got.values()) if got else 0
    print(
        f"{label}: {count} opportunities assigned by round robin in {elapsed:.2f} s (budget {BUDGET_SECONDS} s) {verdict}"
    )
    print(f"  counts per rep (max - min = {spread}): " + ", ".join(f"{name} {n}" for name, n in sorted(got.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL to run on as well (the database is EMPTIED)")
    args = parser.parse_args()
    elapsed, got = run(_app(None), args.count, args.reps, args.batch)
    report("SQLite", elapsed, got, args.count)
    if args.pg:
        elapsed, got = run(_app(args.pg), args.count, args.reps, args.batch)
        report("PostgreSQL", elapsed, got, args.count)


if __name__ == "__main__":
    main()
