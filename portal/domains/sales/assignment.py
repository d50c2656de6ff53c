"""Who owns a new opportunity or lead that has no rep: the assignment rules.

SALES-RULES implements this (ordered rules, round robin, absences, the timeline entry
and the new owner's mail) and replaces this file's body; until then it does nothing.
"""

from __future__ import annotations


def assign_owner(record, *, actor=None, reason_context=None):
    """Give ``record`` (an ``Opportunity`` or a ``Lead`` without ``rep_id``, already
    flushed) an owner by the first matching assignment rule, in the caller's
    transaction (flush, never commit). ``actor`` is the staff member whose action
    created it (None for the quote page, the portal, a background import);
    ``reason_context`` a short text of the creation path ("staff form", "lead
    conversion", "quote request", ...) for the timeline.

    SALES-RULES implements it; every creation path of an opportunity or lead without
    a rep calls it (SALES-CORE, SALES-LEADS). Until then it leaves the record
    unassigned and returns None; afterwards it returns the rep it chose (or None when
    no rule matched or no rep was eligible).
    """
    return None
