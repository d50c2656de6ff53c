"""Job handlers and the periodic schedule, declared in code.

``@job("name")`` registers a handler; ``@periodic("name", every=timedelta(...))``
registers one and puts it on the worker's schedule. A handler takes the job's payload
as keyword arguments, runs inside an app context, and must be idempotent: a worker
killed mid-run means the job runs again once its lease runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

HANDLERS: dict[str, Callable[..., object]] = {}


@dataclass(frozen=True)
class Periodic:
    name: str
    every: timedelta


SCHEDULE: dict[str, Periodic] = {}


def job(name: str):
    """Register ``handler`` under ``name`` (a job's ``name`` column)."""

    def register(handler: Callable[..., object]):
        HANDLERS[name] = handler
        return handler

    return register


def periodic(name: str, every: timedelta):
    """Register a handler the worker's scheduler runs once per ``every`` (one slot)."""

    def register(handler: Callable[..., object]):
        HANDLERS[name] = handler
        SCHEDULE[name] = Periodic(name, every)
        return handler

    return register
