"""Search keys and the matching rules every list uses (one copy of each).

A ``*_key`` column holds ``search_key`` of the text it shadows: Unicode case-folded
(``str.casefold``, so "Ştefan", "ŞTEFAN" and "ştefan" are one key, as are "Straße"
and "STRASSE") with single spaces. The term is folded the same way, so matching
compares keys with ``LIKE`` and never relies on the database's idea of case (SQLite's
``lower()`` and ``LIKE`` fold only ASCII).

- ``prefix_match``: the key starts with the term, written as an index range (``key >=
  term AND key < term + U+10FFFF``) that a B-tree answers on both engines (the key
  columns are ``COLLATE "C"`` on PostgreSQL, byte order, as SQLite always is);
- ``word_start_match``: a word of the key starts with the term ("dental" finds
  "harbor dental");
- ``contains_match``: the term anywhere in the key ("4417" in "ro 44170").

The last two are ``LIKE '%...%'`` patterns: on PostgreSQL the key columns carry
``pg_trgm`` GIN indexes (``gin_trgm_ops``), which answer them; on SQLite they scan the
table, which stays correct and fast enough for the lists' sizes.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, String, and_, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_HIGHEST = "\U0010ffff"  # sorts after every character, byte-wise in UTF-8 too


def search_key(value: str | None) -> str:
    """The form names are searched by: Unicode case-folded, single spaces. A NUL is a
    space too: PostgreSQL refuses it in any text parameter (a 500 from a search box)."""
    return " ".join((value or "").replace("\x00", " ").casefold().split())


def prefix_match(column, term: str):
    """``column`` starts with ``term`` (a search key), as an index range. The LIKE only
    re-checks the rows the range found (it matters under a non-C collation)."""
    return and_(column >= term, column < term + _HIGHEST, column.startswith(term, autoescape=True))


def _escape_like(term: str) -> str:
    return term.replace("/", "//").replace("%", "/%").replace("_", "/_")


class _KeyMatch(FunctionElement):
    """``column`` matches ``term`` anywhere (``word_start`` False) or at a word start.
    PostgreSQL: ``LIKE`` patterns, which the trigram indexes answer. SQLite (no index
    for either, a table scan): ``instr()`` first, about twice as fast as ``LIKE ...
    ESCAPE`` per row, and the word-start ``LIKE`` only on the rows it found."""

    type = Boolean()
    inherit_cache = True
    name = "key_match"

    def __init__(self, column, term: str, word_start: bool):
        escaped = _escape_like(term)
        patterns = (escaped + "%", "% " + escaped + "%") if word_start else ("%" + escaped + "%",)
        super().__init__(column, literal(term), *(literal(p) for p in patterns))
        self.word_start = word_start


@compiles(_KeyMatch)
def _key_match_like(element, compiler, **kw):
    column, _term, *patterns = element.clauses
    likes = [f"{compiler.process(column, **kw)} LIKE {compiler.process(p, **kw)} ESCAPE '/'" for p in patterns]
    return "(" + " OR ".join(likes) + ")"


@compiles(_KeyMatch, "sqlite")
def _key_match_instr(element, compiler, **kw):
    column, term, *patterns = element.clauses
    column, term = compiler.process(column, **kw), compiler.process(term, **kw)
    found = f"instr({column}, {term}) > 0"
    if not element.word_start:
        return f"({found})"
    # instr first: the LIKEs then run only on the few rows that contain the term.
    likes = " OR ".join(f"{column} LIKE {compiler.process(p, **kw)} ESCAPE '/'" for p in patterns)
    return f"({found} AND ({likes}))"


def contains_match(column, term: str):
    """``column`` contains ``term`` (a search key) anywhere; wildcards are plain characters."""
    return _KeyMatch(column, term, word_start=False)


def word_start_match(column, term: str):
    """A word of ``column`` starts with ``term``: the key's start, or just after a space."""
    return _KeyMatch(column, term, word_start=True)


def search_key_type(length: int):
    """The column type of a ``*_key``: byte order (``COLLATE "C"``) on PostgreSQL, where
    a linguistic collation would break ``prefix_match``'s range; SQLite compares bytes."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def trigram_index(name: str, column: str) -> Index:
    """A ``pg_trgm`` GIN index on a key column, for ``word_start_match`` and
    ``contains_match``; PostgreSQL only (SQLite has no such index and scans)."""
    return Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}).ddl_if(
        dialect="postgresql"
    )


def autogenerate_filter(dialect_name: str):
    """Alembic's ``include_object`` for an engine: leave out the indexes that their
    ``ddl_if`` keeps off it (the trigram indexes on SQLite), which Alembic's
    autogenerate would otherwise report as missing (sqlalchemy/alembic#1491)."""

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "index" and not reflected:
            condition = getattr(obj, "_ddl_if", None)
            if condition is not None and condition.dialect not in (None, dialect_name):
                return False
        return True

    return include_object
