"""The contracts' scheduled work, run by the one worker (``flask worker``).

- ``contracts.expire`` daily: every active contract past its end date becomes expired
  (``operations.expire_contracts``; idempotent, so a rerun after a killed worker, or
  two workers at once, expire each contract once).
"""

from __future__ import annotations

from datetime import timedelta

from portal.domains.contracts.operations import expire_contracts
from portal.jobs import periodic


@periodic("contracts.expire", every=timedelta(days=1))
def expire() -> str:
    # No commit here: the worker commits the job's changes with its "done" (one commit).
    return str(expire_contracts())
