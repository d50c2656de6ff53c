"""Demo service tickets: issue types with sub-types, two sites for Greenleaf, and a few
tickets in different states (replies, an internal note, assignees), all made through
the ticket services so due times, first responses and mail are real.

``seed_service_demo`` runs once: it does nothing when issue types already exist (a
database seeded before, or one whose administrators set their own up).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.access.staff import staff_may_see_organization
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization, Site
from portal.domains.identity.models import StaffUser
from portal.domains.service_desk import tickets
from portal.domains.service_desk.models import IssueType, TicketState

ISSUE_TYPES = [
    ("Irrigation", ["Leak", "Controller"]),
    ("Lawn & grounds", ["Damage", "Missed visit"]),
    ("Access & keys", []),
]


def _issue_types() -> dict[str, IssueType]:
    found: dict[str, IssueType] = {}
    for position, (name, children) in enumerate(ISSUE_TYPES):
        parent = IssueType(name=name, position=position * 10)
        db.session.add(parent)
        db.session.flush()
        found[name] = parent
        for child_position, child in enumerate(children):
            kind = IssueType(name=child, parent_id=parent.id, position=child_position * 10)
            db.session.add(kind)
            found[f"{name}/{child}"] = kind
    db.session.flush()
    return found


def seed_service_demo() -> None:
    """Create the demo's issue types, sites and tickets once (see the module docstring)."""
    if db.session.scalar(select(IssueType.id).limit(1)) is not None:
        return
    greenleaf = db.session.scalar(select(Organization).where(Organization.name == "Greenleaf Property Management"))
    harbor = db.session.scalar(select(Organization).where(Organization.name == "Harbor Dental Group"))
    if greenleaf is None or harbor is None:
        return
    kinds = _issue_types()
    main = Site(organization_id=greenleaf.id, name="Main office", address="12 State Street\nAlbany, NY 12207")
    north_lot = Site(organization_id=greenleaf.id, name="North parking lot", address="40 Pearl Street\nAlbany, NY")
    db.session.add_all([main, north_lot])
    db.session.flush()

    def staff(email: str) -> StaffUser:
        return db.session.scalar(select(StaffUser).where(StaffUser.email == email))

    def contact(email: str) -> Contact:
        return db.session.scalar(select(Contact).where(Contact.email == email))

    sam, ada, theo = staff("sales@demo.porchlight"), staff("admin@demo.porchlight"), staff("tech@demo.porchlight")
    jane, omar = contact("jane.park@greenleaf.example"), contact("omar.diaz@greenleaf.example")
    nina, lucia = contact("nina.brooks@greenleaf.example"), contact("lucia.rossi@harbor.example")
    now = utcnow().replace(second=0, microsecond=0)

    def ago(hours: float):
        return now - timedelta(hours=hours)

    def open_(
        who: Contact,
        title: str,
        description: str,
        kind: str,
        sub: str | None,
        priority: str,
        hours: float,
        site: Site | None = None,
        organization: Organization | None = None,
    ):
        return tickets.open_ticket(
            who,
            title=title,
            description=description,
            priority=priority,
            issue_type_id=kinds[kind].id,
            sub_issue_type_id=kinds[f"{kind}/{sub}"].id if sub else None,
            site_id=site.id if site else None,
            organization=organization,
            now=ago(hours),
        )

    leak = open_(
        jane,
        "Sprinkler leaking in the north lot",
        "Water has been running along the curb since this morning, near the third lamp post.",
        "Irrigation",
        "Leak",
        "high",
        30,
        north_lot,
    )
    tickets.assign_ticket(leak, sam, ada, sees=staff_may_see_organization, now=ago(29.5))
    tickets.add_staff_message(
        leak,
        sam,
        "Thanks Jane, we have shut the zone off remotely. A technician comes "
        "tomorrow morning to replace the broken head.",
        internal=False,
        now=ago(29),
    )
    tickets.add_staff_message(
        leak, sam, "Parts: two rotor heads and a swing joint. Check the van stock first.", internal=True, now=ago(28.5)
    )
    tickets.change_status(leak, tickets.status_for(TicketState.OPEN, resumed=True), sam, now=ago(28.5))

    controller = open_(
        omar,
        "Irrigation controller shows error E4",
        "The controller in the boiler room blinks E4 and no zone starts.",
        "Irrigation",
        "Controller",
        "normal",
        50,
        main,
    )
    tickets.assign_ticket(controller, ada, ada, sees=staff_may_see_organization, now=ago(49))
    tickets.add_staff_message(
        controller,
        ada,
        "Could you send a photo of the controller's display and the label on its side?",
        internal=False,
        now=ago(48),
    )
    tickets.change_status(controller, tickets.status_for(TicketState.WAITING), ada, now=ago(48))

    hedge = open_(
        lucia,
        "Hedge damaged by a delivery truck",
        "A truck backed into the hedge by the entrance; several branches are broken.",
        "Lawn & grounds",
        "Damage",
        "normal",
        120,
    )
    tickets.assign_ticket(hedge, theo, ada, sees=staff_may_see_organization, now=ago(119))
    tickets.add_staff_message(
        hedge,
        theo,
        "We trimmed the broken branches and will replant two shrubs next week.",
        internal=False,
        now=ago(100),
    )
    tickets.add_contact_reply(hedge, lucia, "Thank you, it looks much better already.", now=ago(90))
    tickets.close_by_contact(hedge, lucia, now=ago(89))

    north = db.session.get(Organization, nina.organization_id)
    open_(
        nina,
        "Missed mowing visit this week",
        "The crew did not come on Tuesday as planned.",
        "Lawn & grounds",
        "Missed visit",
        "low",
        6,
        organization=north,
    )
    open_(
        lucia,
        "Spare key for the back gate",
        "We need a second key for the new cleaning company.",
        "Access & keys",
        None,
        "urgent",
        2,
    )
    db.session.flush()
