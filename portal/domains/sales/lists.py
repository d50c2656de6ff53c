"""The admin-edited lists: stages, opportunity types, sources, lost reasons and
competitors. Read by every form and filter (active ones, in order); changed by
admins. A list entry in use is renamed or deactivated, never deleted; the last
active won stage and the last active lost stage stay.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.numbers import list_currencies
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.sales.models import (
    Competitor,
    LostReason,
    Opportunity,
    OpportunityType,
    Outcome,
    Source,
    Stage,
    opportunity_competitors,
    opportunity_lost_reasons,
)

# The currencies an opportunity may be in: ISO 4217 codes Babel knows, the usual ones first.
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "RON", "CAD")
CURRENCIES = COMMON_CURRENCIES + tuple(sorted(set(list_currencies()) - set(COMMON_CURRENCIES)))
KNOWN_CURRENCIES = frozenset(CURRENCIES)


@dataclass(frozen=True)
class ListKind:
    """One of the lists, as the setup pages address it (``/admin/sales/lists/<slug>``)."""

    slug: str
    model: type
    title: str
    singular: str


LIST_KINDS = {
    kind.slug: kind
    for kind in (
        ListKind("stages", Stage, _l("Stages"), _l("stage")),
        ListKind("types", OpportunityType, _l("Opportunity types"), _l("type")),
        ListKind("sources", Source, _l("Sources"), _l("source")),
        ListKind("lost-reasons", LostReason, _l("Lost reasons"), _l("lost reason")),
        ListKind("competitors", Competitor, _l("Competitors"), _l("competitor")),
    )
}


def entries(model, active_only: bool = True, keep_ids=()) -> list:
    """A list in its order: the active entries (plus ``keep_ids``, the values an edited
    record already has, so a deactivated one still shows as chosen)."""
    query = select(model).order_by(model.position, model.id)
    if active_only:
        keep = [i for i in keep_ids if i]
        query = query.where(model.is_active.is_(True) | model.id.in_(keep)) if keep else query.where(model.is_active)
    return list(db.session.scalars(query))


def open_stages() -> list[Stage]:
    """The board's default columns: active open stages, in order."""
    return list(
        db.session.scalars(
            select(Stage)
            .where(Stage.is_active.is_(True), Stage.outcome == Outcome.OPEN)
            .order_by(Stage.position, Stage.id)
        )
    )


def stage_by_key(key: str) -> Stage | None:
    return db.session.scalar(select(Stage).where(Stage.key == key))


def first_stage(outcome: str) -> Stage | None:
    """The first active stage with this outcome (where "won" and "lost" land when the
    stage a key names was deactivated)."""
    return db.session.scalar(
        select(Stage)
        .where(Stage.outcome == outcome, Stage.is_active.is_(True))
        .order_by(Stage.position, Stage.id)
        .limit(1)
    )


def lost_reason_by_key(key: str) -> LostReason | None:
    return db.session.scalar(select(LostReason).where(LostReason.key == key))


# --- editing ------------------------------------------------------------------------


@dataclass
class EntryInput:
    name: str
    position: int | None = None
    is_active: bool = True
    # Stages only
    outcome: str | None = None
    default_probability: int | None = None
    is_waiting_on_customer: bool = False


def _in_use(model, entry_id: int) -> bool:
    if model is Stage:
        condition = exists().where(Opportunity.stage_id == entry_id)
    elif model is OpportunityType:
        condition = exists().where(Opportunity.type_id == entry_id)
    elif model is Source:
        condition = exists().where(Opportunity.source_id == entry_id)
    elif model is LostReason:
        condition = exists().where(opportunity_lost_reasons.c.lost_reason_id == entry_id)
    else:
        condition = exists().where(opportunity_competitors.c.competitor_id == entry_id)
    return bool(db.session.scalar(select(condition)))


def _check_closing_stages_remain(stage: Stage | None, new_outcome: str | None, new_active: bool) -> None:
    """The last active won stage and the last active lost stage must stay (marking an
    opportunity won or lost needs somewhere to go)."""
    if stage is None or stage.outcome not in Outcome.CLOSED or not stage.is_active:
        return
    if new_active and new_outcome == stage.outcome:
        return
    others = db.session.scalar(
        select(func.count())
        .select_from(Stage)
        .where(Stage.outcome == stage.outcome, Stage.is_active.is_(True), Stage.id != stage.id)
    )
    if not others:
        if stage.outcome == Outcome.WON:
            raise NotAllowed(_("This is the last won stage: add another won stage first."))
        raise NotAllowed(_("This is the last lost stage: add another lost stage first."))


def save_entry(kind: ListKind, data: EntryInput, entry=None):
    """Add an entry to a list or change one (name, order, active; a stage's outcome,
    default probability and waiting flag). Flushes; the view commits."""
    model = kind.model
    errors: dict[str, str] = {}
    name = " ".join((data.name or "").split())
    if not name:
        errors["name"] = _("Give it a name.")
    elif len(name) > (80 if model is Stage else 120):
        errors["name"] = _("That name is too long.")
    elif db.session.scalar(
        select(model.id).where(func.lower(model.name) == name.lower(), model.id != (entry.id if entry else 0))
    ):
        errors["name"] = _("There is already one with that name.")
    if data.position is not None and not 0 <= data.position <= 100000:
        errors["position"] = _("Order must be a number from 0 to 100000.")
    if model is Stage:
        if data.outcome not in Outcome.ALL:
            errors["outcome"] = _("Choose open, won or lost.")
        if data.default_probability is None or not 0 <= data.default_probability <= 100:
            errors["default_probability"] = _("Probability must be a whole number from 0 to 100.")
    if errors:
        raise InvalidInput(errors)
    if model is Stage:
        _check_closing_stages_remain(entry, data.outcome, data.is_active)
        if entry is not None and entry.outcome != data.outcome and _in_use(Stage, entry.id):
            raise NotAllowed(_("Opportunities are in this stage: its outcome cannot change. Add a new stage instead."))
    if entry is None:
        entry = model(name=name)
        if data.position is None:
            last = db.session.scalar(select(func.max(model.position)))
            data.position = (last or 0) + 10
        db.session.add(entry)
    entry.name = name
    if data.position is not None:
        entry.position = data.position
    entry.is_active = bool(data.is_active)
    if model is Stage:
        entry.outcome = data.outcome
        entry.default_probability = data.default_probability
        entry.is_waiting_on_customer = bool(data.is_waiting_on_customer)
    db.session.flush()
    return entry


def delete_entry(kind: ListKind, entry) -> None:
    """Delete an entry nobody uses; one in use is deactivated instead (NotAllowed says so)."""
    if entry.key is not None:
        raise NotAllowed(_("The pipeline relies on this one: rename or deactivate it instead."))
    if _in_use(kind.model, entry.id):
        raise NotAllowed(_("It is in use: deactivate it instead."))
    if kind.model is Stage:
        _check_closing_stages_remain(entry, None, False)
    db.session.delete(entry)
    db.session.flush()
