"""The money migration's data step: stored totals computed per line half up, duplicate
positions of unsigned proposals renumbered, the number counter past the highest number."""

from __future__ import annotations

from decimal import Decimal

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text, update

from portal.core.counters import Counter
from portal.core.extensions import db
from portal.domains.proposals.models import Proposal, ProposalLine
from tests.factories import Factories
from tests.test_migrations import migration_app  # noqa: F401 - the fixture

REVISION = "aa847fd62eb9"


def test_the_migration_backfills_totals_positions_and_the_counter(migration_app):  # noqa: F811
    with migration_app.app_context():
        upgrade()
    make = Factories(migration_app)
    open_one = make.proposal(included=(("Visit", "0.333", "1.00"),) * 3, optional=(("Mulch", "0.5", "0.25"),))
    signed = make.signed(make.delivered(included=(("A", "1", "1.00"), ("B", "1", "2.00")), optional=()))
    with migration_app.app_context():
        # as a database from before this revision would have them: positions shared
        for proposal_id in (open_one.id, signed.proposal.id):
            db.session.execute(update(ProposalLine).where(ProposalLine.proposal_id == proposal_id).values(position=1))
        db.session.commit()
        downgrade(revision=f"{REVISION}-1")
        upgrade()
    with migration_app.app_context():
        totals = {
            row.id: (row.included_total, row.optional_total)
            for row in db.session.execute(select(Proposal.id, Proposal.included_total, Proposal.optional_total))
        }
        assert totals[open_one.id] == (Decimal("0.99"), Decimal("0.13"))
        assert totals[signed.proposal.id] == (Decimal("3.00"), Decimal("0.00"))
        positions = {
            pid: [
                p
                for (p,) in db.session.execute(
                    select(ProposalLine.position).where(ProposalLine.proposal_id == pid).order_by(ProposalLine.id)
                )
            ]
            for pid in (open_one.id, signed.proposal.id)
        }
        assert positions[open_one.id] == [1, 2, 3, 4]
        assert positions[signed.proposal.id] == [1, 1]  # covered by its signature's hash: left alone
        counter = db.session.get(Counter, "proposal_number")
        assert counter.value == signed.proposal.number
        assert db.session.execute(text("SELECT count(*) FROM counters")).scalar() == 1
