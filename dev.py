#!/usr/bin/env python3
"""The README's two commands, needing nothing but Python 3.11+.

    python3 dev.py run     install into .venv, migrate, seed demo data, start the app and its worker
    python3 dev.py test    install into .venv (with test extras) and run the whole suite
    python3 dev.py lint    ruff and the import-linter contracts (CI runs it)

Anything after ``test`` goes to pytest (``python3 dev.py test -k signing``). The suite
runs in 2 processes (pytest-xdist ``-n 2 --dist worksteal``) unless the arguments choose
(``-n 1``, ``-n 0``, ``-p no:xdist``, ``--pdb``); on PostgreSQL each process gets its own
database beside ``TEST_DATABASE_URL`` (``<name>_gw0``, ``<name>_gw1``, made on first use).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PORCHLIGHT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def sh(*args: str, env: dict | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT, env=env)


def install(extras: str = "") -> None:
    if sys.version_info < (3, 11):
        sys.exit("Porchlight needs Python 3.11 or newer.")
    if not PY.exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed{extras}"
    project = ROOT / "pyproject.toml"
    if not stamp.exists() or stamp.stat().st_mtime < project.stat().st_mtime:
        sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        sh(PY, "-m", "pip", "install", "--quiet", "-e", f".{extras}")
        stamp.touch()


def flask(*args: str, env: dict | None = None) -> None:
    sh(BIN / "flask", "--app", "portal", *args, env=env)


def run() -> None:
    install()
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "5000")
    env = dict(os.environ)
    env.setdefault("BASE_URL", f"http://{host}:{port}")
    flask("db", "upgrade", env=env)
    # The seal of signed-proposal certificates: made once (idempotent), kept in instance/seal/.
    flask("evidence", "create-seal-key", env=env)
    flask("seed-demo", env=env)
    print("Starting Porchlight and its background worker; press Ctrl+C to stop.", flush=True)
    # The worker (mail, SLA breaches, every scheduled job) runs beside the web server,
    # so the demo needs no extra step; Ctrl+C stops both.
    worker = subprocess.Popen([str(BIN / "flask"), "--app", "portal", "worker"], cwd=ROOT, env=env)
    try:
        flask("run", "--host", host, "--port", port, env=env)
    except (KeyboardInterrupt, subprocess.CalledProcessError):
        pass
    finally:
        stop_child(worker)


def stop_child(process: subprocess.Popen, timeout: float = 20) -> None:
    """Ask a child to stop (it finishes the job in hand), then insist."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def find_chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


def ensure_chromium() -> None:
    """Browser tests use Debian's Chromium; install it when we can (root with apt)."""
    if find_chromium():
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("Installing Debian's chromium for the browser tests", flush=True)
        result = subprocess.run(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium", shell=True
        )
        if result.returncode == 0:
            return
    print("No Chromium found: browser tests will be skipped (set REQUIRE_BROWSER=1 to make that an error).", flush=True)


# Two processes: CI and the shared development machine have 2 cores. ``worksteal``
# rather than ``load``: at the end an idle worker takes half of the other's queue
# instead of waiting for it, and tests marked ``slow`` are handed out first
# (tests/conftest.py), so no worker is left alone with a long one. The suite needs no
# ``xdist_group`` (each worker has its own database, temporary directory, ports, seal key).
WORKERS = ["-n", "2"]
DIST = ["--dist", "worksteal"]
SINGLE_PROCESS = {"--pdb", "--trace", "-s", "--capture=no", "--collect-only", "--co"}


def xdist_args(args: list[str]) -> list[str]:
    """``-n 2 --dist worksteal`` unless the caller chose the processes or needs one (a debugger, -s)."""
    words = [*args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
    if "no:xdist" in words or "-pno:xdist" in words or SINGLE_PROCESS.intersection(words):
        return []
    if any(w in ("-n", "--numprocesses") or w.startswith(("-n", "--numprocesses=")) for w in words):
        return []
    if any(w == "--dist" or w.startswith("--dist=") for w in words):
        return WORKERS
    return WORKERS + DIST


def test(args: list[str]) -> None:
    install("[test]")
    ensure_chromium()
    env = dict(os.environ)
    if find_chromium():
        env.setdefault("CHROMIUM_PATH", find_chromium())
    result = subprocess.run([str(PY), "-m", "pytest", *xdist_args(args), *args], cwd=ROOT, env=env)
    sys.exit(result.returncode)


def lint() -> None:
    """ruff (lint and format check) and the import-linter contracts of pyproject.toml."""
    install("[test]")
    paths = ["portal", "admin", "tests", "scripts", "migrations", "dev.py"]
    sh(BIN / "ruff", "check", *paths)
    sh(BIN / "ruff", "format", "--check", *paths)
    sh(BIN / "lint-imports")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "bench", "lint"}:
        sys.exit(__doc__)
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "run":
        run()
    elif command == "test":
        test(rest)
    elif command == "lint":
        lint()
    else:
        install("[test]")
        sys.exit(subprocess.run([str(PY), "scripts/bench.py", *rest], cwd=ROOT).returncode)


if __name__ == "__main__":
    main()
