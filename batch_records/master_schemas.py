"""Input of the master batch record pages: the master, its versions' design and lifecycle."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from lims.equipment.models import EquipmentType
from lims.units import MeasurementField, UnitError, parse_measurement, unit_text
from lims.web import FormSchema, Trimmed, reason_field, required_text

#: a ticked checkbox sends "on"; an unticked one sends nothing
_TRUTHY = {"on", "true", "1", "yes"}
_FALSY = {"off", "false", "0", "no", ""}


def _flag() -> fields.Boolean:
    return fields.Boolean(load_default=False, truthy=_TRUTHY, falsy=_FALSY)


def _choice(message: str) -> fields.Integer:
    return fields.Integer(required=True, error_messages={"required": message, "invalid": message})


def _percent(label: str) -> fields.Decimal:
    return fields.Decimal(load_default=None, allow_none=True,
                          validate=validate.Range(min=0, error=f"The {label} cannot be negative."),
                          error_messages={"invalid": f"Enter the {label} as a number of percent, e.g. 80."})


class MasterCreateSchema(FormSchema):
    code = Trimmed(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._-]{2,32}$",
                   error="Use 2 to 32 letters, digits, dots, dashes or underscores."),
                   error_messages={"required": "Enter the master record code, e.g. CART-001."})
    product = required_text("Name the product the record makes.")
    change_summary = required_text("Say what the first version is for, e.g. First issue.", 4000)


class StepSchema(FormSchema):
    stage = required_text("Choose or type the stage of the process.", 64)
    title = required_text("Give the step a title.")
    instruction = required_text("Write the instruction the operator follows.", 8000)
    second_person_verification = _flag()
    hold_point = _flag()
    skippable = _flag()
    equipment_types = fields.List(
        fields.Enum(EquipmentType, by_value=True,
                    error_messages={"unknown": "Choose equipment types from the list."}),
        load_default=list)
    theoretical_yield = MeasurementField(load_default=None, allow_none=True)
    yield_minimum_percent = _percent("minimum yield")
    yield_maximum_percent = _percent("maximum yield")


class StepUpdateSchema(StepSchema):
    reason = reason_field()


class UnitText(Trimmed):
    """A unit as typed (``cells / ml``); empty for a pure number. Unknown units are refused here."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            unit_text(text)
        except UnitError as error:
            raise ValidationError(error.message) from error
        return text


class ParameterSchema(FormSchema):
    step_id = _choice("Choose the step the parameter belongs to.")
    name = required_text("Name the parameter, e.g. Temperature.", 120)
    unit = UnitText(load_default="", validate=validate.Length(max=32))
    #: a bare number is taken in the parameter's unit
    target = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=60))
    limit = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=120))
    optional = _flag()

    @post_load
    def _to_design(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data["required"] = not data.pop("optional")
        target = data.get("target")
        if target:
            text = f"{target} {data['unit']}" if data["unit"] and target[-1].isdigit() else target
            try:
                data["target"] = parse_measurement(text)
            except UnitError as error:
                raise ValidationError({"target": [error.message]}) from error
        else:
            data["target"] = None
        return data


class MaterialRequirementSchema(FormSchema):
    step_id = _choice("Choose the step that uses the material.")
    material_id = _choice("Choose the material.")
    quantity = MeasurementField(required=True,
                                error_messages={"required": "Enter the quantity with its unit, e.g. 250 mL."})


class ReleaseTestSchema(FormSchema):
    definition_id = _choice("Choose the test a batch must pass.")


class NewMbrVersionSchema(FormSchema):
    change_summary = required_text("Summarise what the new version changes.", 4000)


class RetireSchema(FormSchema):
    reason = reason_field("Give the reason for retiring this version; it is kept in the audit trail.")
