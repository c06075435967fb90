"""Input of the training area, for forms."""

from __future__ import annotations

from marshmallow import fields

from lims.inputs import record_id
from lims.web import FormSchema, required_text


class TrainingSchema(FormSchema):
    user_id = record_id("Choose who was trained.", required=True)
    subject = required_text("Enter what the training covers, e.g. MBR CAR-T-001 v1 or SOP-QC-014 v3.", 120)
    trained_on = fields.Date(
        required=True, error_messages={"required": "Enter the training date.", "invalid": "Enter a date as YYYY-MM-DD."}
    )
    expires_on = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )
