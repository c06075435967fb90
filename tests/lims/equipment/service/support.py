"""What the equipment service tests share: the day they run on, a moment of a day, an item's status."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lims.equipment.models import EquipmentStatus
from lims.equipment.service import inventory
from tests.lims.equipment.conftest import DUE_SOON_DAYS

TODAY = date(2030, 6, 15)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


def status(db_session, equipment) -> EquipmentStatus:
    return inventory.status_of(db_session, equipment, due_soon_days=DUE_SOON_DAYS)
