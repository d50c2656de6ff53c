"""``DriverQuery`` (portal/core/queries/driver.py) gives the rows SQLAlchemy's own
execution gives, types included, on either engine; inside a transaction it sees what
the session has flushed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import bindparam, select

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.queries.driver import DriverQuery
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import PortalLink

LINKS = (
    select(PortalLink.id, PortalLink.expires_at, PortalLink.revoked_at, Contact.first_name, Organization.is_active)
    .join(Contact, Contact.id == PortalLink.contact_id)
    .join(Organization, Organization.id == Contact.organization_id)
    .where(PortalLink.contact_id == bindparam("contact_id"), PortalLink.target_type == "proposal")
    .order_by(PortalLink.id)
)


def test_rows_match_sqlalchemy_execution_types_included(app, make):
    delivered = make.delivered()
    make.link(delivered.contact, delivered.proposal, days=3)
    query = DriverQuery(LINKS)
    with app.app_context():
        expected = [tuple(row) for row in db.session.execute(LINKS, {"contact_id": delivered.contact.id}).all()]
        db.session.remove()
        got = query.rows({"contact_id": delivered.contact.id})
    assert got == expected and len(got) == 2
    link_id, expires_at, revoked_at, first_name, org_active = got[0]
    assert isinstance(expires_at, datetime) and revoked_at is None
    assert org_active is True and isinstance(first_name, str)
    with app.app_context():
        assert query.first({"contact_id": -1}) is None


def test_inside_a_transaction_it_reads_what_the_session_flushed(app, make):
    delivered = make.delivered()
    query = DriverQuery(LINKS)
    with app.app_context():
        before = len(query.rows({"contact_id": delivered.contact.id}))
        link = db.session.get(PortalLink, query.rows({"contact_id": delivered.contact.id})[0][0])
        link.expires_at = utcnow() + timedelta(days=99)
        db.session.flush()
        rows = query.rows({"contact_id": delivered.contact.id})
        assert len(rows) == before
        assert rows[0][1] == link.expires_at
        db.session.rollback()


def test_a_query_that_expands_parameters_is_refused(app):
    query = DriverQuery(select(PortalLink.id).where(PortalLink.id.in_(bindparam("ids", expanding=True))))
    with app.app_context(), pytest.raises(ValueError):
        query.rows({"ids": [1, 2]})


def test_statement_listeners_see_it_then_it_runs_through_sqlalchemy(app, make, count_queries):
    delivered = make.delivered()
    query = DriverQuery(LINKS)
    with count_queries() as counter, app.app_context():
        rows = query.rows({"contact_id": delivered.contact.id})
    assert len(rows) == 1 and counter.count == 1 and "portal_links" in counter.statements[0]
