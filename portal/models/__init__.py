"""All models, importable from one place (Alembic and the services use this)."""
from portal.models.accounts import STAFF_ROLES, Contact, Organization, StaffSession, StaffUser
from portal.models.base import utcnow
from portal.models.links import PortalLink
from portal.models.outbox import OutboxMessage, OutboxStatus
from portal.models.sales import (
    LOST_REASONS,
    CatalogItem,
    Proposal,
    ProposalEvent,
    ProposalLine,
    ProposalStatus,
    Signature,
)

__all__ = [
    "STAFF_ROLES", "CatalogItem", "Contact", "LOST_REASONS", "Organization", "OutboxMessage",
    "OutboxStatus", "PortalLink", "Proposal", "ProposalEvent", "ProposalLine", "ProposalStatus",
    "Signature", "StaffSession", "StaffUser", "utcnow",
]
