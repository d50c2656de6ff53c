"""Organizations: the parent/sub-organization tree and the rules around it."""
from __future__ import annotations

from sqlalchemy import literal, select

from portal.extensions import db
from portal.models import Organization


def subtree_ids(organization_id: int) -> set[int]:
    """The organization and every sub-organization below it (a recursive query)."""
    tree = (
        select(Organization.id.label("id"))
        .where(Organization.id == organization_id)
        .cte("tree", recursive=True)
    )
    tree = tree.union_all(select(Organization.id).join(tree, Organization.parent_id == tree.c.id))
    return set(db.session.scalars(select(tree.c.id)))


def ancestor_ids(organization_id: int) -> list[int]:
    """The parents of an organization, nearest first (not the organization itself)."""
    chain = (
        select(Organization.parent_id.label("id"), literal(1).label("depth"))
        .where(Organization.id == organization_id)
        .cte("chain", recursive=True)
    )
    chain = chain.union_all(
        select(Organization.parent_id, chain.c.depth + 1)
        .join(chain, Organization.id == chain.c.id)
        .where(chain.c.depth < 1000)
    )
    rows = db.session.execute(select(chain.c.id).where(chain.c.id.is_not(None)).order_by(chain.c.depth))
    return [row[0] for row in rows]
