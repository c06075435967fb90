"""Calibration due, overdue and due soon are counted in the facility's local days, whatever the UTC date says."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lims.equipment.models import EquipmentStatus
from lims.identity.models import RoleName
from tests.lims.equipment.conftest import DUE_SOON_DAYS
from tests.lims.equipment.service.support import status
from tests.lims.local_dates import EXPIRY, JUST_AFTER_MIDNIGHT_EAST, JUST_BEFORE_MIDNIGHT_WEST, at_facility

INTERVAL = 100
EAST, WEST = "UTC+8 just after midnight", "UTC-5 just before midnight"
#: the last day of the due-soon window at the eastern site (16 April + 14), one day past it at the western site
EDGE_OF_DUE_SOON = date(2030, 4, 30)


@pytest.fixture
def calibrated_until(db_session, create_equipment, calibrate):
    def make(due_on: date):
        equipment = create_equipment(interval=INTERVAL)
        with at_facility(JUST_BEFORE_MIDNIGHT_WEST):
            calibrate(equipment, "37 °C", performed_on=due_on - timedelta(days=INTERVAL))
        assert equipment.calibration_due_on == due_on
        return equipment

    return make


@pytest.mark.parametrize(
    ("moment", "due_on", "expected"),
    [
        (JUST_AFTER_MIDNIGHT_EAST, EXPIRY, EquipmentStatus.OVERDUE),
        (JUST_BEFORE_MIDNIGHT_WEST, EXPIRY, EquipmentStatus.DUE_SOON),
        (JUST_AFTER_MIDNIGHT_EAST, EDGE_OF_DUE_SOON, EquipmentStatus.DUE_SOON),
        (JUST_BEFORE_MIDNIGHT_WEST, EDGE_OF_DUE_SOON, EquipmentStatus.IN_SERVICE),
    ],
    ids=[f"{EAST}: due yesterday", f"{WEST}: due today", f"{EAST}: due in 14 days", f"{WEST}: due in 15 days"],
)
def test_status_counts_local_days(db_session, calibrated_until, moment, due_on, expected):
    assert DUE_SOON_DAYS == 14
    equipment = calibrated_until(due_on)
    with at_facility(moment):
        assert status(db_session, equipment) == expected


@pytest.mark.parametrize(
    ("moment", "shown", "not_shown"),
    [
        (JUST_AFTER_MIDNIGHT_EAST, "calibration overdue", "calibration due soon"),
        (JUST_BEFORE_MIDNIGHT_WEST, "calibration due soon", "calibration overdue"),
    ],
    ids=[EAST, WEST],
)
def test_the_equipment_page_and_list_show_status_on_the_local_date(
    client, db_session, calibrated_until, signed_in, moment, shown, not_shown
):
    equipment = calibrated_until(EXPIRY)
    db_session.commit()
    with at_facility(moment):
        signed_in(RoleName.TECHNICIAN)
        page = client.get(f"/equipment/{equipment.id}").text
        listed = client.get("/equipment?status=" + shown.replace(" ", "+")).text
    assert f'data-status="{shown}"' in page and f'data-status="{not_shown}"' not in page
    assert equipment.asset_tag in listed
