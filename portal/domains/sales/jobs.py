"""The sales pipeline's scheduled work, run by the one worker (``flask worker``).

- ``sales.follow_up_digests`` every 15 minutes: each staff member's morning mail of
  follow-ups, once their local morning has come (``followups.send_morning_digests``;
  one mail per person per local day however often it runs, on any number of workers);
- ``sales.auto_close`` every hour: warn, then close as lost the opportunities that
  waited on the customer too long (``autoclose.run_auto_close``; idempotent).

Tests call the two bodies directly, with a ``now`` of their choosing.
"""

from __future__ import annotations

from datetime import timedelta

from portal.domains.sales import activity as _activity  # noqa: F401  (subscribes to the proposals' signals)
from portal.domains.sales.autoclose import run_auto_close
from portal.domains.sales.followups import send_morning_digests
from portal.jobs import periodic


@periodic("sales.follow_up_digests", every=timedelta(minutes=15))
def follow_up_digests() -> str:
    return str(send_morning_digests())


@periodic("sales.auto_close", every=timedelta(hours=1))
def auto_close() -> str:
    return str(run_auto_close())
