"""The suite in parallel (pytest-xdist): ``dev.py test`` runs 2 workers unless told
otherwise, and on PostgreSQL each worker has its own database (``tests/conftest.py``)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import conftest

ROOT = Path(__file__).resolve().parent.parent


def _dev():
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("args", "added"),
    [
        ([], ["-n", "2", "--dist", "worksteal"]),
        (["-k", "signing", "-p", "no:cacheprovider"], ["-n", "2", "--dist", "worksteal"]),
        (["--dist", "load"], ["-n", "2"]),
        (["-n", "0"], []),
        (["-n4"], []),
        (["--numprocesses=3"], []),
        (["-p", "no:xdist"], []),
        (["--pdb"], []),
        (["-s", "tests/test_smoke.py"], []),
    ],
)
def test_dev_test_runs_two_workers_unless_the_arguments_choose(monkeypatch, args, added):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    assert _dev().xdist_args(args) == added


def test_dev_test_respects_workers_chosen_in_pytest_addopts(monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-n 1")
    assert _dev().xdist_args([]) == []


def test_without_xdist_the_test_database_is_the_one_given(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://postgres@db.example.test/test")
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert conftest.worker_database_url() == "postgresql://postgres@db.example.test/test"


def test_on_sqlite_every_worker_keeps_its_own_temporary_file(monkeypatch):
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert conftest.worker_database_url() is None  # make_app then makes a file under the worker's tmp dir


@pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgres"), reason="needs TEST_DATABASE_URL"
)
def test_a_postgresql_worker_gets_its_own_database_made_on_first_use(monkeypatch):
    given = os.environ["TEST_DATABASE_URL"]
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gwcheck")
    monkeypatch.setattr(conftest, "_WORKER_DATABASES", {})
    name = f"{make_url(given).database}_gwcheck"
    admin = create_engine(make_url(given).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        url = conftest.worker_database_url()
        assert make_url(url).database == name and conftest.worker_database_url() == url
        monkeypatch.setattr(conftest, "_WORKER_DATABASES", {})
        assert conftest.worker_database_url() == url  # already there: used as it is
        with admin.connect() as conn:
            assert conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar() == 1
            conn.execute(text(f'DROP DATABASE "{name}"'))
    finally:
        admin.dispose()
