"""What happens to a proposal, for the domains above it (blinker, as Indico does).

The sales domain moves a proposal's opportunity on these; proposals never import
sales. Each signal is sent with ``sender`` = the proposal (``proposal_viewed``: its
id, from the cached portal page, which has no loaded row), inside the transaction of
the change, after the change is flushed: a receiver's writes commit or roll back with
it (no half-updated pair). A receiver flushes, never commits, and must be idempotent:
a signal may come again for the same event (delivering twice, a retried request).

- ``proposal_delivered(proposal, staff=, contact=, first=)``: ``first`` when this
  delivery moved the draft to delivered;
- ``proposal_viewed(proposal_id, contact_id=, opportunity_id=)``: a contact opened the
  portal page of a proposal of that opportunity (once a day per browser session);
- ``proposal_signed(proposal, contact=, signature=)``: the customer's signature;
- ``proposal_won(proposal, staff=)`` and
  ``proposal_lost(proposal, staff=, reason=, competitor=, detail=)``: staff decisions.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

proposal_delivered = _signals.signal("proposal-delivered")
proposal_viewed = _signals.signal("proposal-viewed")
proposal_signed = _signals.signal("proposal-signed")
proposal_won = _signals.signal("proposal-won")
proposal_lost = _signals.signal("proposal-lost")
