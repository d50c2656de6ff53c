"""All models, importable from one place (Alembic and the services use this)."""
from portal.models.accounts import (
    INVOICE_TEMPLATES,
    PORTAL_LEVELS,
    STAFF_ROLES,
    TAX_REGIONS,
    Contact,
    Organization,
    StaffSession,
    StaffUser,
    organization_team,
)
from portal.models.base import utcnow
from portal.models.links import PortalLink, PortalSignIn
from portal.models.outbox import OutboxMessage, OutboxStatus
from portal.models.service import (
    PRIORITIES,
    IssueType,
    MessageKind,
    ServiceCalendar,
    ServiceHoliday,
    ServiceHours,
    Site,
    Sla,
    SlaTarget,
    Ticket,
    TicketAttachment,
    TicketMessage,
    TicketState,
    TicketStatus,
)
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
    "INVOICE_TEMPLATES", "PORTAL_LEVELS", "PortalSignIn", "STAFF_ROLES", "TAX_REGIONS", "organization_team",
    "CatalogItem", "Contact", "LOST_REASONS", "Organization", "OutboxMessage",
    "OutboxStatus", "PortalLink", "Proposal", "ProposalEvent", "ProposalLine", "ProposalStatus",
    "Signature", "StaffSession", "StaffUser", "utcnow",
    "PRIORITIES", "IssueType", "MessageKind", "ServiceCalendar", "ServiceHoliday", "ServiceHours", "Site", "Sla",
    "SlaTarget", "Ticket", "TicketAttachment", "TicketMessage", "TicketState", "TicketStatus",
]
