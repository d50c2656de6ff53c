"""A portal link opens what it points to only in the browser that opened it: the access
query reads every link of the contact to the object and keeps the ones this session
holds (portal/access/contacts.py ``_held``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.domains.identity.models import PortalLink


def test_a_link_mailed_to_the_contact_but_never_opened_here_opens_nothing(app, make, client, open_link):
    first = make.delivered()
    second = make.delivered(contact=first.contact)
    open_link(client, first.token)
    assert client.get(f"/p/proposals/{first.proposal.id}").status_code == 200
    # The contact holds a good link to the second proposal, in their mail, not here.
    assert client.get(f"/p/proposals/{second.proposal.id}").status_code == 404


def test_an_expired_held_link_is_not_rescued_by_a_fresh_one_this_browser_never_opened(app, make, client, open_link):
    delivered = make.delivered()
    open_link(client, delivered.token)
    make.link(delivered.contact, delivered.proposal)  # a second, fresh link, not opened here
    with app.app_context():
        held = db.session.scalars(
            PortalLink.__table__.select().with_only_columns(PortalLink.id).order_by(PortalLink.id).limit(1)
        ).first()
        db.session.execute(
            update(PortalLink).where(PortalLink.id == held).values(expires_at=utcnow() - timedelta(days=1))
        )
        db.session.commit()
    response = client.get(f"/p/proposals/{delivered.proposal.id}")
    assert response.status_code != 200
    assert "expired" in response.get_data(as_text=True).lower()
