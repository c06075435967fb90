"""Input of the results pages (a test assigned, a result entered or corrected, QA's release) and what the API
shows of released results."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load

from lims.inputs import record_id
from lims.web import FormSchema, Secret, reason_field, required_text


class AssignTestSchema(FormSchema):
    definition_id = record_id("Choose the test to assign from the list.")


class SampleResultSchema(FormSchema):
    result = required_text("Enter the result.", 200)
    instrument_id = record_id(
        load_default=None, allow_none=True, error_messages={"invalid": "Choose the instrument from the list."}
    )

    @pre_load
    def _no_instrument_chosen(self, data: Any, **_kwargs: Any) -> Any:
        if hasattr(data, "get") and not (data.get("instrument_id") or "").strip():
            data = {key: data[key] for key in data if key != "instrument_id"}
        return data


class SampleResultCorrectionSchema(FormSchema):
    result = required_text("Enter the corrected result.", 200)
    reason = reason_field("Give the reason for the correction; it is kept in the audit trail.")


class ReleaseSchema(FormSchema):
    password = Secret(required=True, error_messages={"required": "Enter your password to sign the release."})


class ReleasedResultOutSchema(Schema):
    sample_id = fields.String(required=True)
    client_sample_id = fields.String(required=True)
    accession_number = fields.String(allow_none=True)
    sample_type = fields.String(required=True)
    test_code = fields.String(required=True)
    test = fields.String(required=True)
    method = fields.String(required=True)
    specification = fields.String(required=True)
    result = fields.String(required=True, metadata={"description": "The result with its unit, as judged."})
    unit = fields.String(required=True)
    conforms = fields.Boolean(required=True)
    released_at = fields.DateTime(required=True)


class ReleasedResultsOutSchema(Schema):
    """A submission's released results: none until QA releases them."""

    submission_id = fields.String(required=True)
    status = fields.String(required=True)
    released_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(ReleasedResultOutSchema), required=True)
