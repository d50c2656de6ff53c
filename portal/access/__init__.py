"""Who may see what, decided here and nowhere else: one module per actor.

- ``portal.access.contacts``: customers on the portal (links, sign-in, portal levels);
- ``portal.access.staff``: staff in the admin area (roles, account teams).

Views and queries load objects through these functions; a view never filters by hand.
Anything an actor may not see is a 404 that gives no hint it exists.
"""

from portal.access.contacts import (
    LinkUnusable,
    PortalAccess,
    contact_access,
    contact_proposal,
    contact_proposal_stamp,
    contact_ticket,
    contact_tickets_query,
    end_portal_session,
    forget_portal,
    portal_contact_id,
    remember_link,
)
from portal.access.staff import (
    staff_may_configure_service,
    staff_may_see_proposal,
    staff_proposal,
    staff_proposals_query,
    staff_ticket,
    staff_tickets_query,
)

__all__ = [
    "LinkUnusable",
    "PortalAccess",
    "contact_access",
    "contact_proposal",
    "contact_proposal_stamp",
    "end_portal_session",
    "forget_portal",
    "portal_contact_id",
    "remember_link",
    "staff_may_see_proposal",
    "staff_proposal",
    "staff_proposals_query",
    "contact_ticket",
    "contact_tickets_query",
    "staff_may_configure_service",
    "staff_ticket",
    "staff_tickets_query",
]
