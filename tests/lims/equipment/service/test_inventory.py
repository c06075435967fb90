"""The equipment status, derived from the item's own row, at the boundaries of its due date."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lims import clock
from lims.equipment.models import EquipmentStatus
from tests.lims.equipment.conftest import DUE_SOON_DAYS
from tests.lims.equipment.service.support import TODAY, at, status


def test_new_equipment_is_overdue_until_calibrated(db_session, create_equipment):
    assert status(db_session, create_equipment()) == EquipmentStatus.OVERDUE


@pytest.mark.parametrize(
    ("days_until_due", "expected"),
    [
        (-1, EquipmentStatus.OVERDUE),
        (0, EquipmentStatus.DUE_SOON),
        (1, EquipmentStatus.DUE_SOON),
        (DUE_SOON_DAYS, EquipmentStatus.DUE_SOON),
        (DUE_SOON_DAYS + 1, EquipmentStatus.IN_SERVICE),
    ],
    ids=["due yesterday", "due today", "due tomorrow", "last day of the window", "just outside the window"],
)
def test_status_at_the_boundaries_of_the_due_date(db_session, create_equipment, calibrate, days_until_due, expected):
    clock.freeze(at(TODAY))
    equipment = create_equipment(interval=100)
    calibrate(equipment, "37 °C", performed_on=TODAY - timedelta(days=100 - days_until_due))
    assert equipment.calibration_due_on == TODAY + timedelta(days=days_until_due)
    assert status(db_session, equipment) == expected
