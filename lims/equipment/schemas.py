"""Input of the equipment area, for forms and the API, and what the API shows."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from lims.api.paging import Cursor
from lims.equipment.models import (
    CalibrationPerformer,
    CalibrationPoint,
    EquipmentStatus,
    EquipmentType,
    MaintenanceKind,
    Verdict,
)
from lims.equipment.service.inventory import EquipmentFilter, EquipmentWithStatus
from lims.inputs import WholeNumber, record_id
from lims.units.fields import MeasurementField
from lims.web import FormSchema, Secret, Trimmed, reason_field, required_text


class EquipmentFilterSchema(FormSchema):
    status = fields.Enum(
        EquipmentStatus,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Choose a status from the list."},
    )
    equipment_type = fields.Enum(
        EquipmentType,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Choose a type from the list."},
    )
    location = Trimmed(load_default="", validate=validate.Length(max=120))
    q = Trimmed(load_default="", validate=validate.Length(max=120))
    page = WholeNumber(load_default=1, validate=validate.Range(min=1), error_messages={"invalid": "Not a page number."})


class EquipmentQuerySchema(Schema):
    """The API's filters of the registry."""

    status = fields.Enum(
        EquipmentStatus,
        by_value=True,
        metadata={"description": "Its status as of today."},
        error_messages={"unknown": "There is no such status; use one of {choices}."},
    )
    equipment_type = fields.Enum(
        EquipmentType, by_value=True, error_messages={"unknown": "There is no such type; use one of {choices}."}
    )
    location = Trimmed(load_default="", validate=validate.Length(max=120), metadata={"description": "Part of it."})
    q = Trimmed(
        load_default="",
        validate=validate.Length(max=120),
        metadata={"description": "Part of the asset tag, name or serial number."},
    )

    @post_load
    def _criteria(self, data: dict[str, Any], **_kwargs: Any) -> EquipmentFilter:
        return EquipmentFilter(
            status=data.get("status"),
            equipment_type=data.get("equipment_type"),
            location=data["location"],
            text=data["q"],
        )


class EquipmentCreateSchema(FormSchema):
    asset_tag = Trimmed(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._-]{2,32}$", error="Use 2 to 32 letters, digits, dots, dashes or underscores."
        ),
        error_messages={"required": "Enter the asset tag on the label."},
    )
    name = required_text("Name the equipment.")
    equipment_type = fields.Enum(
        EquipmentType,
        by_value=True,
        required=True,
        error_messages={"required": "Choose the type.", "unknown": "Choose a type from the list."},
    )
    location = required_text("Enter where it stands.", 120)
    manufacturer = required_text("Enter the manufacturer.", 120)
    model = required_text("Enter the model.", 120)
    serial_number = required_text("Enter the serial number.", 120)
    rotor_radius = MeasurementField(load_default=None, allow_none=True)
    calibration_interval_days = WholeNumber(
        required=True,
        validate=validate.Range(min=1, max=3650, error="Between 1 and 3650 days."),
        error_messages={
            "required": "Enter the calibration interval in days.",
            "invalid": "Enter a whole number of days.",
        },
    )


class EquipmentUpdateSchema(FormSchema):
    name = required_text("Name the equipment.")
    location = required_text("Enter where it stands.", 120)
    rotor_radius = MeasurementField(load_default=None, allow_none=True)
    calibration_interval_days = WholeNumber(
        required=True,
        validate=validate.Range(min=1, max=3650, error="Between 1 and 3650 days."),
        error_messages={
            "required": "Enter the calibration interval in days.",
            "invalid": "Enter a whole number of days.",
        },
    )
    reason = reason_field()


class CalibrationPointSchema(FormSchema):
    name = required_text("Name the point, e.g. 37 °C setpoint.", 120)
    nominal = MeasurementField(required=True, error_messages={"required": "Enter the nominal value with its unit."})
    tolerance = MeasurementField(required=True, error_messages={"required": "Enter the tolerance (±) with its unit."})


class ReferenceStandardSchema(FormSchema):
    identifier = required_text("Enter the standard's identifier.", 64)
    description = required_text("Describe the standard.")
    certificate_number = required_text("Enter its calibration certificate number.", 120)
    measures = required_text("Say what the standard measures, as units: e.g. °C, or rpm, °C.", 120)
    valid_until = fields.Date(
        required=True,
        error_messages={
            "required": "Enter the date its certificate expires.",
            "invalid": "Enter a date as YYYY-MM-DD.",
        },
    )


class _CalibrationBaseSchema(FormSchema):
    performed_on = fields.Date(
        required=True,
        error_messages={"required": "Enter the date of the calibration.", "invalid": "Enter a date as YYYY-MM-DD."},
    )
    performed_by = fields.Enum(
        CalibrationPerformer,
        by_value=True,
        load_default=CalibrationPerformer.IN_HOUSE,
        error_messages={"unknown": "Choose who performed the calibration."},
    )
    vendor_name = Trimmed(load_default="", validate=validate.Length(max=200))
    vendor_certificate_number = Trimmed(load_default="", validate=validate.Length(max=120))
    reference_standard_id = record_id(
        load_default=None, allow_none=True, error_messages={"invalid": "Choose a reference standard from the list."}
    )
    notes = Trimmed(load_default="", validate=validate.Length(max=2000))
    corrects_id = record_id(load_default=None, allow_none=True)
    correction_reason = Trimmed(load_default="", validate=validate.Length(max=500))

    @validates_schema
    def _vendor_named(self, data: dict, **_kwargs: object) -> None:
        if data.get("performed_by") == CalibrationPerformer.VENDOR and not data.get("vendor_name"):
            raise ValidationError("Name the vendor who calibrated it.", "vendor_name")


def calibration_schema(points: list[CalibrationPoint]) -> Schema:
    """The calibration form of one piece of equipment: an as-found and optional as-left reading per point."""
    readings: dict[str, fields.Field] = {}
    for point in points:
        readings[f"as_found_{point.id}"] = MeasurementField(
            required=True, error_messages={"required": f"Enter the as-found reading of {point.name}."}
        )
        readings[f"as_left_{point.id}"] = MeasurementField(load_default=None, allow_none=True)
    return type("CalibrationSchema", (_CalibrationBaseSchema,), readings)()


class MaintenanceStartSchema(FormSchema):
    kind = fields.Enum(
        MaintenanceKind,
        by_value=True,
        required=True,
        error_messages={"required": "Choose planned or unplanned.", "unknown": "Choose planned or unplanned."},
    )
    description = required_text("Describe the maintenance.", 2000)


class MaintenanceCloseSchema(FormSchema):
    outcome = required_text("Describe the outcome and the checks done.", 2000)


class ImpactCloseSchema(FormSchema):
    conclusion = required_text("Write the conclusion of the assessment.", 4000)
    password = Secret(required=True, error_messages={"required": "Enter your password to sign."})


class ImpactVerdictSchema(FormSchema):
    """The verdict on one record the affected uses served (its fields carry the record's prefix on the form)."""

    verdict = fields.Enum(
        Verdict,
        by_value=True,
        load_default=None,
        error_messages={"unknown": "Choose no impact or impact."},
    )
    comment = Trimmed(load_default="", validate=validate.Length(max=2000))


class RetireSchema(FormSchema):
    reason = reason_field("Give the reason for retiring it.")


# What the API shows


class CalibrationPointOutSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    nominal = MeasurementField(required=True, metadata={"example": "37 °C"})
    tolerance = fields.Method(
        "_tolerance",
        required=True,
        metadata={"type": "string", "example": "0.5 °C", "description": "± this much around nominal."},
    )

    def _tolerance(self, point: CalibrationPoint) -> str:
        return f"{point.tolerance_value} {point.nominal.unit}".rstrip()


class EquipmentOutSchema(Schema):
    """An item of the registry with its status today."""

    id = fields.Integer(required=True)
    asset_tag = fields.String(required=True)
    name = fields.String(required=True)
    equipment_type = fields.Enum(EquipmentType, by_value=True, required=True)
    status = fields.Enum(EquipmentStatus, by_value=True, required=True)
    location = fields.String(required=True)
    manufacturer = fields.String(required=True)
    model = fields.String(required=True)
    serial_number = fields.String(required=True)
    calibration_interval_days = fields.Integer(required=True)
    last_calibrated_on = fields.Date(required=True, allow_none=True)
    calibration_due_on = fields.Date(required=True, allow_none=True)
    rotor_radius = MeasurementField(
        required=True, allow_none=True, metadata={"description": "a centrifuge's rotor radius"}
    )
    points = fields.List(fields.Nested(CalibrationPointOutSchema), required=True)

    def get_attribute(self, obj: EquipmentWithStatus, attr: str, default: Any) -> Any:
        return obj.status if attr == "status" else super().get_attribute(obj.equipment, attr, default)


class ReviewPageSchema(FormSchema):
    """QA's equipment review: each of its two lists goes on after the (time, id) its previous page ended with."""

    calibrations = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)
    assessments = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)
