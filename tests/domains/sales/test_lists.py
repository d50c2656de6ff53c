"""The admin-edited lists: in-use entries are deactivated, never deleted; the last won
and lost stages stay; names are unique; stage fields are checked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.sales import lists
from portal.domains.sales.models import Competitor, Source, Stage
from tests.sales_factories import make_opportunity

STAGES = lists.LIST_KINDS["stages"]
SOURCES = lists.LIST_KINDS["sources"]
COMPETITORS = lists.LIST_KINDS["competitors"]


def test_the_last_won_stage_cannot_be_deactivated_or_change_outcome(ctx):
    won = db.session.scalar(select(Stage).where(Stage.key == "won"))
    with pytest.raises(NotAllowed):
        lists.save_entry(
            STAGES, lists.EntryInput(name="Won", outcome="won", default_probability=100, is_active=False), won
        )
    db.session.rollback()
    lists.save_entry(STAGES, lists.EntryInput(name="Won (paid)", outcome="won", default_probability=100))
    won = db.session.scalar(select(Stage).where(Stage.key == "won"))
    lists.save_entry(STAGES, lists.EntryInput(name="Won", outcome="won", default_probability=100, is_active=False), won)
    assert won.is_active is False


def test_an_entry_in_use_is_deactivated_not_deleted(app, make):
    rep = make.staff()
    org = make.organization()
    with app.app_context():
        website = db.session.scalar(select(Source).where(Source.key == "website"))
        extra = lists.save_entry(SOURCES, lists.EntryInput(name="Trade fair"))
        db.session.commit()
        website_id, extra_id = website.id, extra.id
    make_opportunity(app, rep, org, source_id=extra_id)
    with app.app_context():
        extra = db.session.get(Source, extra_id)
        with pytest.raises(NotAllowed, match="in use"):
            lists.delete_entry(SOURCES, extra)
        db.session.rollback()
        with pytest.raises(NotAllowed, match="relies"):
            lists.delete_entry(SOURCES, db.session.get(Source, website_id))
        db.session.rollback()
        renamed = lists.save_entry(
            SOURCES, lists.EntryInput(name="Trade show", is_active=False), db.session.get(Source, extra_id)
        )
        assert (renamed.name, renamed.is_active) == ("Trade show", False)
        unused = lists.save_entry(COMPETITORS, lists.EntryInput(name="Acme"))
        lists.delete_entry(COMPETITORS, unused)
        assert db.session.scalar(select(Competitor).where(Competitor.name == "Acme")) is None


def test_bad_entries_name_the_field(ctx):
    with pytest.raises(InvalidInput) as error:
        lists.save_entry(STAGES, lists.EntryInput(name="", outcome="maybe", default_probability=140, position=-3))
    assert set(error.value.errors) == {"name", "outcome", "default_probability", "position"}
    with pytest.raises(InvalidInput) as error:
        lists.save_entry(SOURCES, lists.EntryInput(name="website"))  # case-insensitive duplicate
    assert "already" in error.value.errors["name"]


def test_a_stage_in_use_keeps_its_outcome(app, make):
    rep, org = make.staff(), make.organization()
    opportunity = make_opportunity(app, rep, org)
    with app.app_context():
        stage = db.session.get(Stage, opportunity.stage_id)
        with pytest.raises(NotAllowed):
            lists.save_entry(STAGES, lists.EntryInput(name=stage.name, outcome="won", default_probability=5), stage)
