"""Input of test definitions, and of a QC result as any area's results form enters or corrects it."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from lims.equipment.models import EquipmentType
from lims.inputs import record_id
from lims.testing.models import ResultKind
from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.fields import ValueKindField
from lims.units.parsing import parse_limit, unit_text
from lims.web import FormSchema, Trimmed, reason_field, required_text


class TestDefinitionSchema(FormSchema):
    """A new test definition as the form sends it."""

    __test__ = False  # not a pytest class, whatever its name says

    code = Trimmed(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._-]{2,32}$", error="Use 2 to 32 letters, digits, dots, dashes or underscores."
        ),
        error_messages={"required": "Enter a short code, e.g. VIAB."},
    )
    name = required_text("Name the test, e.g. Viability.")
    method = required_text("Name the method, e.g. 7-AAD flow cytometry.")
    result_kind = fields.Enum(
        ResultKind,
        by_value=True,
        required=True,
        error_messages={
            "required": "Choose whether the result is a measured value or an observation.",
            "unknown": "Choose quantitative or qualitative.",
        },
    )
    unit = Trimmed(load_default="", validate=validate.Length(max=32))
    specification = required_text("State the specification results are judged against.")
    value_kind = ValueKindField(load_default=None, allow_none=True)
    instrument_type = fields.Enum(
        EquipmentType,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Choose the kind of instrument from the list, or none."},
    )

    @pre_load
    def _blank_instrument_type_is_none(self, data: Any, **_kwargs: Any) -> Any:
        if hasattr(data, "get") and not (data.get("instrument_type") or "").strip():
            data = {key: data[key] for key in data if key != "instrument_type"}
        return data

    @validates_schema
    def _quantitative_terms(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("result_kind") != ResultKind.QUANTITATIVE:
            return
        errors: dict[str, list[str]] = {}
        try:
            unit_text(data.get("unit", ""))
        except UnitError as error:
            errors["unit"] = [error.message]
        if data.get("specification"):
            try:
                parse_limit(data["specification"])
            except (UnitError, IncompatibleUnits) as error:
                errors["specification"] = [error.message]
        if errors:
            raise ValidationError(errors)


class ResultEntrySchema(FormSchema):
    """A result as the analyst enters it (a batch's release test, a sample's test), with the instrument it was
    read on when the test names a type of one."""

    result = required_text("Enter the result.", 200)
    instrument_id = record_id(
        load_default=None, allow_none=True, error_messages={"invalid": "Choose the instrument from the list."}
    )

    @pre_load
    def _no_instrument_chosen(self, data: Any, **_kwargs: Any) -> Any:
        if hasattr(data, "get") and not (data.get("instrument_id") or "").strip():
            data = {key: data[key] for key in data if key != "instrument_id"}
        return data


class ResultCorrectionSchema(FormSchema):
    """A result corrected, with the reason the audit trail keeps."""

    result = required_text("Enter the corrected result.", 200)
    reason = reason_field("Give the reason for the correction; it is kept in the audit trail.")
