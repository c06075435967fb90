"""Specifications: limits a measurement conforms to or not, tolerances around a target, errors from a nominal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pint
from pint.facets.plain import PlainUnit

from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.measurement import Measurement, MeasurementRange
from lims.units.registry import registry, settle


@dataclass(frozen=True)
class Limit:
    """A specification: bounds (inclusive or not) and a target, in any compatible units."""

    minimum: Measurement | None = None
    maximum: Measurement | None = None
    target: Measurement | None = None
    minimum_inclusive: bool = True
    maximum_inclusive: bool = True

    def __post_init__(self) -> None:
        bounds = [m for m in (self.minimum, self.maximum, self.target) if m is not None]
        if not bounds:
            raise UnitError("A limit needs a minimum, a maximum or a target.")
        for other in bounds[1:]:
            bounds[0].to(other.unit)  # raises IncompatibleUnits
        if self.minimum is not None and self.maximum is not None and self.minimum.compare(self.maximum) > 0:
            raise UnitError(f"The minimum {self.minimum} is above the maximum {self.maximum}.")

    def require_compatible_with(self, unit: str) -> None:
        """Refuse (IncompatibleUnits) a limit whose bounds cannot be compared with values in ``unit``."""
        bound = self.minimum or self.maximum or self.target
        assert bound is not None  # __post_init__ refuses a limit without one
        bound.to(unit)

    def conforms(self, measured: Measurement) -> bool:
        """Tell whether ``measured`` meets the limit, after converting it to the limit's units."""
        if self.minimum is not None:
            below = measured.compare(self.minimum)
            if below < 0 or (below == 0 and not self.minimum_inclusive):
                return False
        if self.maximum is not None:
            above = measured.compare(self.maximum)
            if above > 0 or (above == 0 and not self.maximum_inclusive):
                return False
        return True

    def __str__(self) -> str:
        if (
            self.minimum is not None
            and self.maximum is not None
            and self.minimum_inclusive
            and self.maximum_inclusive
            and self.minimum.unit == self.maximum.unit
        ):
            return str(MeasurementRange(self.minimum, self.maximum))
        parts = []
        if self.minimum is not None:
            parts.append(f"{'≥' if self.minimum_inclusive else '>'} {self.minimum}")
        if self.maximum is not None:
            parts.append(f"{'≤' if self.maximum_inclusive else '<'} {self.maximum}")
        if not parts and self.target is not None:
            parts.append(f"target {self.target}")
        return " and ".join(parts)


def _difference_unit(measurement: Measurement) -> PlainUnit:
    unit = measurement.quantity.units
    if measurement.is_offset:
        # A tolerance on °C is a temperature difference, not a temperature.
        return registry.parse_units(f"delta_{next(iter(unit._units))}")
    return unit


def limit_with_tolerance(target: Measurement, tolerance: Decimal) -> Limit:
    """The limit ``target ± tolerance`` (the tolerance in the target's unit, a difference for °C)."""
    if tolerance < 0:
        raise UnitError("A tolerance cannot be negative.")
    difference = registry.Quantity(tolerance, _difference_unit(target))
    low, high = target.quantity - difference, target.quantity + difference
    return Limit(
        minimum=Measurement(settle(Decimal(low.magnitude)), target.unit),
        maximum=Measurement(settle(Decimal(high.magnitude)), target.unit),
        target=target,
    )


def difference_in_unit_of(difference: Measurement, reference: Measurement) -> Decimal:
    """A difference (a tolerance, an error) expressed in ``reference``'s unit: 0.9 °F is 0.5 °C."""
    source = registry.Quantity(difference.value, _difference_unit(difference))
    try:
        converted = source.to(_difference_unit(reference))
    except pint.DimensionalityError as error:
        raise IncompatibleUnits(
            f"A tolerance in {difference.unit} cannot apply to a value in {reference.unit}."
        ) from error
    return settle(Decimal(converted.magnitude))


def error_of(measured: Measurement, nominal: Measurement) -> Decimal:
    """How far ``measured`` is from ``nominal``, in the nominal's unit (a plain difference for °C)."""
    difference = measured.to(nominal.unit).quantity - nominal.quantity
    return settle(Decimal(difference.magnitude))
