"""The portal's contract routes in the authorization matrix. What each portal level
sees (and the 404 for the rest) is tested in ``tests/portal/contracts/test_contracts.py``:
``test_each_level_sees_the_active_contracts_it_covers_and_404_otherwise``."""

from __future__ import annotations

CLASSIFIED = {
    ("contracts.index", "GET"),
    ("contracts.show", "GET"),
}
