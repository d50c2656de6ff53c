"""kill -9 of a real worker process in the middle of a campaign run: the chunk it was
making rolls back whole, the next worker takes it again after its lease, and every
property ends with exactly one opportunity and one proposal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from portal.core.extensions import db
from portal.domains.campaigns.models import CampaignStatus
from portal.domains.proposals.models import Proposal
from portal.domains.sales.models import Opportunity
from tests.campaign_factories import campaign_state, customer, make_contract, make_property, start

ROOT = Path(__file__).resolve().parents[3]


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _worker(app, tmp_path: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        PORCHLIGHT_TEST_DB=app.config["SQLALCHEMY_DATABASE_URI"],
        PORCHLIGHT_TEST_LEASE="2",
        PORCHLIGHT_TEST_CHUNK="2",
        PORCHLIGHT_TEST_CALLS=str(tmp_path / "calls"),
        PYTHONPATH=str(ROOT),
    )
    with (tmp_path / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "tests.domains.campaigns.worker_app:create",
                "worker",
                "--idle",
                "0.2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        opportunities = db.session.scalar(select(func.count()).select_from(Opportunity))
        proposals = db.session.scalar(select(func.count()).select_from(Proposal))
        db.session.remove()
        return opportunities, proposals


def test_a_worker_killed_mid_run_loses_nothing_and_makes_nothing_twice(app, make, tmp_path):
    manager = make.staff(role="manager")
    service = make.catalog_item("Aeration", "100.00")
    org = customer(app, make, "Killed Customer")
    for _ in range(6):
        make_contract(app, org, make_property(app, org), service.id, "90.00")
    campaign_id = start(app, manager.id, service.id, name="Killed run")
    first = _worker(app, tmp_path)
    try:
        # The second chunk is written and sleeping, uncommitted: kill -9 there.
        assert _wait_for(lambda: (tmp_path / "calls").exists() and (tmp_path / "calls").read_text().count("chunk") == 2)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    state = campaign_state(app, campaign_id)
    assert state.status == CampaignStatus.RUNNING and state.made_count == 2  # the first chunk, committed
    assert _counts(app) == (2, 2)  # the killed chunk left nothing behind
    second = _worker(app, tmp_path)
    try:
        assert _wait_for(lambda: campaign_state(app, campaign_id).status == CampaignStatus.DONE)
    finally:
        _stop(second)
    state = campaign_state(app, campaign_id)
    assert (state.made_count, state.skipped_count, state.failed_count) == (6, 0, 0)
    assert _counts(app) == (6, 6)
    with app.app_context():
        per_contract = db.session.execute(
            select(Opportunity.contract_id, func.count()).group_by(Opportunity.contract_id)
        ).all()
        assert len(per_contract) == 6 and {n for _c, n in per_contract} == {1}
