"""Factories for equipment, calibration points and reference standards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from lims import clock
from lims.equipment.models import Equipment, EquipmentType, ReferenceStandard
from lims.equipment.service import calibrations, inventory
from lims.units.parsing import parse_measurement

DUE_SOON_DAYS = 14


@pytest.fixture
def create_equipment(db_session) -> Callable[..., Equipment]:
    counter = iter(range(1, 10_000))

    def make(
        *,
        asset_tag: str | None = None,
        interval: int = 365,
        points: tuple[tuple[str, str, str], ...] = (("37 °C setpoint", "37 °C", "0.5 °C"),),
        equipment_type: EquipmentType = EquipmentType.INCUBATOR,
        location: str = "Cleanroom B",
    ) -> Equipment:
        equipment = inventory.create_equipment(
            db_session,
            asset_tag=asset_tag or f"EQ-{next(counter):04d}",
            name="CO2 incubator",
            equipment_type=equipment_type,
            location=location,
            manufacturer="Thermo",
            model="Heracell 150i",
            serial_number=f"SN{next(counter)}",
            calibration_interval_days=interval,
            owner=None,
        )
        for name, nominal, tolerance in points:
            calibrations.add_calibration_point(
                db_session,
                equipment,
                name=name,
                nominal=parse_measurement(nominal),
                tolerance=parse_measurement(tolerance),
            )
        return equipment

    return make


@pytest.fixture
def reference_standard(db_session) -> ReferenceStandard:
    return calibrations.create_reference_standard(
        db_session,
        identifier="REF-T-01",
        description="Calibrated reference thermometer and gravimetric volume standard",
        certificate_number="DAkkS-12345",
        valid_until=date(2040, 12, 31),
        measures="°C, µL",
    )


@pytest.fixture
def calibrate(db_session, reference_standard, create_user):
    """Record a calibration of every point of ``equipment`` with the readings given (as-found, as-left)."""
    technician = create_user()

    def record(equipment: Equipment, *readings: str | tuple[str, str], performed_on: date | None = None, **extra):
        inputs = []
        for point, reading in zip(equipment.points, readings, strict=False):
            found, left = (reading, None) if isinstance(reading, str) else reading
            inputs.append(
                calibrations.ReadingInput(point.id, parse_measurement(found), parse_measurement(left) if left else None)
            )
        return calibrations.record_calibration(
            db_session,
            equipment,
            performed_on=performed_on or clock.now().date(),
            recorded_by=extra.pop("recorded_by", technician),
            readings=inputs,
            reference_standard_id=extra.pop("reference_standard_id", reference_standard.id),
            **extra,
        )

    record.technician = technician
    return record
