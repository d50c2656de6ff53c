"""Who sees the sales reports: admins and managers (every opportunity) and sales reps
(the figures of the opportunities they see: ``opportunities.opportunity_filter``).
Technicians do not: they only read the sales work of their customers, one at a time."""

from __future__ import annotations

from portal.domains.identity.models import StaffUser


def staff_may_see_sales_reports(user: StaffUser) -> bool:
    return bool(user.is_enabled and user.role in ("admin", "manager", "sales"))
