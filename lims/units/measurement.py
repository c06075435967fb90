"""A measurement: an exact decimal value with its unit, converted and compared in any compatible unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pint
from pint.facets.plain import PlainUnit

from lims.units.errors import IncompatibleUnits
from lims.units.registry import (
    describe_dimension,
    format_unit,
    normalise_typing,
    parse_unit,
    registry,
    settle,
)

_SPEED_AND_FORCE = frozenset({"1 / [time]", "[length] / [time] ** 2"})


def _unit_in_words(unit: pint.Unit) -> str:
    """A unit for a message: its text, or "a plain number" for the unit that has none."""
    return format_unit(unit) or "a plain number"


def _why_not(unit: PlainUnit, other: PlainUnit) -> str:
    """Why values in two units do not mix, in the lab's words."""
    if {str(unit.dimensionality), str(other.dimensionality)} == _SPEED_AND_FORCE:
        return (
            "a centrifuge's speed (rpm) and its relative centrifugal force (× g) convert only with the rotor "
            "radius; enter the value in the unit the method states."
        )
    return f"{describe_dimension(unit)} cannot be compared with {describe_dimension(other)}."


@dataclass(frozen=True)
class Measurement:
    """An exact decimal value with its unit, as measured or specified."""

    value: Decimal
    unit: str

    @property
    def quantity(self) -> pint.Quantity:
        return registry.Quantity(self.value, parse_unit(self.unit))

    @property
    def is_offset(self) -> bool:
        """True for temperatures on a scale with a moved zero (°C, °F)."""
        return not self.quantity._is_multiplicative

    def to(self, unit: str) -> Measurement:
        """This measurement in ``unit``; IncompatibleUnits if they measure different things."""
        target = parse_unit(normalise_typing(unit))
        try:
            converted = self.quantity.to(target)
        except pint.DimensionalityError as error:
            raise IncompatibleUnits(
                f"Cannot convert {self} to {_unit_in_words(target)}: {_why_not(self.quantity.units, target)}"
            ) from error
        return Measurement(settle(Decimal(converted.magnitude)), format_unit(target))

    def compare(self, other: Measurement) -> int:
        """-1, 0 or 1 as this is less than, equal to or greater than ``other``, in any compatible unit."""
        try:
            theirs = other.to(self.unit).value
        except IncompatibleUnits as error:
            raise IncompatibleUnits(
                f"Cannot compare {self} with {other}: {_why_not(self.quantity.units, other.quantity.units)}"
            ) from error
        mine = settle(self.value)
        return (mine > theirs) - (mine < theirs)

    def __str__(self) -> str:
        return f"{format_value(self.value)} {self.unit}".rstrip()


@dataclass(frozen=True)
class MeasurementRange:
    """Two measurements of the same unit typed as a range: ``2–8 °C``."""

    low: Measurement
    high: Measurement

    def __str__(self) -> str:
        # One power of ten for both ends, as in 1–5 ×10^8 cells.
        power = _display_power(max(abs(self.low.value), abs(self.high.value)))
        low, high = (f"{value.scaleb(-power).normalize():f}" for value in (self.low.value, self.high.value))
        scale = f" ×10^{power}" if power else ""
        return f"{low}–{high}{scale} {self.low.unit}".rstrip()


def _display_power(value: Decimal) -> int:
    """The power of ten to show a value with: 0 unless it is large or tiny."""
    if not value:
        return 0
    _sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    power = len(digits) + exponent - 1
    return power if power >= 5 or power <= -5 else 0


def format_value(value: Decimal) -> str:
    """A decimal as labs write it: plain, or ``2.5 ×10^6`` when large or tiny."""
    power = _display_power(value)
    mantissa = f"{value.scaleb(-power).normalize():f}" if value else "0"
    return f"{mantissa} ×10^{power}" if power else mantissa


_AMOUNT_DIMENSIONS = frozenset(
    {
        "[length] ** 3",
        "[mass]",
        "dimensionless",
        "[cell_count]",
        "[colony_forming_units]",
        "[copy_count]",
        "[vector_genome_count]",
        "[biological_activity]",
        "[endotoxin]",
    }
)


def is_amount(measurement: Measurement) -> bool:
    """True for a quantity of material: a volume, a mass or a count."""
    return str(measurement.quantity.dimensionality) in _AMOUNT_DIMENSIONS
