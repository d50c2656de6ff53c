"""Which contracts a staff member sees and changes.

- admin, manager: all;
- sales: those of the organizations they see (account team, account manager, their own
  proposals: ``organizations.visible_organization_ids``), and they change them;
- technician: those of the organizations whose account team includes them (or that
  they manage), read-only.

A contract is the organization's: who sees the organization sees its contracts, as
for its proposals and tickets. Anything else is a 404, with no hint that it exists.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import false, select

from portal.access.staff.organizations import organization_filter, staff_may_see_organization
from portal.domains.contracts.models import Contract
from portal.domains.contracts.operations import load_contract
from portal.domains.identity.models import StaffUser


def contract_filter(user: StaffUser):
    """A WHERE clause restricting contracts to what the user may see."""
    if not user.is_enabled:
        return false()
    return organization_filter(user, Contract.organization_id)


def staff_contracts_query(user: StaffUser):
    """The base query of contracts this staff member may list."""
    return select(Contract).where(contract_filter(user))


def staff_may_see_contract(user: StaffUser, contract: Contract) -> bool:
    return user.is_enabled and staff_may_see_organization(user, contract.organization_id)


def staff_may_work_contracts(user: StaffUser) -> bool:
    """Typing and changing contracts is sales work: everyone but technicians."""
    return user.is_enabled and user.role != "technician"


def staff_may_work_contract(user: StaffUser, contract: Contract) -> bool:
    """Change it (header, services, activate, cancel): who sees it, except technicians."""
    return staff_may_work_contracts(user) and staff_may_see_contract(user, contract)


def staff_contract(user: StaffUser, contract_id: int, work: bool = False) -> Contract:
    """A contract (loaded for its page) the staff member may see, and with ``work``
    change, or 404."""
    contract = load_contract(contract_id)
    if contract is None or not staff_may_see_contract(user, contract):
        abort(404)
    if work and not staff_may_work_contract(user, contract):
        abort(404)
    return contract
