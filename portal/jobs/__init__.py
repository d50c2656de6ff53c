"""The one background worker: mail, scheduled jobs and long runs (``flask worker``).

Domains enqueue work with ``enqueue`` in the transaction of the change that causes it,
and declare handlers with ``job`` / ``periodic``.
"""

from portal.jobs.queue import enqueue
from portal.jobs.registry import job, periodic

__all__ = ["enqueue", "job", "periodic"]
