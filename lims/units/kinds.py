"""What kind of value a parameter or a test reports, and the one rule deciding whether a measurement of that kind
is physically possible."""

from __future__ import annotations

import enum
from decimal import Decimal

from lims.units.errors import PhysicallyImpossible
from lims.units.measurement import Measurement
from lims.units.registry import describe_dimension, parse_unit, settle


class ValueKind(enum.StrEnum):
    #: a volume, mass, count, concentration or time: zero or more (a yield may exceed 100 %)
    NON_NEGATIVE = "non-negative quantity"
    #: a part of a whole, as viability, CD3+ content, purity or transduction efficiency: 0–100 %
    FRACTION = "fraction of a whole"
    #: a value that may be below zero, as a temperature in °C or a difference
    SIGNED = "signed quantity"


KIND_DESCRIPTIONS = {
    ValueKind.NON_NEGATIVE: "Non-negative quantity: a volume, mass, count, concentration or time (a yield may "
    "exceed 100 %)",
    ValueKind.FRACTION: "Fraction of a whole, 0–100 %: viability, CD3+, purity, transduction efficiency",
    ValueKind.SIGNED: "Signed quantity: may be below zero, e.g. a temperature in °C",
}


def default_kind(unit: str) -> ValueKind:
    """The kind a value in ``unit`` is unless its definition says otherwise: non-negative for a dimension other
    than temperature; signed for a temperature or a plain number (a fraction is always stated)."""
    dimensionality = parse_unit(unit).dimensionality
    if not dimensionality or str(dimensionality) == "[temperature]":
        return ValueKind.SIGNED
    return ValueKind.NON_NEGATIVE


def require_kind_fits_unit(kind: ValueKind, unit: str) -> None:
    """Refuse a fraction of a whole in a unit with a dimension (a fraction is a plain number or a percentage)."""
    parsed = parse_unit(unit)
    if kind == ValueKind.FRACTION and not parsed.dimensionless:
        raise PhysicallyImpossible(
            f"A fraction of a whole is a percentage or a plain number, not {describe_dimension(parsed)}.",
            field="value_kind",
        )


def require_possible(measurement: Measurement, kind: ValueKind) -> None:
    """Refuse a measurement its kind cannot take: below zero for a non-negative quantity (on the absolute scale
    for a temperature), outside 0–100 % for a fraction of a whole."""
    quantity = measurement.quantity
    if kind == ValueKind.FRACTION:
        if not quantity.dimensionless:
            raise PhysicallyImpossible(
                f"{measurement} is not a fraction of a whole: give a percentage or a plain number."
            )
        fraction = settle(Decimal(quantity.to("dimensionless").magnitude))
        if not Decimal(0) <= fraction <= Decimal(1):
            raise PhysicallyImpossible(
                f"{measurement} is not possible: a fraction of a whole lies between 0 and 100 %."
            )
    elif kind == ValueKind.NON_NEGATIVE and quantity.to_base_units().magnitude < 0:
        if measurement.is_offset:
            raise PhysicallyImpossible(f"{measurement} is not possible: it is below absolute zero.")
        what = describe_dimension(quantity.units)
        raise PhysicallyImpossible(f"{measurement} is not possible: {what} cannot be negative.")
