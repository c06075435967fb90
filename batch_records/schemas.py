"""Input of the batch records area, for forms and the API."""
from __future__ import annotations

from marshmallow import fields, validate

from lims.units import MeasurementField
from lims.web import FormSchema, Secret, Trimmed


def _required(message: str, length: int = 200) -> Trimmed:
    return Trimmed(required=True, validate=validate.Length(max=length), error_messages={"required": message})


def _date(message: str) -> fields.Date:
    return fields.Date(required=True, error_messages={"required": message, "invalid": "Enter a date as YYYY-MM-DD."})


class MaterialSchema(FormSchema):
    part_number = Trimmed(required=True, validate=validate.Regexp(r"^[A-Za-z0-9._-]{2,64}$",
                          error="Use 2 to 64 letters, digits, dots, dashes or underscores."),
                          error_messages={"required": "Enter the part number."})
    name = _required("Name the material.")
    specification = _required("Enter the specification the lab accepts it to.", 4000)
    storage_condition = _required("Enter how it is stored, e.g. 2–8 °C, dark.", 120)


class LotReceiptSchema(FormSchema):
    supplier = _required("Enter the supplier.")
    supplier_lot = _required("Enter the supplier's lot number.", 120)
    received_on = _date("Enter the date received.")
    expires_on = _date("Enter the expiry date.")
    quantity = MeasurementField(required=True, error_messages={"required": "Enter the quantity with its unit, e.g. 500 mL."})


class LotRejectionSchema(FormSchema):
    reason = _required("Give the reason for rejecting the lot.", 2000)
    password = Secret(required=True, error_messages={"required": "Enter your password to sign."})


class TrainingSchema(FormSchema):
    user_id = fields.Integer(required=True, error_messages={"required": "Choose who was trained.",
                                                            "invalid": "Choose who was trained."})
    subject = _required("Enter what the training covers, e.g. MBR CAR-T-001 v1 or SOP-QC-014 v3.", 120)
    trained_on = _date("Enter the training date.")
    expires_on = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."})
