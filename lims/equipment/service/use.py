"""Using equipment: the one rule that refuses items that must not be used, and the record of every use."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.equipment.errors import (
    CalibrationOverdue,
    EquipmentOutOfTolerance,
    EquipmentRetired,
    EquipmentUnderMaintenance,
    EquipmentUnusable,
)
from lims.equipment.models import (
    Equipment,
    EquipmentStatus,
    EquipmentType,
    EquipmentUse,
)
from lims.equipment.service.inventory import (
    status_condition,
    status_condition_any_day,
    status_expression,
    status_of,
    status_on,
)
from lims.identity.models import User
from lims.pagination import PICKER_SIZE, REFUSED_SHOWN, KeysetPage, page_after

#: statuses in which equipment must not be used, and how a use is refused in each
BLOCKING_STATUSES: dict[EquipmentStatus, type[EquipmentUnusable]] = {
    EquipmentStatus.OVERDUE: CalibrationOverdue,
    EquipmentStatus.OUT_OF_TOLERANCE: EquipmentOutOfTolerance,
    EquipmentStatus.UNDER_MAINTENANCE: EquipmentUnderMaintenance,
    EquipmentStatus.RETIRED: EquipmentRetired,
}
_USABLE = [status for status in EquipmentStatus if status not in BLOCKING_STATUSES]


def record_use(
    session: Session,
    equipment: Equipment,
    *,
    user: User,
    record_type: str,
    record_id: object,
    purpose: str,
    due_soon_days: int,
) -> EquipmentUse:
    """Record that ``user`` used ``equipment`` for a record; refuse equipment that must not be used.

    Every area that records equipment use calls this one rule.
    """
    require_usable(session, equipment, due_soon_days=due_soon_days)
    use = EquipmentUse(
        equipment_id=equipment.id,
        used_at=clock.now(),
        user_id=user.id,
        record_type=record_type,
        record_id=str(record_id),
        purpose=purpose,
    )
    session.add(use)
    session.flush()
    return use


def require_usable(session: Session, equipment: Equipment, *, due_soon_days: int) -> None:
    """Refuse equipment that must not be used now, with the use-blocking rule's message (before a record that
    will name it is made)."""
    status = status_of(session, equipment, due_soon_days=due_soon_days)
    refusal = _refusal(equipment, status)
    if refusal is not None:
        raise BLOCKING_STATUSES[status](refusal)


@dataclass(frozen=True)
class EquipmentChoice:
    equipment: Equipment
    status: EquipmentStatus
    #: why the item cannot be used, or None when it can
    refusal: str | None


def usable_items(
    session: Session,
    equipment_type: EquipmentType,
    *,
    due_soon_days: int,
    text: str = "",
    after: tuple[Any, ...] | None = None,
    limit: int = PICKER_SIZE,
) -> KeysetPage[tuple[Equipment, EquipmentStatus]]:
    """The items of a type the use-blocking rule lets be used now, with their status, matching ``text`` (asset tag
    or name), by asset tag from just after ``after``: a picker's page, filtered and limited in SQL."""
    status = status_expression(clock.today(), due_soon_days)
    query = select(Equipment, status).where(
        Equipment.equipment_type == equipment_type, _usable(due_soon_days), *_matching(text)
    )
    found = page_after(
        session, query, (Equipment.asset_tag,), after=after, limit=limit, key_of=lambda row: (row[0].asset_tag,)
    )
    return KeysetPage([(item, EquipmentStatus(value)) for item, value in found.items], found.next_key)


def unusable_items(
    session: Session, equipment_type: EquipmentType, *, due_soon_days: int, text: str = "", limit: int = REFUSED_SHOWN
) -> list[EquipmentChoice]:
    """The first items of a type matching ``text`` that must not be used now, each with why (what a picker names
    but does not offer)."""
    status = status_expression(clock.today(), due_soon_days)
    rows = session.execute(
        select(Equipment, status)
        .where(Equipment.equipment_type == equipment_type, _unusable(due_soon_days), *_matching(text))
        .order_by(Equipment.asset_tag)
        .limit(limit)
    )
    return [_choice(item, EquipmentStatus(value)) for item, value in rows]


def types_without_usable_item(
    session: Session, equipment_types: Iterable[EquipmentType], *, due_soon_days: int
) -> dict[EquipmentType, set[EquipmentStatus]]:
    """Of the types, those of which no item may be used now, with the statuses their items are in (none for a type
    without items): one query that stops at each type's first usable item, and one over the types found lacking."""
    wanted = tuple(sorted(set(equipment_types)))
    if not wanted:
        return {}
    today = clock.today()
    usable = set(session.scalars(_types_with_a_usable_item(wanted), status_on(today, due_soon_days)))
    lacking: dict[EquipmentType, set[EquipmentStatus]] = {
        equipment_type: set() for equipment_type in wanted if equipment_type.value not in usable
    }
    if lacking:
        status = status_expression(today, due_soon_days)
        for equipment_type, value in session.execute(
            select(Equipment.equipment_type, status)
            .where(Equipment.equipment_type.in_(lacking))
            .group_by(Equipment.equipment_type, status)
        ):
            lacking[equipment_type].add(EquipmentStatus(value))
    return lacking


@functools.lru_cache(maxsize=64)
def _types_with_a_usable_item(wanted: tuple[EquipmentType, ...]) -> CompoundSelect:
    """The statement naming which of the types have a usable item, stopping at each type's first: built once per set
    of types, as building it cost more than running it (the day comes as parameters, ``status_on``)."""
    usable_now = status_condition_any_day(_USABLE)
    return union_all(
        *(
            select(literal(equipment_type.value)).where(
                exists().where(Equipment.equipment_type == equipment_type, usable_now)
            )
            for equipment_type in wanted
        )
    )


def unusable_by_type(
    session: Session, equipment_types: Iterable[EquipmentType], *, due_soon_days: int, per_type: int = 3
) -> dict[EquipmentType, list[EquipmentChoice]]:
    """Per type, its first items (by asset tag) that must not be used now, with why, in one query: what a type
    without a usable item has instead."""
    wanted = set(equipment_types)
    found: dict[EquipmentType, list[EquipmentChoice]] = {equipment_type: [] for equipment_type in wanted}
    if not wanted:
        return found
    status = status_expression(clock.today(), due_soon_days)
    first = (
        select(
            Equipment.id,
            status.label("status"),
            func.row_number().over(partition_by=Equipment.equipment_type, order_by=Equipment.asset_tag).label("rank"),
        )
        .where(Equipment.equipment_type.in_(wanted), _unusable(due_soon_days))
        .subquery()
    )
    rows = session.execute(
        select(Equipment, first.c.status)
        .join(first, first.c.id == Equipment.id)
        .where(first.c.rank <= per_type)
        .order_by(Equipment.asset_tag)
    )
    for item, value in rows:
        found[item.equipment_type].append(_choice(item, EquipmentStatus(value)))
    return found


def _usable(due_soon_days: int) -> ColumnElement[bool]:
    return status_condition(_USABLE, clock.today(), due_soon_days)


def _unusable(due_soon_days: int) -> ColumnElement[bool]:
    # Spelt out rather than negated: a never calibrated item's comparisons are NULL, and NOT NULL selects nothing.
    return status_condition(BLOCKING_STATUSES, clock.today(), due_soon_days)


def _matching(text: str) -> list[ColumnElement[bool]]:
    if not text:
        return []
    return [or_(Equipment.asset_tag.icontains(text, autoescape=True), Equipment.name.icontains(text, autoescape=True))]


def _choice(item: Equipment, status: EquipmentStatus) -> EquipmentChoice:
    return EquipmentChoice(item, status, _refusal(item, status))


def _refusal(equipment: Equipment, status: EquipmentStatus) -> str | None:
    """Why an item in ``status`` must not be used, or None when it may: the one use-blocking rule."""
    if status not in BLOCKING_STATUSES:
        return None
    label = f"{equipment.asset_tag} ({equipment.name})"
    if status == EquipmentStatus.OVERDUE:
        due = (
            f"was due on {equipment.calibration_due_on.isoformat()}"
            if equipment.calibration_due_on
            else "has never been calibrated"
        )
        return f"{label} cannot be used: its calibration {due}."
    if status == EquipmentStatus.OUT_OF_TOLERANCE:
        return f"{label} cannot be used: its last calibration found it out of tolerance."
    if status == EquipmentStatus.UNDER_MAINTENANCE:
        return f"{label} cannot be used: it is under maintenance."
    return f"{label} cannot be used: it is retired."


def uses_since(session: Session, equipment: Equipment, since: datetime | None) -> list[EquipmentUse]:
    query = select(EquipmentUse).where(EquipmentUse.equipment_id == equipment.id).order_by(EquipmentUse.used_at)
    if since is not None:
        query = query.where(EquipmentUse.used_at >= since)
    return list(session.scalars(query))


def recent_uses(session: Session, equipment: Equipment, *, limit: int = 20) -> list[EquipmentUse]:
    return list(
        session.scalars(
            select(EquipmentUse)
            .where(EquipmentUse.equipment_id == equipment.id)
            .order_by(EquipmentUse.used_at.desc())
            .limit(limit)
            .options(selectinload(EquipmentUse.user))
        )
    )
