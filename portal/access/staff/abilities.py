"""What templates ask: ``can("configure_service")`` instead of comparing roles. Each
ability names a rule of the sibling modules; none is decided here."""

from __future__ import annotations

from portal.access.staff.campaigns import staff_may_run_campaigns
from portal.access.staff.contracts import staff_may_work_contract, staff_may_work_contracts
from portal.access.staff.leads import staff_may_work_leads
from portal.access.staff.opportunities import (
    staff_may_create_opportunity,
    staff_may_edit_sales_lists,
    staff_may_see_sales_lists,
    staff_may_work_lead,
    staff_may_work_opportunity,
)
from portal.access.staff.organizations import (
    staff_may_create_organization,
    staff_may_edit_contacts,
    staff_may_edit_organization,
    staff_may_see_organization,
)
from portal.access.staff.proposals import staff_may_sell
from portal.access.staff.sales_reports import staff_may_see_sales_reports
from portal.access.staff.sales_rules import staff_may_see_assignment_rules, staff_may_see_people
from portal.access.staff.setup import (
    staff_may_configure_service,
    staff_may_see_jobs,
    staff_may_see_outbox,
    staff_may_see_reports,
)
from portal.access.staff.tickets import staff_may_work_ticket
from portal.domains.identity.models import StaffUser

_ABILITIES = {
    "sell": lambda user, _obj: staff_may_sell(user),
    "see_outbox": lambda user, _obj: staff_may_see_outbox(user),
    "see_jobs": lambda user, _obj: staff_may_see_jobs(user),
    "see_reports": lambda user, _obj: staff_may_see_reports(user),
    "configure_service": lambda user, _obj: staff_may_configure_service(user),
    "create_organization": lambda user, _obj: staff_may_create_organization(user),
    "edit_organization": lambda user, obj: staff_may_edit_organization(user, obj),
    "edit_contacts": lambda user, obj: staff_may_edit_contacts(user, obj),
    "see_organization": lambda user, obj: staff_may_see_organization(user, obj.id),
    "work_ticket": lambda user, obj: staff_may_work_ticket(user, obj),
    "create_opportunity": lambda user, _obj: staff_may_create_opportunity(user),
    "work_opportunity": lambda user, obj: staff_may_work_opportunity(user, obj),
    "work_lead": lambda user, obj: staff_may_work_lead(user, obj),
    "work_leads": lambda user, _obj: staff_may_work_leads(user),
    "see_sales_lists": lambda user, _obj: staff_may_see_sales_lists(user),
    "see_sales_reports": lambda user, _obj: staff_may_see_sales_reports(user),
    "edit_sales_lists": lambda user, _obj: staff_may_edit_sales_lists(user),
    "see_assignment_rules": lambda user, _obj: staff_may_see_assignment_rules(user),
    "see_people": lambda user, _obj: staff_may_see_people(user),
    "work_contracts": lambda user, _obj: staff_may_work_contracts(user),
    "work_contract": lambda user, obj: staff_may_work_contract(user, obj),
    "run_campaigns": lambda user, _obj: staff_may_run_campaigns(user),
}


def staff_can(user: StaffUser, ability: str, obj=None) -> bool:
    """The one entry point templates use (as ``can``); an unknown ability is a bug."""
    return bool(user.is_authenticated and _ABILITIES[ability](user, obj))
