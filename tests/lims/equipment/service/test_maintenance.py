"""Maintenance takes equipment out of service until it is closed."""

from __future__ import annotations

import pytest

from lims import clock
from lims.equipment.errors import MaintenanceAlreadyOpen
from lims.equipment.models import EquipmentStatus, MaintenanceKind
from lims.equipment.service import maintenance
from tests.lims.equipment.service.support import TODAY, at, status


def test_closing_maintenance_returns_equipment_to_service(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    technician = create_user()
    equipment = create_equipment()
    calibrate(equipment, "37 °C")
    record = maintenance.start_maintenance(
        db_session, equipment, kind=MaintenanceKind.PLANNED, description="HEPA filter change", user=technician
    )
    assert status(db_session, equipment) == EquipmentStatus.UNDER_MAINTENANCE
    with pytest.raises(MaintenanceAlreadyOpen):
        maintenance.start_maintenance(
            db_session, equipment, kind=MaintenanceKind.PLANNED, description="x", user=technician
        )
    maintenance.close_maintenance(db_session, record, outcome="Filter replaced, airflow verified", user=technician)
    assert status(db_session, equipment) == EquipmentStatus.IN_SERVICE
