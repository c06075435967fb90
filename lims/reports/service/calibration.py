"""Calibration status and due list: each piece of equipment with its status today, when it was last calibrated and
when it falls due, the most urgent first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lims.equipment.models import Equipment
from lims.equipment.service.inventory import status_expression
from lims.identity.models import RoleName
from lims.reports.service.generation import Column, Content, ReportType, Setting

#: equipment read at a time
CHUNK = 1000


def prepare(_session: Session, parameters: dict[str, Any], setting: Setting) -> Content:
    due_within = parameters["due_within_days"]
    include_retired = parameters["include_retired"]
    status = status_expression(setting.today, setting.due_soon_days)
    query = select(
        Equipment.asset_tag,
        Equipment.name,
        Equipment.equipment_type,
        Equipment.location,
        status,
        Equipment.last_calibrated_on,
        Equipment.calibration_due_on,
    )
    if due_within is not None:
        query = query.where(
            or_(
                Equipment.calibration_due_on.is_(None),
                Equipment.calibration_due_on <= setting.today + timedelta(days=due_within),
                Equipment.out_of_tolerance.is_(True),
            )
        )
    if not include_retired:
        query = query.where(Equipment.retired_at.is_(None))
    # Never calibrated first (due at once), then by due date.
    query = query.order_by(
        Equipment.calibration_due_on.is_not(None), Equipment.calibration_due_on, Equipment.asset_tag
    ).execution_options(yield_per=CHUNK)

    def rows(reading: Session) -> Iterator[Sequence[str]]:
        for tag, name, kind, location, state, last, due in reading.execute(query):
            days = "" if due is None else str((due - setting.today).days)
            yield (
                tag,
                name,
                kind.value,
                location,
                state,
                last.isoformat() if last else "never",
                due.isoformat() if due else "now",
                days,
            )

    stated = [
        (
            "Equipment",
            "due within " + _days(due_within) + ", overdue or out of tolerance" if due_within is not None else "all",
        ),
        ("Retired equipment", "included" if include_retired else "left out"),
        ("Status on", f"{setting.today.isoformat()} (due soon from {setting.due_soon_days} days before the due date)"),
    ]
    return Content(stated, rows)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


REPORT = ReportType(
    key="calibration",
    title="Calibration status and due list",
    purpose="Each piece of equipment with its calibration status today, its last calibration and its due date, "
    "the most urgent first; optionally only what falls due within some days.",
    columns=(
        Column("Asset tag", 52),
        Column("Name", 85),
        Column("Type", 60),
        Column("Location", 60),
        Column("Status", 68),
        Column("Last calibrated", 60),
        Column("Due on", 60),
        Column("Days until due", 45),
    ),
    roles=frozenset({RoleName.QA, RoleName.MANAGER}),
    prepare=prepare,
)
