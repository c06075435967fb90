"""Marshmallow fields that load measurements and limits from the text technicians type and dump them the same way."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.kinds import ValueKind
from lims.units.limits import Limit
from lims.units.measurement import Measurement
from lims.units.parsing import parse_limit, parse_measurement


class MeasurementField(fields.Field):
    """Loads and dumps a measurement as the text technicians type and read."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Measurement:
        if not isinstance(value, str):
            raise ValidationError("Enter the value and its unit as text, e.g. 2.5e6 cells/mL.")
        try:
            return parse_measurement(value)
        except UnitError as error:
            raise ValidationError(error.message) from error

    def _serialize(self, value: Measurement | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class LimitField(fields.Field):
    """Loads a specification typed as ``2–8 °C``, ``≥ 70 %`` or ``37 ± 0.5 °C``; dumps it the same way."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Limit:
        if not isinstance(value, str):
            raise ValidationError("Enter the limit as text, e.g. 2–8 °C.")
        try:
            return parse_limit(value)
        except (UnitError, IncompatibleUnits) as error:
            raise ValidationError(error.message) from error

    def _serialize(self, value: Limit | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class ValueKindField(fields.Field):
    """Loads the kind of value a parameter or test reports; blank leaves it to the unit (``default_kind``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> ValueKind | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return ValueKind(value.strip() if isinstance(value, str) else value)
        except ValueError as error:
            choices = ", ".join(kind.value for kind in ValueKind)
            raise ValidationError(f"Choose the kind of value: {choices}.") from error

    def _serialize(self, value: ValueKind | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.value
