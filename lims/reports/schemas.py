"""The parameters of each report, as its form on the reports page asks for them."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from batch_records.models import BatchStatus, DeviationCategory
from lims.inputs import WholeNumber, record_id
from lims.reports.service.deviations import UNCLASSIFIED
from lims.reports.service.generation import Format
from lims.signatures.models import SignatureMeaning
from lims.web import FormSchema, Trimmed

_DATE_MESSAGES: dict[str, Any] = {"invalid": "Enter a date as YYYY-MM-DD."}
#: days ahead or open a report may ask about: some 270 years, far beyond any interval of calibration or age
_DAYS = range(0, 100_000)


def _date() -> fields.Date:
    return fields.Date(load_default=None, allow_none=True, error_messages=_DATE_MESSAGES)


def _flag() -> fields.Boolean:
    return fields.Boolean(load_default=False, truthy={"on", "1", "true", "yes"}, falsy={"", "0", "false", "no"})


def _days(message: str) -> WholeNumber:
    return WholeNumber(
        within=_DAYS,
        load_default=None,
        allow_none=True,
        error_messages={"invalid": message, "out_of_range": "Enter a number of days from {min} to {max}."},
    )


class ReportSchema(FormSchema):
    """What every report asks: PDF or CSV."""

    format = fields.Enum(
        Format, by_value=True, load_default=Format.PDF, error_messages={"unknown": "Choose PDF or CSV."}
    )


class DayRangeSchema(ReportSchema):
    date_from = _date()
    date_to = _date()

    @validates_schema
    def _range_runs_forward(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("The end date is before the start date.", field_name="date_to")


class AuditTrailReportSchema(DayRangeSchema):
    entity_type = Trimmed(load_default="", validate=validate.Length(max=64))
    entity_id = Trimmed(load_default="", validate=validate.Length(max=64))
    user_id = record_id("Choose a user from the list.", load_default=None, allow_none=True)

    @validates_schema
    def _scope_chosen(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not (data.get("entity_type") or data.get("user_id") or data.get("date_from") or data.get("date_to")):
            raise ValidationError(
                "Choose a record, a user or a range of days: the whole trail is the audit trail export's.",
                field_name="entity_type",
            )


class CalibrationReportSchema(ReportSchema):
    due_within_days = _days("Enter a number of days, e.g. 30.")
    include_retired = _flag()


class OpenDeviationsReportSchema(ReportSchema):
    category = Trimmed(
        load_default="",
        validate=validate.OneOf(
            ["", UNCLASSIFIED, *(category.value for category in DeviationCategory)],
            error="Choose a category from the list.",
        ),
    )
    older_than_days = _days("Enter a number of days, e.g. 30.")


class ReleaseRegisterSchema(DayRangeSchema):
    decision = fields.Enum(
        SignatureMeaning,
        by_value=True,
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(
            [SignatureMeaning.RELEASED, SignatureMeaning.REJECTED], error="Choose released or rejected."
        ),
        error_messages={"unknown": "Choose released or rejected."},
    )


class TrainingMatrixSchema(ReportSchema):
    subject = Trimmed(load_default="", validate=validate.Length(max=120))
    user_id = record_id("Choose a person from the list.", load_default=None, allow_none=True)
    in_force_only = _flag()


class BatchReviewSummarySchema(DayRangeSchema):
    batch_number = Trimmed(load_default="", validate=validate.Length(max=32))
    status = fields.Enum(
        BatchStatus,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Choose a status from the list."},
    )
