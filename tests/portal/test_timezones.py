"""Times are stored in UTC and shown in the reader's zone: the contact's on the portal
and in the mail they receive."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import update

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.proposals.models import Proposal, Signature
from portal.mail.models import OutboxMessage


def _pin_signed_at(app, proposal_id: int, when: datetime) -> None:
    with app.app_context():
        db.session.execute(update(Signature).where(Signature.proposal_id == proposal_id).values(signed_at=when))
        db.session.execute(update(Proposal).where(Proposal.id == proposal_id).values(updated_at=utcnow()))
        db.session.commit()


def test_the_signed_view_shows_the_time_in_the_contacts_zone(app, make, client, open_link):
    contact = make.contact(timezone="America/New_York")
    delivered = make.signed(make.delivered(contact=contact))
    _pin_signed_at(app, delivered.proposal.id, datetime(2026, 7, 1, 16, 30))  # 12:30 in New York (EDT)
    html = open_link(client, delivered.token).get_data(as_text=True)
    # One look for a time: no seconds, and the zone's abbreviation (it was "12:30:00 PM").
    assert re.search(r"Jul 1, 2026, 12:30\sPM EDT", html), html
    assert "4:30" not in html


def test_a_contact_in_rome_reads_rome_time(app, make, client, open_link):
    contact = make.contact(timezone="Europe/Rome")
    delivered = make.signed(make.delivered(contact=contact))
    _pin_signed_at(app, delivered.proposal.id, datetime(2026, 1, 15, 9, 0))  # 10:00 in Rome (CET)
    html = open_link(client, delivered.token).get_data(as_text=True)
    assert re.search(r"Jan 15, 2026, 10:00\sAM CET", html)


def test_the_delivery_email_gives_the_expiry_in_the_recipients_zone(app, make):
    contact = make.contact(timezone="Asia/Tokyo")
    make.delivered(contact=contact)
    with app.app_context():
        body = db.session.scalars(
            OutboxMessage.__table__.select()
            .with_only_columns(OutboxMessage.body_text)
            .where(OutboxMessage.to_addr == contact.email)
        ).one()
    # The recipient's zone, labelled like every other time (it was a "+0900" offset).
    assert re.search(r"works until \w{3} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M JST\.", body), body
