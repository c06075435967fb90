"""A speed typed in rpm against a parameter in × g converts through the rotor radius of the step's centrifuge."""

from __future__ import annotations

import pytest

from batch_records.errors import NeedsRotorRadius
from batch_records.models import BatchParameter
from batch_records.service import execution
from lims.equipment.service import inventory
from lims.units.kinds import ValueKind
from lims.units.parsing import parse_measurement
from tests.batch_records.test_execution import DUE_SOON, do_receipt


@pytest.fixture
def spin(db_session, line, batch) -> BatchParameter:
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    parameter = BatchParameter(
        step=step,
        position=len(step.parameters) + 1,
        name="Spin",
        unit="× g",
        limit="300–500 × g",
        required=False,
        value_kind=ValueKind.NON_NEGATIVE,
    )
    db_session.add(parameter)
    db_session.flush()
    return parameter


def test_rpm_is_refused_by_name_until_the_centrifuge_and_its_rotor_radius_are_known(db_session, line, batch, spin):
    step = batch.steps[1]
    with pytest.raises(NeedsRotorRadius, match="Spin: 1500 rpm converts to × g only through the rotor radius of the"):
        execution.record_entry(db_session, spin, "1500 rpm", user=line.operator)
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    with pytest.raises(NeedsRotorRadius, match="the equipment record of CEN-01 states none"):
        execution.record_entry(db_session, spin, "1500 rpm", user=line.operator)
    assert spin.entries == []


def test_with_the_rotor_radius_rpm_is_judged_as_the_force_it_makes(db_session, line, batch, spin):
    step = batch.steps[1]
    inventory.update_equipment(
        db_session,
        line.centrifuge,
        name=line.centrifuge.name,
        location=line.centrifuge.location,
        calibration_interval_days=line.centrifuge.calibration_interval_days,
        rotor_radius=parse_measurement("16.4 cm"),
        reason="Rotor radius from the data sheet",
    )
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    entry = execution.record_entry(db_session, spin, "1500 rpm", user=line.operator)  # 412.5 × g
    assert entry.within_limits and str(entry.value) == "1500 rpm", "the value is kept as read"
    corrected = execution.correct_entry(db_session, entry, "2000 rpm", reason="Misread the dial", user=line.operator)
    assert not corrected.within_limits, "2000 rpm makes 733 × g: outside 300–500 × g"
