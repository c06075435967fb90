"""The ways the LIMS refuses a quantity: text it cannot read, kinds that do not mix, UCUM it does not map."""

from __future__ import annotations

from lims.errors import InvalidInput


class UnitError(InvalidInput):
    """Text that is not a quantity the LIMS understands."""


class IncompatibleUnits(InvalidInput):
    """Two quantities of different kinds (a volume and a mass) were compared or converted."""


class UnsupportedUcum(UnitError):
    """A valid UCUM code whose units the LIMS does not map."""


class NoUcumCode(UnitError):
    """A unit the LIMS keeps has a UCUM code, so that every export names it in UCUM; one without is refused."""


class PhysicallyImpossible(InvalidInput):
    """A value its kind cannot take: a negative volume, mass, count, concentration or time, or a fraction of a
    whole outside 0–100 %."""
