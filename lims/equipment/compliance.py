"""The equipment's compliance checks: calibrations falling due and overdue, and equipment used while it was
overdue or out of tolerance. Each is one or two set-based queries, whatever the size of the registry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lims import clock
from lims.equipment.models import CalibrationRecord, Equipment, EquipmentUse
from lims.registry import ComplianceCheck, Condition


def _condition(equipment_id: int, asset_tag: str, name: str, detail: str, severity: str | None = None) -> Condition:
    return Condition(
        "equipment", str(equipment_id), f"{asset_tag} ({name})", detail, f"/equipment/{equipment_id}", severity
    )


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def calibration_due(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Equipment in use whose calibration falls due within the next ``days`` (today included)."""
    today = clock.facility_date(now)
    rows = session.execute(
        select(Equipment.id, Equipment.asset_tag, Equipment.name, Equipment.calibration_due_on).where(
            Equipment.retired_at.is_(None),
            Equipment.calibration_due_on.between(today, today + timedelta(days=parameters["days"])),
        )
    )
    for row in rows:
        left = (row.calibration_due_on - today).days
        when = "today" if left == 0 else f"in {_days(left)}"
        yield _condition(
            row.id, row.asset_tag, row.name, f"calibration due {when} ({row.calibration_due_on.isoformat()})"
        )


def calibration_overdue(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Equipment in use past its calibration's due date, or never calibrated; critical once overdue beyond
    ``critical_after_days``."""
    today = clock.facility_date(now)
    rows = session.execute(
        select(Equipment.id, Equipment.asset_tag, Equipment.name, Equipment.calibration_due_on).where(
            Equipment.retired_at.is_(None),
            (Equipment.calibration_due_on < today) | Equipment.calibration_due_on.is_(None),
        )
    )
    for row in rows:
        if row.calibration_due_on is None:
            yield _condition(row.id, row.asset_tag, row.name, "never calibrated")
            continue
        late = (today - row.calibration_due_on).days
        yield _condition(
            row.id,
            row.asset_tag,
            row.name,
            f"calibration {_days(late)} overdue (due {row.calibration_due_on.isoformat()})",
            "critical" if late > parameters["critical_after_days"] else None,
        )


def _local_date(session: Session, moment: InstrumentedAttribute[datetime], now: datetime) -> ColumnElement[date]:
    """The facility's date of a stored time, in SQL (SQLite keeps UTC text: shifted by the zone's offset now)."""
    zone = clock.facility_zone()
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(str(zone), moment), Date)
    offset = now.astimezone(zone).utcoffset() or timedelta()
    return func.date(moment, f"{int(offset.total_seconds() // 60):+d} minutes")


def used_while_unfit(session: Session, now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Equipment used after its calibration fell due (and not calibrated since), or after a calibration found it
    out of tolerance: uses the use-blocking rule should have refused, recorded from elsewhere or before it."""
    used_on = _local_date(session, EquipmentUse.used_at, now)
    overdue_uses = session.execute(
        select(
            Equipment.id,
            Equipment.asset_tag,
            Equipment.name,
            Equipment.calibration_due_on,
            func.count(EquipmentUse.id).label("uses"),
            func.max(EquipmentUse.used_at).label("latest"),
        )
        .join(EquipmentUse, EquipmentUse.equipment_id == Equipment.id)
        .where(Equipment.calibration_due_on.is_not(None), used_on > Equipment.calibration_due_on)
        .group_by(Equipment.id, Equipment.asset_tag, Equipment.name, Equipment.calibration_due_on)
    ).all()
    failed_at = (
        select(CalibrationRecord.equipment_id, func.max(CalibrationRecord.recorded_at).label("recorded_at"))
        .where(CalibrationRecord.passed.is_(False))
        .group_by(CalibrationRecord.equipment_id)
        .subquery()
    )
    out_of_tolerance_uses = session.execute(
        select(
            Equipment.id,
            Equipment.asset_tag,
            Equipment.name,
            func.count(EquipmentUse.id).label("uses"),
            func.max(EquipmentUse.used_at).label("latest"),
        )
        .join(failed_at, failed_at.c.equipment_id == Equipment.id)
        .join(EquipmentUse, EquipmentUse.equipment_id == Equipment.id)
        .where(Equipment.out_of_tolerance.is_(True), EquipmentUse.used_at > failed_at.c.recorded_at)
        .group_by(Equipment.id, Equipment.asset_tag, Equipment.name)
    ).all()
    details: dict[int, tuple[str, str, list[str]]] = {}
    for row in overdue_uses:
        details.setdefault(row.id, (row.asset_tag, row.name, []))[2].append(
            f"used {_times(row.uses)} since its calibration fell due on {row.calibration_due_on.isoformat()}, "
            f"last {_local(row.latest)}"
        )
    for row in out_of_tolerance_uses:  # type: ignore[assignment]  # the same names, fewer columns
        details.setdefault(row.id, (row.asset_tag, row.name, []))[2].append(
            f"used {_times(row.uses)} after a calibration found it out of tolerance, last {_local(row.latest)}"
        )
    for equipment_id, (asset_tag, name, said) in details.items():
        yield _condition(equipment_id, asset_tag, name, "; ".join(said))


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _local(moment: datetime) -> str:
    return moment.astimezone(clock.facility_zone()).strftime("%Y-%m-%d %H:%M")


CHECKS = (
    ComplianceCheck(
        "equipment.calibration-due",
        "Calibration due within N days",
        "equipment",
        "minor",
        "every 1h",
        calibration_due,
        {"days": 14},
    ),
    ComplianceCheck(
        "equipment.calibration-overdue",
        "Calibration overdue (critical beyond N days)",
        "equipment",
        "major",
        "every 1h",
        calibration_overdue,
        {"critical_after_days": 30},
    ),
    ComplianceCheck(
        "equipment.used-while-unfit",
        "Equipment used while overdue or out of tolerance",
        "equipment",
        "critical",
        "every 1h",
        used_while_unfit,
    ),
)
