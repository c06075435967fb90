"""Maintenance: an open record takes the equipment out of service until it is closed with its outcome."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.audit import context as audit_context
from lims.db import get_record
from lims.equipment.errors import MaintenanceAlreadyOpen, MaintenanceClosed
from lims.equipment.models import Equipment, MaintenanceKind, MaintenanceRecord
from lims.equipment.service.inventory import get_equipment
from lims.identity.models import User


def start_maintenance(
    session: Session, equipment: Equipment, *, kind: MaintenanceKind, description: str, user: User
) -> MaintenanceRecord:
    """Open a maintenance record; the equipment is out of service until it is closed."""
    if equipment.under_maintenance:
        raise MaintenanceAlreadyOpen(f"{equipment.asset_tag} already has open maintenance.")
    record = MaintenanceRecord(
        equipment_id=equipment.id, kind=kind, description=description, started_at=clock.now(), started_by_id=user.id
    )
    session.add(record)
    session.flush()
    with audit_context.reason_for_change(session, f"Maintenance {record.id} started: {description.strip()}"):
        equipment.under_maintenance = True
    return record


def close_maintenance(session: Session, record: MaintenanceRecord, *, outcome: str, user: User) -> MaintenanceRecord:
    """Close maintenance with its outcome; the equipment returns to its calibration status."""
    if record.closed_at is not None:
        raise MaintenanceClosed("This maintenance is already closed.")
    with audit_context.reason_for_change(session, f"Maintenance closed: {outcome.strip()}"):
        record.closed_at = clock.now()
        record.closed_by_id = user.id
        record.outcome = outcome.strip()
        get_equipment(session, record.equipment_id).under_maintenance = False
    return record


def get_maintenance(session: Session, record_id: int) -> MaintenanceRecord:
    return get_record(session, MaintenanceRecord, record_id, "maintenance record")


def maintenance_history(session: Session, equipment: Equipment) -> list[MaintenanceRecord]:
    return list(
        session.scalars(
            select(MaintenanceRecord)
            .where(MaintenanceRecord.equipment_id == equipment.id)
            .order_by(MaintenanceRecord.started_at.desc())
            .options(selectinload(MaintenanceRecord.started_by), selectinload(MaintenanceRecord.closed_by))
        )
    )
