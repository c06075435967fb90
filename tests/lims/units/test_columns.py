"""Measurements keep every digit through the database on both engines."""

from __future__ import annotations

from decimal import Decimal  # noqa: F401  (resolves Measurement's field types for the composite)

import pytest
from sqlalchemy import MetaData, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, composite, mapped_column

from lims.units.columns import ExactDecimal
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement


class _TestBase(DeclarativeBase):
    metadata = MetaData()


class _Reading(_TestBase):
    __tablename__ = "test_reading"

    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[Measurement] = composite(
        mapped_column("amount_value", ExactDecimal()), mapped_column("amount_unit", String(32))
    )


@pytest.mark.parametrize(
    "typed", ["0.1 mL", "2.50 mL", "123456789012345678.123456789 cells", "2.5e6 cells/mL", "-0.000001 °C", "1e-9 g"]
)
def test_decimals_round_trip_through_the_database_exactly(connection, db_session, typed):
    _TestBase.metadata.create_all(connection)
    measurement = parse_measurement(typed)
    db_session.add(_Reading(amount=measurement))
    db_session.flush()
    db_session.expire_all()
    stored = db_session.scalars(select(_Reading)).one().amount
    assert stored == measurement
    assert stored.value.normalize().as_tuple() == measurement.value.normalize().as_tuple(), "every digit kept"
