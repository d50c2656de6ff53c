"""Job handlers for the tests, registered on import (also by the worker subprocess)."""

from __future__ import annotations

import time
from pathlib import Path

from portal.jobs import job

CALLS: list[str] = []


@job("test.record")
def record(label: str) -> None:
    CALLS.append(label)


@job("test.fail")
def fail(label: str) -> None:
    CALLS.append(label)
    raise RuntimeError(f"{label} broke")


def noted_dead(label: str) -> None:
    CALLS.append(f"dead {label}")


def broken_hook(label: str) -> None:
    CALLS.append(f"hook {label}")
    raise RuntimeError("the hook broke too")


@job("test.fail_noted", on_dead=noted_dead)
def fail_noted(label: str) -> None:
    CALLS.append(label)
    raise RuntimeError(f"{label} broke")


@job("test.record_noted", on_dead=noted_dead)
def record_noted(label: str) -> None:
    CALLS.append(label)


@job("test.fail_bad_hook", on_dead=broken_hook)
def fail_bad_hook(label: str) -> None:
    raise RuntimeError(f"{label} broke")


@job("test.sleep")
def sleep(label: str, seconds: float) -> None:
    CALLS.append(f"start {label}")
    time.sleep(seconds)
    CALLS.append(f"end {label}")


@job("test.slow_once")
def slow_once(folder: str, seconds: float) -> None:
    """Idempotent: the first run sleeps (to be killed); a run finds ``done`` and stops."""
    root = Path(folder)
    with open(root / "starts", "a") as handle:
        handle.write("start\n")
    if (root / "done").exists():
        return
    if (root / "starts").read_text().count("start") == 1:
        time.sleep(seconds)
    with open(root / "done", "a") as handle:
        handle.write("done\n")
