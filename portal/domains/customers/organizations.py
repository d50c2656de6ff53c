"""Organizations: the parent/sub-organization tree and the rules around it; creating
and editing (billing settings, parent without cycles, account team); the indexed list
(word-start and contains search, keyset pages); what the organization page shows (tree, counts with and
without sub-organizations, onboarding facts)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import case, column, delete, func, insert, or_, select, table, update
from sqlalchemy.orm import joinedload

from portal.core.db import utcnow
from portal.core.errors import InvalidInput
from portal.core.extensions import db
from portal.core.i18n import normalise
from portal.core.parsing import parse_id
from portal.core.queries import keyset
from portal.core.queries.search import contains_match, search_key, word_start_match
from portal.core.queries.tree import walk_down, walk_up
from portal.domains.customers.models import INVOICE_TEMPLATES, TAX_REGIONS, Contact, Organization, organization_team
from portal.domains.identity.models import StaffUser


def subtree_query(organization_id: int):
    """A SELECT of the organization's id and every sub-organization's below it, for ``in_``
    (the guarded walk of ``core.queries.tree``: a cycle in old data cannot hang it)."""
    tree = walk_down(Organization.id, Organization.parent_id, organization_id)
    return select(tree.c.id)


def subtree_ids(organization_id: int) -> set[int]:
    """The organization and every sub-organization below it (a recursive query)."""
    return set(db.session.scalars(subtree_query(organization_id)))


def ancestor_ids(organization_id: int) -> list[int]:
    """The parents of an organization, nearest first (not the organization itself)."""
    chain = walk_up(Organization.id, Organization.parent_id, organization_id)
    rows = db.session.execute(select(chain.c.id, chain.c.depth).where(chain.c.depth > 0).order_by(chain.c.depth))
    found: list[int] = []
    for org_id, _depth in rows:
        if org_id != organization_id and org_id not in found:
            found.append(org_id)
    return found


# A fixed key for PostgreSQL's advisory lock that serialises re-parenting.
TREE_LOCK = 0x504F5243_4F524754 % (2**63)  # "PORCORGT"


def lock_tree(organization_id: int) -> None:
    """Hold the tree's write lock until the transaction ends, so that the cycle check
    that follows reads after any other re-parenting has committed (check-then-write
    would otherwise let two concurrent moves, A under B and B under A, make a cycle).

    PostgreSQL: a transaction-level advisory lock (re-parenting is rare; one at a time
    is cheap). SQLite: any write takes the database's single write lock (BEGIN
    IMMEDIATE in effect), so a no-op update of the row does."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(TREE_LOCK)))
    else:
        db.session.execute(
            update(Organization)
            .where(Organization.id == organization_id)
            .values(parent_id=Organization.parent_id)
            .execution_options(synchronize_session=False)
        )


# --- creating and editing ------------------------------------------------------------
#
# Rules that hold whoever makes the change (admin, CLI, demo):
#
# - a name is required; the tax id uses letters, digits, spaces and ``- . /`` only, has
#   2 to 40 characters, and is required when the tax region is not "none";
# - the invoice template and tax region come from ``INVOICE_TEMPLATES``/``TAX_REGIONS``;
# - "bill to parent" needs a parent; an organization that bills itself needs a billing
#   address;
# - no cycles: the new parent may not be the organization or anything below it;
# - the account manager and team members are enabled staff users.
#
# Functions flush and never commit: the caller commits once.

TAX_ID_PATTERN = re.compile(r"[A-Za-z0-9 ./-]*")
TAX_ID_LENGTH = (2, 40)
MAX_LENGTHS = {"name": 200, "city": 120, "zone": 80, "billing_attention": 200, "billing_address": 2000}
# The billing fields whose change makes a past review stale.
BILLING_FIELDS = ("bill_to_parent", "invoice_template", "tax_region", "tax_id", "billing_address", "billing_attention")


@dataclass
class OrganizationInput:
    """What staff type for an organization. ``parent`` and ``account_manager`` are
    objects the caller loaded (and access-checked); ``billing_reviewed`` states that
    someone checked the billing settings as they now are."""

    name: str
    city: str = ""
    parent: Organization | None = None
    # The sales territory assignment rules match ("North"); optional.
    zone: str = ""
    bill_to_parent: bool = False
    invoice_template: str = "standard"
    tax_region: str = "none"
    tax_id: str = ""
    billing_address: str = ""
    billing_attention: str = ""
    billing_reviewed: bool = False
    account_manager: StaffUser | None = None
    # The SLA of its tickets; None inherits (the nearest parent's, else the default).
    sla_id: int | None = None
    # A supplier staff may ask for prices (an opportunity's supplier quotations).
    is_supplier: bool = False
    # Its contacts' language when they chose none; empty: the browser's, then the instance's.
    default_language: str = ""


def _clean(value: str | None) -> str:
    return (value or "").strip()


def tax_id_error(tax_id: str, tax_region: str) -> str | None:
    """The message for a tax id that breaks the rules, or None."""
    tax_id = _clean(tax_id)
    if not tax_id:
        if tax_region != "none":
            return _("Enter the tax ID: it is required with a tax region.")
        return None
    if not TAX_ID_PATTERN.fullmatch(tax_id):
        return _("A tax ID uses only letters, digits, spaces and - . /")
    low, high = TAX_ID_LENGTH
    if not low <= len(tax_id) <= high:
        return _("A tax ID has %(low)s to %(high)s characters.", low=low, high=high)
    return None


def parent_error(organization: Organization | None, parent: Organization | None) -> str | None:
    """Why ``parent`` cannot be the parent of ``organization`` (None for a new one), or None.

    Cycles are refused: the new parent may not be the organization itself nor any of
    its sub-organizations, however deep (``subtree_ids``). Takes the tree's write lock
    first (``lock_tree``), held until the caller's commit.
    """
    if parent is None or organization is None or organization.id is None:
        return None
    if parent.id == organization.id:
        return _("An organization cannot be its own parent.")
    lock_tree(organization.id)
    if parent.id in subtree_ids(organization.id):
        return _(
            "%(parent)s is a sub-organization of %(organization)s: it cannot be its parent.",
            parent=parent.name,
            organization=organization.name,
        )
    return None


def organization_errors(data: OrganizationInput, organization: Organization | None = None) -> dict[str, str]:
    """Every rule ``data`` breaks, one message per field (empty when all is well)."""
    errors: dict[str, str] = {}
    if not _clean(data.name):
        errors["name"] = _("Enter the organization's name.")
    for field, limit in MAX_LENGTHS.items():
        if field not in errors and len(_clean(getattr(data, field))) > limit:
            errors[field] = _("Use at most %(n)s characters.", n=limit)
    if data.invoice_template not in INVOICE_TEMPLATES:
        errors["invoice_template"] = _("Choose an invoice template from the list.")
    if data.tax_region not in TAX_REGIONS:
        errors["tax_region"] = _("Choose a tax region from the list.")
    else:
        message = tax_id_error(data.tax_id, data.tax_region)
        if message:
            errors["tax_id"] = message
    changes_parent = organization is None or data.parent is None or data.parent.id != organization.parent_id
    if data.parent is not None and changes_parent:
        message = parent_error(organization, data.parent)
        if message is None and not data.parent.is_active:
            message = _("%(parent)s is inactive: choose an active parent organization.", parent=data.parent.name)
        if message:
            errors["parent_id"] = message
    if data.bill_to_parent and data.parent is None:
        errors["bill_to_parent"] = _(
            "Billing to the parent needs a parent organization: choose one, or untick this box."
        )
    if not data.bill_to_parent and not _clean(data.billing_address):
        errors["billing_address"] = _(
            'Enter a billing address: the organization bills itself (or tick "Bill to parent").'
        )
    # The SLA belongs to the service desk, above this domain: check the foreign key's
    # target by table name rather than import its model.
    slas = table("slas", column("id"))
    if data.sla_id and db.session.scalar(select(slas.c.id).where(slas.c.id == data.sla_id)) is None:
        errors["sla_id"] = _("Choose an SLA from the list.")
    manager = data.account_manager
    if (
        manager is not None
        and not manager.is_enabled
        and (organization is None or manager.id != organization.account_manager_id)
    ):
        errors["account_manager_id"] = _("Choose an enabled staff member.")  # a disabled one may stay
    if _clean(data.default_language) and normalise(data.default_language) is None:
        errors["default_language"] = _("Choose a language from the list.")
    return errors


def _apply(organization: Organization, data: OrganizationInput) -> None:
    before = {field: getattr(organization, field) for field in BILLING_FIELDS}
    organization.name = data.name
    organization.city = data.city
    organization.zone = " ".join((data.zone or "").split())
    organization.parent_id = data.parent.id if data.parent else None
    organization.bill_to_parent = bool(data.bill_to_parent)
    organization.invoice_template = data.invoice_template
    organization.tax_region = data.tax_region
    organization.tax_id = data.tax_id
    organization.billing_address = _clean(data.billing_address)
    organization.billing_attention = _clean(data.billing_attention)
    organization.account_manager_id = data.account_manager.id if data.account_manager else None
    organization.sla_id = data.sla_id or None
    organization.is_supplier = bool(data.is_supplier)
    organization.default_language = normalise(data.default_language)
    changed = any(getattr(organization, field) != value for field, value in before.items())
    if not data.billing_reviewed:
        organization.billing_reviewed_at = None
    elif organization.billing_reviewed_at is None or changed:
        # Ticked for what the settings are now: a new review if they changed.
        organization.billing_reviewed_at = utcnow()


def create_organization(data: OrganizationInput) -> Organization:
    """A new active organization; raises ``InvalidInput`` with a message per field."""
    errors = organization_errors(data)
    if errors:
        raise InvalidInput(errors)
    organization = Organization(name=data.name, is_active=True)
    _apply(organization, data)
    db.session.add(organization)
    db.session.flush()
    return organization


def update_organization(organization: Organization, data: OrganizationInput) -> Organization:
    """Change details, parent, billing settings and account manager together (all or nothing)."""
    errors = organization_errors(data, organization)
    if errors:
        raise InvalidInput(errors)
    _apply(organization, data)
    db.session.flush()
    return organization


def set_parent(organization: Organization, parent: Organization | None) -> None:
    """Make ``parent`` (or nothing) the parent of ``organization``, refusing cycles."""
    if parent is not None and parent.id != organization.parent_id:
        message = parent_error(organization, parent)
        if message:
            raise InvalidInput({"parent_id": message})
    if parent is None and organization.bill_to_parent:
        raise InvalidInput(
            {
                "bill_to_parent": _(
                    'This organization bills its parent: untick "Bill to parent" before removing the parent.'
                )
            }
        )
    organization.parent_id = parent.id if parent else None
    db.session.flush()


def set_account_team(organization: Organization, staff_ids) -> list[StaffUser]:
    """Replace the account team with these staff members. New members must be enabled
    staff users; a member disabled since may stay (disabled users cannot sign in)."""
    wanted = {int(i) for i in staff_ids}
    users = list(db.session.scalars(select(StaffUser).where(StaffUser.id.in_(wanted)))) if wanted else []
    current = set(
        db.session.scalars(
            select(organization_team.c.staff_id).where(organization_team.c.organization_id == organization.id)
        )
    )
    if len(users) != len(wanted) or any(not user.is_enabled and user.id not in current for user in users):
        raise InvalidInput({"team_ids": _("Choose enabled staff members from the list.")})
    if current - wanted:
        db.session.execute(
            delete(organization_team).where(
                organization_team.c.organization_id == organization.id,
                organization_team.c.staff_id.in_(current - wanted),
            )
        )
    if wanted - current:
        db.session.execute(
            insert(organization_team),
            [{"organization_id": organization.id, "staff_id": i} for i in sorted(wanted - current)],
        )
    db.session.expire(organization, ["team"])  # written through the table: reload on next use
    db.session.flush()
    return sorted(users, key=lambda user: user.name)


def deactivate_organization(organization: Organization) -> None:
    """Mark the organization inactive: it leaves the default list and takes no new contacts.

    Its sub-organizations, contacts and proposals stay as they are.
    """
    organization.is_active = False
    db.session.flush()


def reactivate_organization(organization: Organization) -> None:
    organization.is_active = True
    db.session.flush()


def mark_billing_reviewed(organization: Organization) -> None:
    """Record that someone checked the billing settings as they are now."""
    organization.billing_reviewed_at = utcnow()
    db.session.flush()


# --- the list: search, sort and keyset pagination ------------------------------------
#
# Built to stay fast at 100,000 organizations. The search matches what staff expect: a
# word start in the name or the city ("dental" finds "Harbor Dental", "north" finds
# "North Campus"), the tax id anywhere ("4417"), on the case-folded ``*_key`` columns
# (``core.queries.search``); on PostgreSQL their ``pg_trgm`` indexes answer it, on
# SQLite it scans, which stays correct. Pages follow a keyset cursor (the last row's
# sort key and id), never an OFFSET, and nothing counts every row: one more row than a
# page tells whether another page follows.

SORTS = ("name", "city", "created")
PAGE_SIZE = 50


def search_condition(query: str):
    """Organizations with a word of the name or city starting with ``query``, or a tax
    id containing it (any case), or None for no query."""
    term = search_key(query)
    if not term:
        return None
    return or_(
        word_start_match(Organization.name_key, term),
        word_start_match(Organization.city_key, term),
        contains_match(Organization.tax_id_key, term),
    )


def _sort_columns(sort: str) -> tuple:
    # "created" follows the id: ids rise with creation, and the primary key is indexed
    # where created_at is not.
    if sort == "city":
        return (Organization.city_key, Organization.id)
    if sort == "created":
        return (Organization.id,)
    return (Organization.name_key, Organization.id)


def _unindexed(column):
    """The same order as ``column``, as an expression no index provides."""
    return column + 0 if column.key == "id" else column.concat("")


def encode_cursor(values) -> str:
    return keyset.encode_cursor(values)


def decode_cursor(cursor: str | None, sort: str) -> tuple | None:
    """The sort key a cursor carries, or None for a missing or malformed one (first page)."""
    values = keyset.decode_cursor(cursor)
    shape = (int,) if sort == "created" else (str, int)
    if values is None or len(values) != len(shape):
        return None
    if not all(type(value) is kind for value, kind in zip(values, shape, strict=True)):
        return None
    if parse_id(values[-1]) is None:  # an id past the id columns makes the driver raise
        return None
    if any(type(value) is str and (len(value) > 1000 or "\x00" in value) for value in values):
        return None  # longer than any sort key; NUL is refused by PostgreSQL's text
    return tuple(values)


@dataclass
class OrganizationPage:
    """One page of organizations and the cursors of the pages around it (None: no such page)."""

    organizations: list[Organization]
    next_cursor: str | None
    previous_cursor: str | None


def list_organizations(
    base,
    query: str = "",
    status: str = "active",
    sort: str = "name",
    descending: bool = False,
    after: str | None = None,
    before: str | None = None,
    per_page: int = PAGE_SIZE,
) -> OrganizationPage:
    """One page of ``base`` (the access-checked query from ``portal.access.staff``) in one
    statement: searched, filtered by status (active, inactive, all), sorted, each with
    its parent loaded. ``after``/``before`` are cursors from an earlier page."""
    sort = sort if sort in SORTS else "name"
    columns = _sort_columns(sort)
    stmt = base.options(joinedload(Organization.parent))
    condition = search_condition(query)
    if condition is not None:
        stmt = stmt.where(condition)
    if status == "active":
        stmt = stmt.where(Organization.is_active.is_(True))
    elif status == "inactive":
        stmt = stmt.where(Organization.is_active.is_(False))
    backwards = False
    values = decode_cursor(after, sort)
    if values is None:
        values = decode_cursor(before, sort)
        backwards = values is not None
    reverse = descending != backwards  # a previous page is read backwards, then flipped
    if values is not None:
        stmt = stmt.where(keyset.after_key(columns, values, reverse))
    order = columns
    if condition is not None:
        # Sort by an expression the index cannot give: otherwise PostgreSQL may walk the
        # whole sort index hoping to meet the matches early (a LIMIT without ORDER BY
        # knowledge of where they are), instead of collecting them from the three
        # trigram indexes (a BitmapOr) and sorting those few. SQLite scans the table
        # once and sorts the matches (walking the sort index instead is many times
        # slower for a rare term: measured at 100,000 rows).
        order = tuple(_unindexed(column) for column in columns)
    stmt = stmt.order_by(*(column.desc() if reverse else column.asc() for column in order)).limit(per_page + 1)
    rows = list(db.session.scalars(stmt))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    has_next = True if backwards else more
    has_previous = more if backwards else values is not None

    def key(organization: Organization) -> str:
        return encode_cursor(getattr(organization, column.key) for column in columns)

    return OrganizationPage(
        organizations=rows,
        next_cursor=key(rows[-1]) if rows and has_next else None,
        previous_cursor=key(rows[0]) if rows and has_previous else None,
    )


def choose_organizations(base, query: str = "", exclude=None, limit: int = 50) -> list[tuple[int, str]]:
    """(id, name) of the first active organizations of ``base`` by name, or of those
    with a word of the name starting with ``query``: the few a select offers (the rest are found by searching)."""
    stmt = (
        base.with_only_columns(Organization.id, Organization.name)
        .where(Organization.is_active.is_(True))
        .order_by(Organization.name_key, Organization.id)
    )
    term = search_key(query)
    if term:
        stmt = stmt.where(word_start_match(Organization.name_key, term))
    if exclude is not None:
        stmt = stmt.where(Organization.id.not_in(exclude))
    return [(row.id, row.name) for row in db.session.execute(stmt.limit(limit))]


# --- the organization page --------------------------------------------------------------


@dataclass
class OrganizationTree:
    """Where an organization sits: the ancestors one may see (root first), whether some
    are hidden, and its direct sub-organizations with their own children counts."""

    ancestors: list[Organization]
    hidden_ancestors: int
    children: list[tuple[Organization, int]]


def organization_tree(organization: Organization, visible) -> OrganizationTree:
    """The tree around ``organization`` as far as ``visible`` (an access-checked
    organization query) lets one see it: three statements plus the ancestor walk."""
    chain = ancestor_ids(organization.id)
    ancestors = []
    if chain:
        found = {o.id: o for o in db.session.scalars(visible.where(Organization.id.in_(chain)))}
        ancestors = [found[i] for i in reversed(chain) if i in found]
    children = list(
        db.session.scalars(
            visible.where(Organization.parent_id == organization.id).order_by(Organization.name_key, Organization.id)
        )
    )
    counts = {}
    if children:
        counts = dict(
            db.session.execute(
                visible.with_only_columns(Organization.parent_id, func.count(Organization.id))
                .where(Organization.parent_id.in_([child.id for child in children]))
                .group_by(Organization.parent_id)
            ).all()
        )
    return OrganizationTree(
        ancestors=ancestors,
        hidden_ancestors=len(chain) - len(ancestors),
        children=[(child, counts.get(child.id, 0)) for child in children],
    )


def visible_subtree(organization: Organization, visible):
    """A SELECT of the ids of the organization and of its sub-organizations that
    ``visible`` lets one see (for ``in_``; the tree is walked in SQL, not loaded)."""
    return visible.with_only_columns(Organization.id).where(Organization.id.in_(subtree_query(organization.id)))


@dataclass
class ContactCounts:
    """Active contacts of the organization alone and with its (visible) sub-organizations."""

    here: int
    with_subs: int


def contact_counts(organization: Organization, scope) -> ContactCounts:
    """Both switch positions in one grouped statement; ``scope`` is ``visible_subtree``."""
    here = case((Contact.organization_id == organization.id, 1), else_=0)
    contacts, contacts_here = db.session.execute(
        select(func.count(Contact.id), func.coalesce(func.sum(here), 0)).where(
            Contact.organization_id.in_(scope), Contact.is_active.is_(True)
        )
    ).one()
    return ContactCounts(here=int(contacts_here), with_subs=int(contacts))


def organization_contacts(scope, limit: int = 100) -> list[Contact]:
    """The active contacts of the organizations in ``scope``, primary first, each with
    its organization (one statement)."""
    return list(
        db.session.scalars(
            select(Contact)
            .options(joinedload(Contact.organization))
            .where(Contact.organization_id.in_(scope), Contact.is_active.is_(True))
            .order_by(Contact.is_primary.desc(), Contact.last_name, Contact.first_name, Contact.id)
            .limit(limit)
        )
    )


@dataclass
class Onboarding:
    """The onboarding checklist of an organization."""

    account_team: bool
    primary_contact: bool
    portal_contact: bool
    billing_reviewed: bool
    sla: object  # the service desk's AppliedSla: anything with ``chosen``

    @property
    def sla_chosen(self) -> bool:
        return self.sla.chosen

    @property
    def done(self) -> int:
        return sum(
            (self.account_team, self.primary_contact, self.portal_contact, self.billing_reviewed, self.sla_chosen)
        )


def onboarding(organization: Organization, sla) -> Onboarding:
    """Where the organization stands in onboarding, in a few small statements; ``sla``
    is what the service desk says applies (``service_desk.sla.applied_sla``)."""
    team = db.session.scalar(
        select(organization_team.c.staff_id).where(organization_team.c.organization_id == organization.id).limit(1)
    )
    primary, portal = db.session.execute(
        select(
            func.coalesce(func.max(case((Contact.is_primary.is_(True), 1), else_=0)), 0),
            func.coalesce(func.max(case((Contact.portal_enabled.is_(True), 1), else_=0)), 0),
        ).where(Contact.organization_id == organization.id, Contact.is_active.is_(True))
    ).one()
    return Onboarding(
        account_team=team is not None or organization.account_manager_id is not None,
        primary_contact=bool(primary),
        portal_contact=bool(portal),
        billing_reviewed=organization.billing_reviewed_at is not None,
        sla=sla,
    )
