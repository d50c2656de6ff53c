"""The app for a real ``flask worker`` subprocess in the tests: the portal app on the
database named by ``PORCHLIGHT_TEST_DB``, a short job lease, and the test handlers."""

from __future__ import annotations

import os

from portal import create_app
from tests.jobs import handlers as _handlers  # noqa: F401


def create():
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["PORCHLIGHT_TEST_DB"],
            "JOBS_LEASE_SECONDS": float(os.environ.get("PORCHLIGHT_TEST_LEASE", "2")),
            "MAIL_SERVER": None,
            "SECRET_KEY": "test-secret",
        }
    )
