"""Which SLA an organization's tickets run on, read for the pages that explain it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.core.extensions import db
from portal.core.queries.tree import walk_up
from portal.domains.customers.models import Organization
from portal.domains.service_desk.models import Sla


@dataclass
class AppliedSla:
    """The SLA an organization's tickets run on (before any issue type overrides it)
    and where it comes from: ``source`` is "here" (set on the organization),
    "inherited" (from the ancestor ``from_id``/``from_name``), "default", or "none"."""

    source: str
    sla_id: int | None = None
    sla_name: str = ""
    from_id: int | None = None
    from_name: str = ""

    @property
    def chosen(self) -> bool:
        """Set on the organization or one of its parents (the default is no choice)."""
        return self.source in ("here", "inherited")


def applied_sla(organization: Organization) -> AppliedSla:
    """The nearest SLA up the tree (the organization first), else the default SLA.
    The one rule (``tickets.resolve_sla`` puts only the issue types before it): one
    guarded recursive query (``core.queries.tree``), one more for the default."""
    return applied_sla_of(organization.id)


def applied_sla_of(organization_id: int) -> AppliedSla:
    """``applied_sla`` by the organization's id."""
    chain = walk_up(
        Organization.id,
        Organization.parent_id,
        organization_id,
        Organization.sla_id.label("sla_id"),
        Organization.name.label("name"),
        name="sla_chain",
    )
    row = db.session.execute(
        select(chain.c.id, chain.c.name, Sla.id, Sla.name)
        .join(Sla, Sla.id == chain.c.sla_id)
        .order_by(chain.c.depth)
        .limit(1)
    ).first()
    if row is not None:
        org_id, org_name, sla_id, sla_name = row
        if org_id == organization_id:
            return AppliedSla("here", sla_id, sla_name)
        return AppliedSla("inherited", sla_id, sla_name, org_id, org_name)
    default = db.session.execute(
        select(Sla.id, Sla.name).where(Sla.is_default.is_(True)).order_by(Sla.id).limit(1)
    ).first()
    if default is not None:
        return AppliedSla("default", default[0], default[1])
    return AppliedSla("none")
