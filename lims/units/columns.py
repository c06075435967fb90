"""Measurements in the database: exact decimals on both engines, a value column and a unit column."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Composite, composite, mapped_column
from sqlalchemy.types import TypeDecorator

from lims.units.measurement import Measurement


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal on both engines: NUMERIC on PostgreSQL, text on SQLite (whose numbers are floats)."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric())

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> Any:
        if value is None:
            return None
        exact = Decimal(value)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


def measurement_column(prefix: str, *, nullable: bool = False) -> Composite[Measurement]:
    """A measurement kept as ``<prefix>_value`` (exact decimal) and ``<prefix>_unit``."""
    return composite(
        mapped_column(f"{prefix}_value", ExactDecimal(), nullable=nullable),
        mapped_column(f"{prefix}_unit", String(32), nullable=nullable),
    )
