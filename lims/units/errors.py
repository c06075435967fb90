"""The two ways the LIMS refuses a quantity: text it cannot read, and kinds that do not mix."""
from __future__ import annotations

from lims.errors import InvalidInput


class UnitError(InvalidInput):
    """Text that is not a quantity the LIMS understands."""


class IncompatibleUnits(InvalidInput):
    """Two quantities of different kinds (a volume and a mass) were compared or converted."""
