"""Walking a parent/child tree stored as ``id``/``parent_id`` in SQL (recursive CTEs).

The one implementation of the tree walk: the organization subtree and ancestors, the
SLA an organization inherits, the report's roll-up all use it. Each walk carries a
guard so that a cycle in the data (written before the write-side check held, or by
hand) ends the query instead of looping for ever:

- a step never returns to the row the walk started from (the common cycle, A -> B -> A);
- and no walk goes deeper than ``MAX_DEPTH`` (any other cycle, or absurd depth).

Under ``UNION ALL`` a cycle that does not pass through the start may still give a row
more than once before the depth guard stops it: callers take distinct ids (``in_``,
a set, the first row by depth).
"""

from __future__ import annotations

from sqlalchemy import literal, select

MAX_DEPTH = 100


def walk_down(id_column, parent_column, root_id, name: str = "subtree"):
    """A recursive CTE of ``root_id`` (depth 0) and every row below it, with columns
    ``id`` and ``depth``."""
    tree = (
        select(id_column.label("id"), literal(0).label("depth")).where(id_column == root_id).cte(name, recursive=True)
    )
    return tree.union_all(
        select(id_column, tree.c.depth + 1)
        .join(tree, parent_column == tree.c.id)
        .where(tree.c.depth < MAX_DEPTH, id_column != root_id)
    )


def walk_up(id_column, parent_column, start, *columns, name: str = "chain"):
    """A recursive CTE of each starting row (depth 0) and every parent above it, nearest
    first: columns ``start_id``, ``id``, ``parent_id``, ``depth`` and ``columns`` (other
    columns of the same table, as they are labelled). ``start`` is one id or a SELECT
    of ids (walked all at once)."""
    condition = id_column.in_(start) if hasattr(start, "subquery") else id_column == start
    chain = (
        select(
            id_column.label("start_id"),
            id_column.label("id"),
            parent_column.label("parent_id"),
            *columns,
            literal(0).label("depth"),
        )
        .where(condition)
        .cte(name, recursive=True)
    )
    return chain.union_all(
        select(chain.c.start_id, id_column, parent_column, *columns, chain.c.depth + 1)
        .join(chain, id_column == chain.c.parent_id)
        .where(chain.c.depth < MAX_DEPTH, id_column != chain.c.start_id)
    )
