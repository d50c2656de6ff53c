"""Who runs Optional Service Opportunity campaigns: admins and managers.

Sales reps do not see the campaign screens (404): a campaign spans every customer
that has the service in a contract, beyond a rep's sight lines (their account
teams), and its page lists them all. Reps work the opportunities a campaign gave them
on the pipeline, as any other. Technicians neither.
"""

from __future__ import annotations

from portal.access.staff.organizations import sees_everything
from portal.domains.identity.models import StaffUser


def staff_may_run_campaigns(user: StaffUser) -> bool:
    return bool(user.is_enabled and sees_everything(user))
