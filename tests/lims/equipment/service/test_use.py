"""The use-blocking rule: unusable equipment is refused, every use is recorded."""

from __future__ import annotations

import pytest

from lims import clock
from lims.equipment.errors import (
    CalibrationOverdue,
    EquipmentOutOfTolerance,
    EquipmentRetired,
    EquipmentUnderMaintenance,
)
from lims.equipment.models import MaintenanceKind
from lims.equipment.service import inventory, maintenance, use
from tests.lims.equipment.conftest import DUE_SOON_DAYS
from tests.lims.equipment.service.support import TODAY, at


@pytest.mark.parametrize(
    ("blocked", "refusal"),
    [
        ("overdue", CalibrationOverdue),
        ("out of tolerance", EquipmentOutOfTolerance),
        ("under maintenance", EquipmentUnderMaintenance),
        ("retired", EquipmentRetired),
    ],
)
def test_blocked_equipment_cannot_be_used(db_session, create_equipment, calibrate, create_user, blocked, refusal):
    clock.freeze(at(TODAY))
    technician = create_user()
    equipment = create_equipment()
    if blocked != "overdue":
        calibrate(equipment, "37 °C")
    if blocked == "out of tolerance":
        calibrate(equipment, "39 °C")
    elif blocked == "under maintenance":
        maintenance.start_maintenance(
            db_session, equipment, kind=MaintenanceKind.UNPLANNED, description="Door seal torn", user=technician
        )
    elif blocked == "retired":
        inventory.retire_equipment(db_session, equipment, reason="Replaced")
    with pytest.raises(refusal, match=f"{equipment.asset_tag}.*cannot be used"):
        use.record_use(
            db_session,
            equipment,
            user=technician,
            record_type="batch_step",
            record_id=7,
            purpose="Expansion",
            due_soon_days=DUE_SOON_DAYS,
        )


def test_usable_equipment_records_who_used_it_when_for_what(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    technician = create_user()
    equipment = create_equipment()
    calibrate(equipment, "37 °C")
    recorded = use.record_use(
        db_session,
        equipment,
        user=technician,
        record_type="batch_step",
        record_id=42,
        purpose="Expansion day 5",
        due_soon_days=DUE_SOON_DAYS,
    )
    assert (recorded.user_id, recorded.used_at, recorded.record_type, recorded.record_id) == (
        technician.id,
        at(TODAY),
        "batch_step",
        "42",
    )
