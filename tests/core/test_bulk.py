"""``portal.core.bulk`` on the engine under test: what goes in is what comes back,
whether a column varies or holds one value in every row (on PostgreSQL that one
travels as a scalar, the rest as arrays), with NULLs, with one row, with ON CONFLICT."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.core.bulk import insert_rows, update_rows
from portal.core.extensions import db
from portal.domains.campaigns.models import Campaign
from portal.domains.timeline.models import TimelineEntry

COLUMNS = ("subject_type", "subject_id", "kind", "staff_id", "contact_id", "detail", "created_at")
TABLE = TimelineEntry.__table__

# Text PostgreSQL stores (no NUL, no lone surrogates), often one of a few values so
# that whole columns come out constant.
text = st.one_of(
    st.sampled_from(["", "created", "assigned", "Made by campaign “Aeration”."]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
row = st.tuples(
    st.sampled_from(["opportunity", "proposal"]),
    st.integers(min_value=1, max_value=2**31 - 1),
    text.map(lambda value: value[:30]),
    st.none(),
    st.none(),
    text,
    st.one_of(st.just(datetime(2026, 12, 1, 9, 30)), moments),
)


def _stored(ids: list[int]) -> list[tuple]:
    found = {
        r[0]: tuple(r[1:])
        for r in db.session.execute(select(TABLE.c.id, *(TABLE.c[c] for c in COLUMNS)).where(TABLE.c.id.in_(ids)))
    }
    return [found[i] for i in ids]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=30), details=st.data())
def test_inserted_and_updated_rows_read_back_as_given(ctx, rows, details):
    try:
        ids = [r[0] for r in insert_rows(TABLE, COLUMNS, rows, returning=("id",))]
        assert len(ids) == len(rows)
        assert _stored(ids) == [tuple(r) for r in rows]
        changed = [(details.draw(text), details.draw(text), i) for i in ids]
        update_rows(TABLE, "id", ("kind", "detail"), [(k[:30], d, i) for k, d, i in changed])
        assert [(r[2], r[5]) for r in _stored(ids)] == [(k[:30], d) for k, d, _i in changed]
    finally:
        db.session.rollback()


def test_constant_columns_of_many_rows_arrive_in_every_row(ctx):
    when = datetime(2026, 12, 1, 9, 30)
    rows = [("opportunity", n, "created", None, None, "New", when) for n in range(1, 501)]
    ids = [r[0] for r in insert_rows(TABLE, COLUMNS, rows, returning=("id",))]
    assert _stored(ids) == rows
    update_rows(TABLE, "id", ("kind", "detail"), [("assigned", "Rep 1", i) for i in ids], where="kind = 'created'")
    assert {(r[2], r[5]) for r in _stored(ids)} == {("assigned", "Rep 1")}
    update_rows(TABLE, "id", ("detail",), [("again", i) for i in ids], where="kind = 'created'")
    assert {r[5] for r in _stored(ids)} == {"Rep 1"}  # the extra condition holds
    db.session.rollback()


def test_true_and_one_are_not_one_value():
    """A column is sent once only when every row has the same value of the same type."""
    from portal.core import bulk

    assert bulk._one_value([True, True]) and not bulk._one_value([True, 1]) and not bulk._one_value([None, 0])


def test_on_conflict_do_nothing_returns_only_the_rows_inserted(ctx, make):
    staff = make.staff(role="manager")
    service = make.catalog_item("Aeration", "100.00")
    when = datetime(2026, 12, 1, 9, 30)
    columns = (
        "name",
        "name_key",
        "service_id",
        "zone",
        "include_sub_organizations",
        "status",
        "created_by_id",
        "created_at",
        *("total_items", "made_count", "skipped_count", "failed_count", "run_count", "delivered_count"),
    )
    table = Campaign.__table__

    def campaign(name: str) -> tuple:
        return (name, name.lower(), service.id, "", False, "queued", staff.id, when, 0, 0, 0, 0, 1, 0)

    first = insert_rows(table, columns, [campaign("A")], returning=("name_key",))
    again = insert_rows(
        table, columns, [campaign("A"), campaign("B")], returning=("name_key",), conflict="(name_key) DO NOTHING"
    )
    assert first == [("a",)] and again == [("b",)]
    db.session.rollback()
