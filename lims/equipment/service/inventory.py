"""The equipment inventory: registering, changing and retiring items, and their status.

The status is derived in SQL from the item's own row, so lists filter by it without loading rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Date, Select, and_, bindparam, case, false, func, or_, select, true
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.db import get_record
from lims.equipment.errors import EquipmentRetired, NotACentrifuge
from lims.equipment.models import Equipment, EquipmentStatus, EquipmentType
from lims.errors import AlreadyExists, OutOfRange
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement


def status_expression(today: date, due_soon_days: int) -> ColumnElement[str]:
    """The SQL expression of an equipment's status on ``today``: the one definition of status.

    It reads the equipment row alone, so a filtered page costs the same at any registry size.
    """
    return case(
        (Equipment.retired_at.is_not(None), EquipmentStatus.RETIRED.value),
        (Equipment.under_maintenance.is_(True), EquipmentStatus.UNDER_MAINTENANCE.value),
        (Equipment.out_of_tolerance.is_(True), EquipmentStatus.OUT_OF_TOLERANCE.value),
        (
            or_(Equipment.calibration_due_on.is_(None), Equipment.calibration_due_on < today),
            EquipmentStatus.OVERDUE.value,
        ),
        (Equipment.calibration_due_on <= today + timedelta(days=due_soon_days), EquipmentStatus.DUE_SOON.value),
        else_=EquipmentStatus.IN_SERVICE.value,
    )


def status_condition(statuses: Iterable[EquipmentStatus], today: date, due_soon_days: int) -> ColumnElement[bool]:
    """The condition that an item is in one of ``statuses`` on ``today``: ``status_expression`` spelt as plain
    comparisons of its columns, which the database answers from an index instead of computing every row's status."""
    return or_(*_status_parts(statuses, today, today + timedelta(days=due_soon_days)))


#: the day and the last day of the due-soon window of a statement built once and run on any day (``status_on``)
_TODAY = bindparam("equipment_status_today", type_=Date)
_DUE_SOON_UNTIL = bindparam("equipment_status_due_soon_until", type_=Date)


def status_condition_any_day(statuses: Iterable[EquipmentStatus]) -> ColumnElement[bool]:
    """``status_condition`` for a statement built once and kept: the day comes as parameters, ``status_on``'s."""
    return or_(*_status_parts(statuses, _TODAY, _DUE_SOON_UNTIL))


def status_on(today: date, due_soon_days: int) -> dict[str, date]:
    """The parameters of a statement with a ``status_condition_any_day`` for the status on ``today``."""
    return {_TODAY.key: today, _DUE_SOON_UNTIL.key: today + timedelta(days=due_soon_days)}


def _status_parts(
    statuses: Iterable[EquipmentStatus],
    today: date | ColumnElement[date],
    due_soon_until: date | ColumnElement[date],
) -> list[ColumnElement[bool]]:
    """``status_condition`` as conditions no two items share, each a plain conjunction an index range answers."""
    active: tuple[ColumnElement[bool], ...] = (
        Equipment.retired_at.is_(None),
        Equipment.under_maintenance == false(),
        Equipment.out_of_tolerance == false(),
    )
    parts: dict[EquipmentStatus, list[ColumnElement[bool]]] = {
        EquipmentStatus.RETIRED: [Equipment.retired_at.is_not(None)],
        EquipmentStatus.UNDER_MAINTENANCE: [
            and_(Equipment.retired_at.is_(None), Equipment.under_maintenance == true())
        ],
        EquipmentStatus.OUT_OF_TOLERANCE: [
            and_(
                Equipment.retired_at.is_(None),
                Equipment.under_maintenance == false(),
                Equipment.out_of_tolerance == true(),
            )
        ],
        EquipmentStatus.OVERDUE: [
            and_(*active, Equipment.calibration_due_on.is_(None)),
            and_(*active, Equipment.calibration_due_on < today),
        ],
        EquipmentStatus.DUE_SOON: [
            and_(*active, Equipment.calibration_due_on >= today, Equipment.calibration_due_on <= due_soon_until)
        ],
        EquipmentStatus.IN_SERVICE: [and_(*active, Equipment.calibration_due_on > due_soon_until)],
    }
    return [part for status in statuses for part in parts[status]]


def status_of(session: Session, equipment: Equipment, *, due_soon_days: int) -> EquipmentStatus:
    value = session.execute(
        select(status_expression(clock.today(), due_soon_days)).where(Equipment.id == equipment.id)
    ).scalar_one()
    return EquipmentStatus(value)


@dataclass(frozen=True)
class EquipmentFilter:
    status: EquipmentStatus | None = None
    equipment_type: EquipmentType | None = None
    location: str = ""
    text: str = ""


@dataclass(frozen=True)
class EquipmentPage:
    rows: list[tuple[Equipment, EquipmentStatus]]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def list_equipment(
    session: Session, criteria: EquipmentFilter, *, due_soon_days: int, page: int = 1, per_page: int = 25
) -> EquipmentPage:
    """A page of equipment with its status, filtered (status included) by the database."""
    query = _filtered(criteria, due_soon_days).order_by(Equipment.asset_tag)
    # One row more than a page tells whether a next page exists, without counting every match.
    rows = session.execute(query.limit(per_page + 1).offset((max(page, 1) - 1) * per_page)).all()
    return EquipmentPage(
        [(row[0], EquipmentStatus(row[1])) for row in rows[:per_page]], max(page, 1), len(rows) > per_page
    )


@dataclass(frozen=True)
class EquipmentWithStatus:
    equipment: Equipment
    status: EquipmentStatus


def equipment_after(
    session: Session, criteria: EquipmentFilter, *, due_soon_days: int, after: tuple[str] | None, limit: int
) -> KeysetPage[EquipmentWithStatus]:
    """Equipment with its status in asset-tag order, filtered like :func:`list_equipment`, after the tag ``after``."""
    found = page_after(
        session,
        _filtered(criteria, due_soon_days),
        (Equipment.asset_tag,),
        after=after,
        limit=limit,
        key_of=lambda row: (row[0].asset_tag,),
    )
    return KeysetPage(
        [EquipmentWithStatus(equipment, EquipmentStatus(status)) for equipment, status in found.items], found.next_key
    )


def _filtered(criteria: EquipmentFilter, due_soon_days: int) -> Select[Equipment, str]:
    status = status_expression(clock.today(), due_soon_days)
    query = select(Equipment, status)
    if criteria.status is not None:
        query = query.where(status_condition([criteria.status], clock.today(), due_soon_days))
    if criteria.equipment_type is not None:
        query = query.where(Equipment.equipment_type == criteria.equipment_type)
    if criteria.location:
        query = query.where(func.lower(Equipment.location).like(f"%{criteria.location.lower()}%"))
    if criteria.text:
        pattern = f"%{criteria.text.lower()}%"
        query = query.where(
            or_(
                func.lower(Equipment.asset_tag).like(pattern),
                func.lower(Equipment.name).like(pattern),
                func.lower(Equipment.serial_number).like(pattern),
            )
        )
    return query


def count_with_status(session: Session, statuses: frozenset[EquipmentStatus], *, due_soon_days: int) -> int:
    """How many items are in ``statuses``, in one statement: a count of each disjoint part of the condition, each
    answered from the calibration-state index alone."""
    today = clock.today()
    counts = [
        select(func.count()).select_from(Equipment).where(part).scalar_subquery()
        for part in _status_parts(statuses, today, today + timedelta(days=due_soon_days))
    ]
    return session.scalar(select(sum(counts[1:], counts[0]))) or 0


def get_equipment(session: Session, equipment_id: int) -> Equipment:
    return get_record(session, Equipment, equipment_id, "equipment")


def create_equipment(
    session: Session,
    *,
    asset_tag: str,
    name: str,
    equipment_type: EquipmentType,
    location: str,
    manufacturer: str,
    model: str,
    serial_number: str,
    calibration_interval_days: int,
    owner: User | None,
    rotor_radius: Measurement | None = None,
) -> Equipment:
    """Register a piece of equipment; it is overdue until its first calibration."""
    asset_tag = asset_tag.strip().upper()
    if session.scalar(select(Equipment.id).where(Equipment.asset_tag == asset_tag)) is not None:
        raise AlreadyExists(f"The asset tag {asset_tag} is already registered.", field="asset_tag")
    if calibration_interval_days <= 0:
        raise OutOfRange("The calibration interval must be at least one day.", field="calibration_interval_days")
    require_rotor_radius_fits(equipment_type, rotor_radius)
    equipment = Equipment(
        asset_tag=asset_tag,
        name=name,
        equipment_type=equipment_type,
        location=location,
        manufacturer=manufacturer,
        model=model,
        serial_number=serial_number,
        calibration_interval_days=calibration_interval_days,
        owner=owner,
        created_at=clock.now(),
        out_of_tolerance=False,
        rotor_radius=rotor_radius,
    )
    session.add(equipment)
    session.flush()
    return equipment


def update_equipment(
    session: Session,
    equipment: Equipment,
    *,
    name: str,
    location: str,
    calibration_interval_days: int,
    reason: str,
    rotor_radius: Measurement | None = None,
) -> Equipment:
    """Change an item's name, location, interval or rotor radius; a new interval moves the due date with it."""
    if calibration_interval_days <= 0:
        raise OutOfRange("The calibration interval must be at least one day.", field="calibration_interval_days")
    require_rotor_radius_fits(equipment.equipment_type, rotor_radius)
    with audit_context.reason_for_change(session, reason):
        equipment.name = name
        equipment.location = location
        equipment.rotor_radius = rotor_radius
        equipment.calibration_interval_days = calibration_interval_days
        if equipment.last_calibrated_on is not None and not equipment.out_of_tolerance:
            equipment.calibration_due_on = equipment.last_calibrated_on + timedelta(days=calibration_interval_days)
    return equipment


#: the rotor radii centrifuges have, from a microcentrifuge's to a large floor model's
_ROTOR_RADII_CM = (Decimal(1), Decimal(100))


def require_rotor_radius_fits(equipment_type: EquipmentType, rotor_radius: Measurement | None) -> None:
    """A rotor radius is a centrifuge's, and a length a rotor has (1 to 100 cm)."""
    if rotor_radius is None:
        return
    if equipment_type != EquipmentType.CENTRIFUGE:
        raise NotACentrifuge(
            f"Only a centrifuge has a rotor radius; leave it empty for equipment of type {equipment_type.value}.",
            field="rotor_radius",
        )
    try:
        centimetres = rotor_radius.to("cm").value
    except IncompatibleUnits as error:
        raise IncompatibleUnits(
            f"A rotor radius is a length, e.g. 15.3 cm; {rotor_radius} is not.", field="rotor_radius"
        ) from error
    low, high = _ROTOR_RADII_CM
    if not low <= centimetres <= high:
        raise OutOfRange(
            f"A rotor radius lies between {low} and {high} cm; {rotor_radius} does not.", field="rotor_radius"
        )


def retire_equipment(session: Session, equipment: Equipment, *, reason: str) -> Equipment:
    """Take equipment out of use for good (it stays in the registry with its history)."""
    if equipment.retired_at is not None:
        raise EquipmentRetired(f"{equipment.asset_tag} is already retired.")
    with audit_context.reason_for_change(session, reason):
        equipment.retired_at = clock.now()
        equipment.retirement_reason = reason.strip()
    return equipment
