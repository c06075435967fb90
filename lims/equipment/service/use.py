"""Using equipment: the one rule that refuses items that must not be used, and the record of every use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
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
from lims.equipment.service.inventory import status_expression, status_of
from lims.identity.models import User

#: statuses in which equipment must not be used, and how a use is refused in each
BLOCKING_STATUSES: dict[EquipmentStatus, type[EquipmentUnusable]] = {
    EquipmentStatus.OVERDUE: CalibrationOverdue,
    EquipmentStatus.OUT_OF_TOLERANCE: EquipmentOutOfTolerance,
    EquipmentStatus.UNDER_MAINTENANCE: EquipmentUnderMaintenance,
    EquipmentStatus.RETIRED: EquipmentRetired,
}


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


def equipment_choices(session: Session, equipment_type: EquipmentType, *, due_soon_days: int) -> list[EquipmentChoice]:
    """Every item of a type with whether the use-blocking rule lets it be used now, and why not (for pickers)."""
    return equipment_choices_by_type(session, [equipment_type], due_soon_days=due_soon_days)[equipment_type]


def equipment_choices_by_type(
    session: Session, equipment_types: Iterable[EquipmentType], *, due_soon_days: int
) -> dict[EquipmentType, list[EquipmentChoice]]:
    """The choices of several types at once (one query), usable items first, for each type asked."""
    wanted = set(equipment_types)
    choices: dict[EquipmentType, list[EquipmentChoice]] = {equipment_type: [] for equipment_type in wanted}
    if not wanted:
        return choices
    status = status_expression(clock.today(), due_soon_days)
    rows = session.execute(
        select(Equipment, status).where(Equipment.equipment_type.in_(wanted)).order_by(Equipment.asset_tag)
    )
    for item, value in rows:
        choices[item.equipment_type].append(
            EquipmentChoice(item, EquipmentStatus(value), _refusal(item, EquipmentStatus(value)))
        )
    return {
        equipment_type: sorted(offered, key=lambda choice: choice.refusal is not None)
        for equipment_type, offered in choices.items()
    }


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
