"""The equipment's compliance checks at their boundaries: calibration due within N days, overdue (critical beyond
N days), and equipment used after its calibration fell due or after it was found out of tolerance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from batch_records.cart_line import calibrated
from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import EquipmentUse
from lims.equipment.service import inventory
from tests.lims.compliance.checking import found

TODAY = date(2030, 4, 10)
NOW = datetime(2030, 4, 10, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(NOW)


@pytest.mark.parametrize(("due_in_days", "is_found"), [(13, True), (14, True), (15, False)])
def test_calibration_due_within_the_days_set(db_session, create_equipment, due_in_days, is_found):
    item = calibrated(db_session, create_equipment(), due_on=TODAY + timedelta(days=due_in_days))
    conditions = found(db_session, "equipment.calibration-due", at=NOW, days=14)
    assert (str(item.id) in conditions) is is_found
    if is_found:
        assert conditions[str(item.id)].detail == f"calibration due in {due_in_days} days ({item.calibration_due_on})"
        assert conditions[str(item.id)].link == f"/equipment/{item.id}"


def test_calibration_due_today_says_so_and_is_not_yet_overdue(db_session, create_equipment):
    item = calibrated(db_session, create_equipment(asset_tag="CF-004"), due_on=TODAY)
    assert found(db_session, "equipment.calibration-due", at=NOW)[str(item.id)].detail == (
        "calibration due today (2030-04-10)"
    )
    assert str(item.id) not in found(db_session, "equipment.calibration-overdue", at=NOW)


@pytest.mark.parametrize(("late_days", "severity"), [(1, None), (30, None), (31, "critical")])
def test_overdue_calibration_escalates_beyond_the_days_set(db_session, create_equipment, late_days, severity):
    item = calibrated(db_session, create_equipment(), due_on=TODAY - timedelta(days=late_days))
    condition = found(db_session, "equipment.calibration-overdue", at=NOW, critical_after_days=30)[str(item.id)]
    assert condition.severity == severity
    assert condition.detail.startswith(f"calibration {late_days} day{'s' if late_days > 1 else ''} overdue")


def test_never_calibrated_equipment_is_overdue_and_retired_equipment_is_not(db_session, create_equipment):
    never = create_equipment()
    retired = calibrated(db_session, create_equipment(), due_on=TODAY - timedelta(days=3))
    inventory.retire_equipment(db_session, retired, reason="Replaced by CF-009")
    conditions = found(db_session, "equipment.calibration-overdue", at=NOW)
    assert conditions[str(never.id)].detail == "never calibrated"
    assert str(retired.id) not in conditions


def _use(db_session, item, used_at, user):
    with audit_context.reason_for_change(db_session, "Use imported from the paper log"):
        db_session.add(
            EquipmentUse(
                equipment_id=item.id,
                used_at=used_at,
                user_id=user.id,
                record_type="batch_step",
                record_id="1",
                purpose="Centrifugation",
            )
        )
        db_session.flush()


@pytest.mark.parametrize(("used_on_day_after_due", "is_found"), [(-1, False), (0, False), (1, True)])
def test_a_use_after_the_calibration_fell_due_is_found(
    db_session, create_equipment, create_user, used_on_day_after_due, is_found
):
    due = TODAY - timedelta(days=5)
    item = calibrated(db_session, create_equipment(), due_on=due)
    used_at = datetime(due.year, due.month, due.day, 15, tzinfo=UTC) + timedelta(days=used_on_day_after_due)
    _use(db_session, item, used_at, create_user())
    conditions = found(db_session, "equipment.used-while-unfit", at=NOW)
    assert (str(item.id) in conditions) is is_found
    if is_found:
        assert conditions[str(item.id)].detail.startswith(f"used once since its calibration fell due on {due}")


def test_a_use_after_a_calibration_found_the_item_out_of_tolerance_is_found(
    db_session, create_equipment, create_user, calibrate
):
    item = calibrated(db_session, create_equipment(), due_on=TODAY + timedelta(days=100))
    user = create_user()
    _use(db_session, item, NOW - timedelta(hours=2), user)
    failed = calibrate(item, "39 °C")
    assert item.out_of_tolerance
    assert str(item.id) not in found(db_session, "equipment.used-while-unfit", at=NOW)
    _use(db_session, item, failed.recorded_at + timedelta(minutes=5), user)
    detail = found(db_session, "equipment.used-while-unfit", at=NOW + timedelta(hours=1))[str(item.id)].detail
    assert detail.startswith("used once after a calibration found it out of tolerance")
