"""Input of the materials area, for forms: materials, lot receipt and rejection."""

from __future__ import annotations

from marshmallow import fields, validate

from lims.api.paging import Cursor
from lims.inputs import record_id
from lims.units.fields import MeasurementField
from lims.web import FormSchema, Secret, Trimmed, required_text


def _date(message: str) -> fields.Date:
    return fields.Date(required=True, error_messages={"required": message, "invalid": "Enter a date as YYYY-MM-DD."})


class MaterialSchema(FormSchema):
    part_number = Trimmed(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._-]{2,64}$", error="Use 2 to 64 letters, digits, dots, dashes or underscores."
        ),
        error_messages={"required": "Enter the part number."},
    )
    name = required_text("Name the material.")
    specification = required_text("Enter the specification the lab accepts it to.", 4000)
    storage_condition = required_text("Enter how it is stored, e.g. 2–8 °C, dark.", 120)
    #: blank for a material counted in items
    unit = Trimmed(load_default="", validate=validate.Length(max=32))


class LotReceiptSchema(FormSchema):
    supplier = required_text("Enter the supplier.")
    supplier_lot = required_text("Enter the supplier's lot number.", 120)
    received_on = _date("Enter the date received.")
    expires_on = _date("Enter the expiry date.")
    quantity = MeasurementField(
        required=True, error_messages={"required": "Enter the quantity with its unit, e.g. 500 mL."}
    )


class LotRejectionSchema(FormSchema):
    reason = required_text("Give the reason for rejecting the lot.", 2000)
    password = Secret(required=True, error_messages={"required": "Enter your password to sign."})


class QuarantinePageSchema(FormSchema):
    """A page of the lots in quarantine: after the (received on, id) the previous page ended with."""

    cursor = Cursor(fields.Date(), record_id(), load_default=None)
