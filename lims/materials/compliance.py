"""The materials' compliance checks: lots expiring soon, and lots past their expiry that nobody has rejected.
One query each, whatever the number of lots; a lot with nothing left is no longer anyone's concern."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import Session

from lims import clock
from lims.materials.models import LotStatus, Material, MaterialLot
from lims.registry import ComplianceCheck, Condition
from lims.units.measurement import Measurement

#: the statuses of a lot that may still be taken from (a quarantined one once QA releases it)
IN_STOCK = (LotStatus.RELEASED, LotStatus.QUARANTINE)
_REMAINING = MaterialLot.__table__


def _lots_in_stock(session: Session, expiring: ColumnElement[bool]) -> list[Row[Any]]:
    return list(
        session.execute(
            select(
                MaterialLot.id,
                MaterialLot.lot_number,
                MaterialLot.expires_on,
                MaterialLot.status,
                _REMAINING.c.quantity_remaining_value.label("remaining_value"),
                _REMAINING.c.quantity_remaining_unit.label("remaining_unit"),
                Material.name,
            )
            .join(Material, Material.id == MaterialLot.material_id)
            .where(MaterialLot.status.in_(IN_STOCK), _REMAINING.c.quantity_remaining_value > 0, expiring)
        )
    )


def _left(row: Row[Any]) -> Measurement:
    return Measurement(row.remaining_value, row.remaining_unit)


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _condition(row: Row[Any], detail: str) -> Condition:
    return Condition(
        "material_lot", str(row.id), f"lot {row.lot_number} of {row.name}", detail, f"/materials/lots/{row.id}"
    )


def lots_expiring(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Lots in stock that expire within the next ``days`` (today included: a lot is usable on its expiry date)."""
    today = clock.facility_date(now)
    for row in _lots_in_stock(
        session, MaterialLot.expires_on.between(today, today + timedelta(days=parameters["days"]))
    ):
        left = (row.expires_on - today).days
        when = "today" if left == 0 else f"in {_days(left)}"
        yield _condition(row, f"expires {when} ({row.expires_on.isoformat()}), {_left(row)} left, {row.status.value}")


def expired_lots_not_rejected(session: Session, now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Lots past their expiry date that are still released or in quarantine with material left: they should be
    rejected so that nobody counts on them."""
    today = clock.facility_date(now)
    for row in _lots_in_stock(session, MaterialLot.expires_on < today):
        ago = (today - row.expires_on).days
        yield _condition(
            row,
            f"expired {_days(ago)} ago ({row.expires_on.isoformat()}) but still {row.status.value}, {_left(row)} left",
        )


CHECKS = (
    ComplianceCheck(
        "materials.lot-expiring",
        "Lots expiring within N days",
        "materials",
        "minor",
        "every 1h",
        lots_expiring,
        {"days": 30},
    ),
    ComplianceCheck(
        "materials.lot-expired-not-rejected",
        "Expired lots still released or in quarantine",
        "materials",
        "major",
        "every 1h",
        expired_lots_not_rejected,
    ),
)
