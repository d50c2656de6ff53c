"""The campaign's background work, run by the one worker (``flask worker``):

- ``campaigns.run``: enumerate the items of a run and enqueue its chunks; given up,
  the campaign stops waiting and offers Run again;
- ``campaigns.chunk``: make one slice's opportunities and proposals (one transaction);
  given up (every attempt failed), its items become failed so the run ends;
- ``campaigns.deliver``: Deliver all; given up, Deliver all is offered again.

The bodies are in ``portal.domains.campaigns.run``; tests call them directly too.
"""

from __future__ import annotations

from portal.domains.campaigns import run as runs
from portal.jobs import job


@job("campaigns.run", on_dead=runs.abandon_run)
def campaign_run(campaign_id: int, run: int) -> None:
    runs.begin_run(campaign_id, run)


@job("campaigns.chunk", on_dead=runs.abandon_chunk)
def campaign_chunk(campaign_id: int, first_id: int, last_id: int) -> dict:
    return runs.process_chunk(campaign_id, first_id, last_id)


@job("campaigns.deliver", on_dead=runs.abandon_delivery)
def campaign_deliver(campaign_id: int, staff_id: int) -> int:
    return runs.deliver_all(campaign_id, staff_id)
