"""The status condition the counts and pickers filter by selects exactly the items the one status expression puts in
each status, at the edges too: never calibrated, due today, due on the last day of *due soon*, retired while out of
tolerance, under maintenance and overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentStatus
from lims.equipment.service.inventory import status_condition, status_expression
from tests.lims.equipment.conftest import DUE_SOON_DAYS


@pytest.fixture
def edge_items(db_session, create_equipment) -> list[Equipment]:
    clock.freeze(datetime(2030, 4, 10, 8, tzinfo=UTC))
    today = clock.today()
    states = [
        {},  # never calibrated
        {"calibration_due_on": today},
        {"calibration_due_on": today - timedelta(days=1)},
        {"calibration_due_on": today + timedelta(days=DUE_SOON_DAYS)},
        {"calibration_due_on": today + timedelta(days=DUE_SOON_DAYS + 1)},
        {"calibration_due_on": today + timedelta(days=90), "out_of_tolerance": True},
        {"calibration_due_on": today - timedelta(days=5), "under_maintenance": True},
        {"calibration_due_on": today + timedelta(days=90), "out_of_tolerance": True, "retired_at": clock.now()},
        {"under_maintenance": True, "out_of_tolerance": True},
    ]
    items = []
    for state in states:
        item = create_equipment()
        with audit_context.reason_for_change(db_session, "Arranged for the test"):
            for name, value in state.items():
                setattr(item, name, value)
        items.append(item)
    db_session.flush()
    return items


@pytest.mark.parametrize("status", list(EquipmentStatus), ids=lambda status: status.value)
def test_the_condition_selects_the_items_the_status_expression_puts_in_the_status(db_session, edge_items, status):
    today = clock.today()
    by_expression = set(
        db_session.scalars(select(Equipment.asset_tag).where(status_expression(today, DUE_SOON_DAYS) == status.value))
    )
    by_condition = set(
        db_session.scalars(select(Equipment.asset_tag).where(status_condition([status], today, DUE_SOON_DAYS)))
    )
    assert by_condition == by_expression
    assert by_expression, "each status has an item at its edge"
