"""Test data builders. Each call commits and returns detached objects whose columns
stay readable (ids, emails), plus plain tokens for portal links."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from portal.core.extensions import db
from portal.demo import DEMO_STROKES, demo_signature_png
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity import links
from portal.domains.identity import staff as accounts
from portal.domains.identity.models import StaffUser
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.models import CatalogItem, Proposal
from portal.domains.proposals.operations import LineInput, SignInput

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def _detach(*objects):
    db.session.commit()
    for obj in objects:
        db.session.refresh(obj)
        db.session.expunge(obj)
    return objects[0] if len(objects) == 1 else objects


@dataclass
class Delivered:
    proposal: Proposal
    contact: Contact
    token: str
    link_id: int


class Factories:
    def __init__(self, app):
        self.app = app

    def staff(
        self, role: str = "sales", email: str | None = None, name: str | None = None, password: str = PASSWORD
    ) -> StaffUser:
        with self.app.app_context():
            n = next(_seq)
            user = accounts.create_staff(email or f"staff{n}@example.test", name or f"Staff {n}", password, role=role)
            return _detach(user)

    def organization(self, name: str | None = None) -> Organization:
        with self.app.app_context():
            org = Organization(name=name or f"Org {next(_seq)}")
            db.session.add(org)
            return _detach(org)

    def organization_with(self, name: str | None = None, team=(), **columns) -> Organization:
        """An organization with any columns set (``parent_id``, ``city``, ``tax_id``,
        ``billing_address``, ``account_manager_id``, ``is_active`` ...) and these staff
        members on its account team."""
        from portal.domains.customers.models import organization_team

        with self.app.app_context():
            org = Organization(name=name or f"Org {next(_seq)}", **columns)
            db.session.add(org)
            db.session.flush()
            if team:
                db.session.execute(
                    organization_team.insert(), [{"organization_id": org.id, "staff_id": user.id} for user in team]
                )
            return _detach(org)

    def contact(self, organization: Organization | None = None, email: str | None = None, **kw) -> Contact:
        organization = organization or self.organization()
        with self.app.app_context():
            n = next(_seq)
            contact = Contact(
                organization_id=organization.id,
                first_name=kw.pop("first_name", "Cora"),
                last_name=kw.pop("last_name", f"Contact{n}"),
                email=email or f"contact{n}@example.test",
                **kw,
            )
            db.session.add(contact)
            return _detach(contact)

    def catalog_item(self, name: str = "Mowing", price: str = "40.00") -> CatalogItem:
        with self.app.app_context():
            item = CatalogItem(code=f"C{next(_seq)}", name=name, unit_price=Decimal(price))
            db.session.add(item)
            return _detach(item)

    def proposal(
        self,
        contact: Contact | None = None,
        rep: StaffUser | None = None,
        included=(("Weekly mowing", "4", "45.00"),),
        optional=(("Mulch", "2", "65.00"),),
        title: str = "Grounds care",
        terms: str = "Pay within 15 days.",
    ) -> Proposal:
        contact = contact or self.contact()
        rep = rep or self.staff()
        with self.app.app_context():
            proposal = proposals.create_proposal(
                db.session.get(StaffUser, rep.id), db.session.get(Contact, contact.id), title, "USD", terms
            )
            proposal = proposals.load_proposal(proposal.id)
            for desc, qty, price in included:
                proposals.add_line(proposal, LineInput(desc, Decimal(qty), Decimal(price), False))
            for desc, qty, price in optional:
                proposals.add_line(proposal, LineInput(desc, Decimal(qty), Decimal(price), True))
            db.session.commit()
            return _detach(proposals.load_proposal(proposal.id))

    def delivered(self, proposal: Proposal | None = None, contact: Contact | None = None, **kw) -> Delivered:
        """A delivered proposal and the token of the portal link that was mailed."""
        proposal = proposal or self.proposal(contact=contact, **kw)
        with self.app.app_context():
            loaded = proposals.load_proposal(proposal.id)
            rep = db.session.get(StaffUser, loaded.sales_rep_id)
            target = db.session.get(Contact, contact.id) if contact else None
            issued = proposals.deliver_proposal(loaded, rep, target)
            db.session.commit()
            link_id, contact_id = issued.link.id, issued.link.contact_id
            loaded = proposals.load_proposal(proposal.id)
            the_contact = db.session.get(Contact, contact_id)
            _detach(loaded, the_contact)
            return Delivered(loaded, the_contact, issued.token, link_id)

    def link(self, contact: Contact, proposal: Proposal, days: int | None = None) -> str:
        with self.app.app_context():
            issued = links.issue_link(db.session.get(Contact, contact.id), "proposal", proposal.id, days=days)
            db.session.commit()
            return issued.token

    def signed(self, delivered: Delivered | None = None, option_count: int = 1) -> Delivered:
        delivered = delivered or self.delivered()
        with self.app.app_context():
            proposal = proposals.load_proposal(delivered.proposal.id)
            options = [str(line.id) for line in proposal.lines if line.is_optional][:option_count]
            proposals.sign_proposal(
                proposal, db.session.get(Contact, delivered.contact.id), None, sign_input(proposal, options)
            )
            db.session.commit()
            delivered.proposal = _detach(proposals.load_proposal(proposal.id))
            return delivered

    def issue_type(self, name: str | None = None, parent=None, sla_id: int | None = None):
        from portal.domains.service_desk.models import IssueType

        with self.app.app_context():
            kind = IssueType(name=name or f"Issue {next(_seq)}", parent_id=parent.id if parent else None, sla_id=sla_id)
            db.session.add(kind)
            return _detach(kind)

    def site(self, organization: Organization, name: str | None = None):
        from portal.domains.customers.models import Site

        with self.app.app_context():
            site = Site(organization_id=organization.id, name=name or f"Site {next(_seq)}")
            db.session.add(site)
            return _detach(site)

    def sla(
        self,
        name: str | None = None,
        timezone: str = "UTC",
        hours=((0, 9, 17), (1, 9, 17), (2, 9, 17), (3, 9, 17), (4, 9, 17)),
        holidays=(),
        targets=None,
        **columns,
    ):
        """An SLA on its own calendar; ``hours`` rows are (weekday, from hour, to hour);
        ``targets`` maps priority -> (first response, resolution) minutes (default
        60 / 480 for every priority)."""
        from portal.domains.service_desk.models import (
            PRIORITIES,
            ServiceCalendar,
            ServiceHoliday,
            ServiceHours,
            Sla,
            SlaTarget,
        )

        targets = targets or {p: (60, 480) for p in PRIORITIES}
        with self.app.app_context():
            n = next(_seq)
            calendar = ServiceCalendar(name=f"Calendar {n}", timezone=timezone)
            calendar.hours = [ServiceHours(weekday=d, start_minute=a * 60, end_minute=b * 60) for d, a, b in hours]
            calendar.holidays = [ServiceHoliday(day=day) for day in holidays]
            sla = Sla(name=name or f"SLA {n}", calendar=calendar, **columns)
            sla.targets = [
                SlaTarget(priority=p, first_response_minutes=f, resolution_minutes=r) for p, (f, r) in targets.items()
            ]
            db.session.add(sla)
            return _detach(sla)

    def ticket(
        self,
        contact: Contact | None = None,
        title: str = "Leaking tap",
        description: str = "Kitchen tap drips.",
        priority: str = "normal",
        now=None,
        **kw,
    ):
        """A ticket opened through the service (due times, first message, mail)."""
        from portal.domains.service_desk import tickets
        from portal.domains.service_desk.models import Ticket

        contact = contact or self.contact()
        with self.app.app_context():
            ticket = tickets.open_ticket(
                db.session.get(Contact, contact.id),
                title=title,
                description=description,
                priority=priority,
                now=now,
                **kw,
            )
            db.session.commit()
            return _detach(db.session.get(Ticket, ticket.id))


def staff_message(app, ticket, staff, body: str = "On it.", internal: bool = False, now=None) -> None:
    """A staff reply (or, with ``internal``, a note) on a ticket, through the service."""
    from portal.domains.service_desk import tickets
    from portal.domains.service_desk.models import Ticket

    with app.app_context():
        tickets.add_staff_message(
            db.session.get(Ticket, ticket.id), db.session.get(StaffUser, staff.id), body, internal=internal, now=now
        )
        db.session.commit()


def sign_input(proposal: Proposal, option_ids=(), **overrides) -> SignInput:
    values = dict(
        option_ids=list(option_ids),
        signer_name="Cora Contact",
        consent=True,
        signature_png=demo_signature_png(),
        strokes=DEMO_STROKES,
        seen_hash=proposals.content_hash(proposal),
        ip="203.0.113.9",
        user_agent="pytest",
    )
    values.update(overrides)
    return SignInput(**values)


def sign_form(proposal: Proposal, option_ids=(), **overrides) -> dict:
    """The form a browser would post to the sign endpoint."""
    data = {
        "option": [str(i) for i in option_ids],
        "signer_name": "Cora Contact",
        "consent": "y",
        "signature_png": demo_signature_png(),
        "strokes": DEMO_STROKES,
        "seen_hash": overrides.pop("seen_hash", None),
    }
    data.update(overrides)
    return data


# --- helpers for service and portal tests ----------------------------------------


def forge_signed_in_session(app, client, contact) -> None:
    """Give ``client`` a signed-in portal session of ``contact``, as the sign-in flow leaves
    it (its server-side record included), without going through the emails."""
    import secrets

    from portal.domains.identity.models import PortalSession

    sid = secrets.token_urlsafe(32)
    with app.app_context():
        db.session.add(PortalSession(id=sid, contact_id=contact.id))
        db.session.commit()
    with client.session_transaction() as session:
        session["portal"] = {
            "sid": sid,
            "contact": contact.id,
            "epoch": contact.portal_epoch,
            "links": [],
            "signed_in": True,
        }


# The evidence log records what was seen (link opened, page viewed) as well as what
# changed: an audit trail, not state. ``snapshot`` leaves it out unless asked.
AUDIT_TABLES = {"evidence_entries", "evidence_heads"}


def snapshot(app, audit: bool = False) -> dict:
    """Every row of every table, in primary-key order: compare two to prove nothing changed
    (the evidence log's tables only with ``audit``)."""
    from sqlalchemy import select

    with app.app_context():
        state = {}
        for table in db.metadata.sorted_tables:
            if table.name in AUDIT_TABLES and not audit:
                continue
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            state[table.name] = [tuple(row) for row in rows]
        db.session.remove()
        return state


def outbox(app) -> list[dict]:
    """The outbox rows, oldest first, as plain dicts."""
    from sqlalchemy import select

    from portal.mail.models import OutboxMessage

    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        result = [
            {
                "to_addr": m.to_addr,
                "subject": m.subject,
                "body_text": m.body_text,
                "body_html": m.body_html,
                "kind": m.kind,
            }
            for m in rows
        ]
        db.session.remove()
        return result


def signature_rows(app, proposal_id: int | None = None) -> list:
    """The stored signatures (detached), optionally of one proposal."""
    from sqlalchemy import select

    from portal.domains.proposals.models import Signature

    with app.app_context():
        stmt = select(Signature).order_by(Signature.id)
        if proposal_id is not None:
            stmt = stmt.where(Signature.proposal_id == proposal_id)
        rows = list(db.session.scalars(stmt))
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
        return rows


def staff_add_line(
    app,
    proposal_id: int,
    description: str = "Extra visit",
    qty: str = "1",
    price: str = "50.00",
    optional: bool = False,
) -> None:
    """Staff add a line through the service, committed (the proposal's content changes)."""
    with app.app_context():
        proposal = proposals.load_proposal(proposal_id)
        proposals.add_line(proposal, LineInput(description, Decimal(qty), Decimal(price), optional))
        db.session.commit()
        db.session.remove()


def page_form(html: str) -> dict:
    """What a browser would read off the proposal page: the content hash and option ids."""
    import re

    seen = re.search(r'name="seen_hash" value="([0-9a-f]{64})"', html)
    return {"seen_hash": seen.group(1) if seen else None, "options": re.findall(r'name="option" value="(\d+)"', html)}


def png_data_url(width: int = 300, height: int = 100, ink: bool = True, fmt: str = "PNG") -> str:
    """A data URL of an image: inked or blank, any size, PNG or another format."""
    import base64
    import io

    from PIL import Image, ImageDraw

    mode = "RGBA" if fmt == "PNG" else "RGB"
    image = Image.new(mode, (width, height), (0, 0, 0, 0) if mode == "RGBA" else (255, 255, 255))
    if ink:
        ImageDraw.Draw(image).line(
            [(10, 10), (min(width, 290) - 10, min(height, 90) - 10)],
            fill=(16, 32, 74, 255) if mode == "RGBA" else (16, 32, 74),
            width=4,
        )
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def queued_mail(
    app,
    to_addr: str = "cora@example.test",
    subject: str = "Your new link",
    url: str = "https://portal.example.test/l/example-token",
):
    """A committed, pending outbox message (the link-renewed email), detached."""
    from datetime import datetime
    from types import SimpleNamespace

    from portal.mail.outbox import queue_mail

    with app.app_context():
        message = queue_mail(
            to_addr,
            subject,
            "link_renewed",
            kind="link_renewed",
            contact=SimpleNamespace(first_name="Cora"),
            url=url,
            expires_at=datetime(2030, 1, 1),
        )
        return _detach(message)


# --- helpers for contact tests ------------------------------------------------------


def add_to_team(app, organization, *staff) -> None:
    """Put staff members on an organization's account team (committed)."""
    from portal.domains.customers.models import organization_team

    organization_id = getattr(organization, "id", organization)  # an organization or its id
    with app.app_context():
        db.session.execute(
            organization_team.insert(), [{"organization_id": organization_id, "staff_id": user.id} for user in staff]
        )
        db.session.commit()
        db.session.remove()


def stored(app, model, object_id: int):
    """A row as stored now, detached (columns readable)."""
    with app.app_context():
        row = db.session.get(model, object_id)
        db.session.expunge(row)
        db.session.remove()
        return row


def contact_state(app, contact_id: int) -> Contact:
    """The contact as stored now, detached (columns readable)."""
    return stored(app, Contact, contact_id)


def link_state(app, link_id: int):
    """The portal link as stored now, detached."""
    from portal.domains.identity.models import PortalLink

    return stored(app, PortalLink, link_id)


def make_jobs_due(app) -> None:
    """Bring every pending job's next attempt to now (the queue's backoff waits 30 s and
    more), so a test's next worker pass takes the retries."""
    from datetime import timedelta

    from sqlalchemy import update

    from portal.core.db import utcnow
    from portal.jobs.models import Job, JobStatus

    with app.app_context():
        db.session.execute(
            update(Job).where(Job.status == JobStatus.PENDING).values(run_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
