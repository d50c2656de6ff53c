"""Job handlers and the periodic schedule, declared in code.

``@job("name")`` registers a handler; ``@periodic("name", every=timedelta(...))``
registers one and puts it on the worker's schedule. A handler takes the job's payload
as keyword arguments, runs inside an app context, and must be idempotent: a worker
killed mid-run means the job runs again once its lease runs out. ``on_dead`` is called
with the same payload once the queue gives the job up (every attempt failed, or it
stopped every worker that ran it), in the transaction that marks it dead: what the job
left undone can then say so instead of waiting for it forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

HANDLERS: dict[str, Callable[..., object]] = {}
ON_DEAD: dict[str, Callable[..., object]] = {}


@dataclass(frozen=True)
class Periodic:
    name: str
    every: timedelta


SCHEDULE: dict[str, Periodic] = {}


def job(name: str, on_dead: Callable[..., object] | None = None):
    """Register ``handler`` under ``name`` (a job's ``name`` column), and what to do
    when the queue gives such a job up (``on_dead``, called with its payload)."""

    def register(handler: Callable[..., object]):
        HANDLERS[name] = handler
        if on_dead is not None:
            ON_DEAD[name] = on_dead
        return handler

    return register


def periodic(name: str, every: timedelta):
    """Register a handler the worker's scheduler runs once per ``every`` (one slot)."""

    def register(handler: Callable[..., object]):
        HANDLERS[name] = handler
        SCHEDULE[name] = Periodic(name, every)
        return handler

    return register
