"""The app for a real ``flask worker`` subprocess in the campaign kill test: the portal
on ``PORCHLIGHT_TEST_DB``, a short lease, chunks of ``PORCHLIGHT_TEST_CHUNK`` items,
and a chunk handler that, the Nth time any worker calls it, does its work and then
sleeps before returning (so its transaction is open, uncommitted, when the test kills
the process)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from portal import create_app
from portal.domains.campaigns import jobs as _campaign_jobs  # noqa: F401  (registers the real handlers first)
from portal.domains.campaigns import run as runs
from portal.jobs.registry import HANDLERS

runs.CHUNK_SIZE = int(os.environ.get("PORCHLIGHT_TEST_CHUNK", "2"))


def _slow_chunk(campaign_id: int, first_id: int, last_id: int) -> dict:
    result = runs.process_chunk(campaign_id, first_id, last_id)
    calls = Path(os.environ["PORCHLIGHT_TEST_CALLS"])
    with calls.open("a") as handle:
        handle.write("chunk\n")
    if calls.read_text().count("chunk") == int(os.environ.get("PORCHLIGHT_TEST_SLEEP_ON", "2")):
        time.sleep(120)  # killed here: the chunk's rows are written, not committed
    return result


HANDLERS["campaigns.chunk"] = _slow_chunk


def create():
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["PORCHLIGHT_TEST_DB"],
            "JOBS_LEASE_SECONDS": float(os.environ.get("PORCHLIGHT_TEST_LEASE", "2")),
            "MAIL_SERVER": None,
            "SECRET_KEY": "test-secret",
        }
    )
