"""What a staff member may see in the admin area, decided here and nowhere else.

- admin, manager: every organization and everything in it;
- technician: the organizations whose account team includes them (or that they
  manage as account manager). Technicians only read sales work and customer records
  (proposals, organizations, contacts) and work the tickets of the customers they see
  (reply, internal note, status, priority, assignment): ``staff_may_work_ticket``;
- sales: the same, plus the organizations of their own proposals (the proposals
  stand in for opportunities until those exist), and their own proposals.

Anything else is a 404, with no hint that it exists. Sub-organizations are separate
customers: a team on the parent does not open the children.

One module per kind of object: ``contracts``, ``organizations`` (sight lines, the organization
filter, contacts), ``proposals``, ``opportunities`` (and leads), ``tickets``, ``setup`` (service setup, outbox,
reports) and ``abilities`` (``staff_can``, the templates' ``can``). This package only
re-exports them, so ``from portal.access.staff import x`` keeps working; each rule
has one copy, in its module.
"""

from portal.access.staff.abilities import staff_can
from portal.access.staff.campaigns import staff_may_run_campaigns
from portal.access.staff.contracts import (
    contract_filter,
    staff_contract,
    staff_contracts_query,
    staff_may_see_contract,
    staff_may_work_contract,
    staff_may_work_contracts,
)
from portal.access.staff.leads import staff_leads_query, staff_may_work_leads
from portal.access.staff.opportunities import (
    lead_filter,
    opportunity_filter,
    opportunity_filter_parts,
    staff_lead,
    staff_may_create_opportunity,
    staff_may_edit_sales_lists,
    staff_may_see_lead,
    staff_may_see_opportunity,
    staff_may_see_sales_lists,
    staff_may_work_lead,
    staff_may_work_opportunity,
    staff_opportunities_query,
    staff_opportunity,
)
from portal.access.staff.organizations import (
    SEE_ALL,
    organization_filter,
    sees_everything,
    staff_contact,
    staff_contacts_query,
    staff_may_create_organization,
    staff_may_edit_contacts,
    staff_may_edit_organization,
    staff_may_see_organization,
    staff_organization,
    staff_organizations_query,
    staff_seeing_organization,
    staff_visible_organization_ids,
    visible_organization_ids,
)
from portal.access.staff.proposals import (
    proposal_filter,
    staff_may_see_proposal,
    staff_may_sell,
    staff_proposal,
    staff_proposals_query,
)
from portal.access.staff.sales_reports import staff_may_see_sales_reports
from portal.access.staff.sales_rules import (
    staff_may_edit_absences,
    staff_may_edit_assignment_rules,
    staff_may_manage_feed,
    staff_may_see_assignment_rules,
    staff_may_see_people,
)
from portal.access.staff.setup import (
    staff_may_configure_service,
    staff_may_see_jobs,
    staff_may_see_outbox,
    staff_may_see_reports,
)
from portal.access.staff.tickets import (
    staff_may_see_ticket,
    staff_may_work_ticket,
    staff_ticket,
    staff_tickets_query,
    staff_workable_tickets_query,
    ticket_filter,
)

__all__ = [
    "SEE_ALL",
    "contract_filter",
    "staff_contract",
    "staff_contracts_query",
    "staff_may_see_contract",
    "staff_may_work_contract",
    "staff_may_work_contracts",
    "staff_may_run_campaigns",
    "staff_may_see_sales_reports",
    "staff_may_edit_absences",
    "staff_may_edit_assignment_rules",
    "staff_may_manage_feed",
    "staff_may_see_assignment_rules",
    "staff_may_see_people",
    "lead_filter",
    "opportunity_filter",
    "opportunity_filter_parts",
    "organization_filter",
    "proposal_filter",
    "sees_everything",
    "staff_can",
    "staff_contact",
    "staff_contacts_query",
    "staff_lead",
    "staff_leads_query",
    "staff_may_configure_service",
    "staff_may_create_opportunity",
    "staff_may_create_organization",
    "staff_may_edit_contacts",
    "staff_may_edit_organization",
    "staff_may_edit_sales_lists",
    "staff_may_see_lead",
    "staff_may_see_opportunity",
    "staff_may_see_organization",
    "staff_may_see_jobs",
    "staff_may_see_outbox",
    "staff_may_see_proposal",
    "staff_may_see_reports",
    "staff_may_see_sales_lists",
    "staff_may_see_ticket",
    "staff_may_sell",
    "staff_may_work_lead",
    "staff_may_work_leads",
    "staff_may_work_opportunity",
    "staff_may_work_ticket",
    "staff_opportunities_query",
    "staff_opportunity",
    "staff_organization",
    "staff_organizations_query",
    "staff_proposal",
    "staff_proposals_query",
    "staff_seeing_organization",
    "staff_ticket",
    "staff_tickets_query",
    "staff_visible_organization_ids",
    "staff_workable_tickets_query",
    "ticket_filter",
    "visible_organization_ids",
]
