"""Who sets the service desk up (SLAs, calendars, statuses, issue types) and reads the
outbox, the background jobs and the reports: admins and managers."""

from __future__ import annotations

from portal.access.staff.organizations import sees_everything
from portal.domains.identity.models import StaffUser


def staff_may_configure_service(user: StaffUser) -> bool:
    """SLAs, calendars, statuses and issue types are set up by admins and managers."""
    return user.is_enabled and sees_everything(user)


def staff_may_see_outbox(user: StaffUser) -> bool:
    return user.is_enabled and sees_everything(user)


def staff_may_see_reports(user: StaffUser) -> bool:
    return user.is_enabled and sees_everything(user)


def staff_may_see_jobs(user: StaffUser) -> bool:
    """The worker's jobs (their payloads name customers' records) and Try again."""
    return user.is_enabled and sees_everything(user)
