"""The timeline migration moves both old timelines, with their data, and back."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal.core.extensions import db
from tests.test_migrations import migration_app  # noqa: F401  (the fixture: an empty database of its own)

BEFORE = "83f749e22e0b"
TIMELINE = "d6c637be2c9e"
WHEN = datetime(2026, 11, 30, 12, 0)


def _insert(conn, table_name: str, /, **values) -> int:
    """Insert a row into the table as it is at this revision, filling the required
    columns the test does not care about with a plain value of their type."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    row = {}
    for column in table.columns:
        if column.name in values or column.primary_key or column.nullable:
            continue
        python_type = column.type.python_type
        row[column.name] = {int: 0, bool: False, str: "x", datetime: WHEN}.get(python_type, 0)
    row.update(values)
    return conn.execute(table.insert().values(**row).returning(table.c.id)).scalar_one()


def test_proposal_and_ticket_events_move_to_the_timeline_and_back(migration_app):  # noqa: F811
    with migration_app.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as conn:
            staff = _insert(conn, "staff_users", email="ada@example.test", role="admin")
            org = _insert(conn, "organizations", name="Greenleaf", parent_id=None, account_manager_id=None, sla_id=None)
            contact = _insert(conn, "contacts", organization_id=org, email="jane@example.test")
            proposal = _insert(conn, "proposals", organization_id=org, contact_id=contact, sales_rep_id=staff, number=1)
            _insert(conn, "proposal_events", proposal_id=proposal, kind="delivered", staff_id=staff, detail="by mail")
            _insert(conn, "proposal_events", proposal_id=proposal, kind="signed", contact_id=contact, detail="")
            status = conn.execute(sa.text("SELECT id FROM ticket_statuses ORDER BY id LIMIT 1")).scalar_one()
            ticket = _insert(
                conn,
                "tickets",
                organization_id=org,
                contact_id=contact,
                status_id=status,
                state="open",
                site_id=None,
                issue_type_id=None,
                sub_issue_type_id=None,
                assignee_id=None,
                sla_id=None,
                first_response_by_id=None,
            )
            _insert(
                conn,
                "ticket_messages",
                ticket_id=ticket,
                kind="reply",
                body="Water everywhere",
                author_contact_id=contact,
            )
            _insert(
                conn,
                "ticket_messages",
                ticket_id=ticket,
                kind="event",
                body="Priority changed to Urgent",
                author_staff_id=staff,
            )

        upgrade(revision=TIMELINE)
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT subject_type, subject_id, kind, staff_id, contact_id, detail FROM timeline_entries ORDER BY id"
                )
            ).all()
            kinds = conn.execute(sa.text("SELECT kind FROM ticket_messages")).scalars().all()
            assert not sa.inspect(conn).has_table("proposal_events")
        assert [tuple(r) for r in rows] == [
            ("proposal", proposal, "delivered", staff, None, "by mail"),
            ("proposal", proposal, "signed", None, contact, ""),
            ("ticket", ticket, "change", staff, None, "Priority changed to Urgent"),
        ]
        assert kinds == ["reply"]  # the conversation keeps its messages, events left it

        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            events = conn.execute(sa.text("SELECT kind, detail FROM proposal_events ORDER BY id")).all()
            messages = conn.execute(sa.text("SELECT kind, body FROM ticket_messages ORDER BY id")).all()
        assert [tuple(e) for e in events] == [("delivered", "by mail"), ("signed", "")]
        assert sorted(tuple(m) for m in messages) == [
            ("event", "Priority changed to Urgent"),
            ("reply", "Water everywhere"),
        ]
