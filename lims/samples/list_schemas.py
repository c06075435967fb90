"""Input of the samples work list (its filters, on the page and in the API) and of the lab's stability limits."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from lims.inputs import WholeNumber
from lims.samples.models import SampleStatus
from lims.web import FormSchema, Trimmed, required_text

#: the longest stability limit the lab may set: a year
MAX_STABILITY_HOURS = 24 * 366
_DATE_ERRORS: dict[str, Any] = {"invalid": "Enter a date as YYYY-MM-DD."}


class SampleFilterSchema(FormSchema):
    """The work list's filters; every one is optional, and they combine."""

    status = fields.Enum(
        SampleStatus,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "There is no such status; choose one of the list."},
    )
    sample_type = Trimmed(
        load_default=None, allow_none=True, validate=validate.Length(max=120), metadata={"description": "As written."}
    )
    organization = Trimmed(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=16),
        metadata={"description": "A client organization's code (staff)."},
    )
    received_from = fields.Date(
        load_default=None, allow_none=True, error_messages=_DATE_ERRORS, metadata={"description": "Local date."}
    )
    received_to = fields.Date(
        load_default=None,
        allow_none=True,
        error_messages=_DATE_ERRORS,
        metadata={"description": "Local date, included."},
    )
    past_stability_window = fields.Boolean(
        load_default=False,
        metadata={"description": "Only accepted samples not yet processed whose stability deadline has passed."},
    )

    @validates_schema
    def _range_in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("received_from"), data.get("received_to")
        if start is not None and end is not None and end < start:
            raise ValidationError("The last day received comes before the first.", field_name="received_to")


class StabilityLimitSchema(FormSchema):
    """The lab's longest time from collection to processing for a sample type."""

    sample_type = required_text("Enter the sample type, e.g. peripheral blood.", 120)
    max_hours = WholeNumber(
        required=True,
        within=range(1, MAX_STABILITY_HOURS + 1),
        error_messages={
            "required": "Enter the most hours from collection to processing.",
            "invalid": "Enter a whole number of hours.",
            "out_of_range": "Enter from {min} to {max} hours.",
        },
    )
    reason = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=500))
