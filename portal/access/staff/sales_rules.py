"""Who edits the assignment rules and teams, whose absences a staff member edits,
and whose calendar feed they manage.

- rules and teams: admins edit them; managers read them; others get a 404;
- absences: admins and managers edit anyone's, everyone edits their own;
- the calendar feed: only its owner sees, issues or revokes it (its URL is a secret).
"""

from __future__ import annotations

from portal.access.staff.organizations import sees_everything
from portal.domains.identity.models import StaffUser


def staff_may_see_assignment_rules(user: StaffUser) -> bool:
    return user.is_enabled and sees_everything(user)


def staff_may_edit_assignment_rules(user: StaffUser) -> bool:
    return user.is_enabled and user.role == "admin"


def staff_may_see_people(user: StaffUser) -> bool:
    """The list of everyone's absences: admins and managers."""
    return user.is_enabled and sees_everything(user)


def staff_may_edit_absences(user: StaffUser, person: StaffUser) -> bool:
    return user.is_enabled and (sees_everything(user) or user.id == person.id)


def staff_may_manage_feed(user: StaffUser, person: StaffUser) -> bool:
    return user.is_enabled and user.id == person.id
