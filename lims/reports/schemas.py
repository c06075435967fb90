"""The parameters of each report, as its form on the reports page asks for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from batch_records.models import BatchStatus, DeviationCategory
from lims.inputs import WholeNumber, record_id
from lims.reports.service import audit_trail, batch_reviews, calibration, deviations, releases, training
from lims.reports.service.deviations import UNCLASSIFIED
from lims.reports.service.generation import Format, ReportType
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


def _format(offered: tuple[Format, ...], message: str) -> fields.Enum:
    return fields.Enum(
        Format,
        by_value=True,
        load_default=Format.PDF,
        validate=validate.OneOf(offered, error=message),
        error_messages={"unknown": message},
    )


class ReportSchema(FormSchema):
    """What every report asks: PDF or CSV."""

    format = _format((Format.PDF, Format.CSV), "Choose PDF or CSV.")


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


@dataclass(frozen=True)
class ReportForm:
    """A report and the schema of its parameters, as its form on the reports page and its API operation read them."""

    report: ReportType
    schema: type[ReportSchema]

    @property
    def view_name(self) -> str:
        """The name of its page's view and of its API operation."""
        return self.report.key.replace("-", "_")


FORMS = (
    ReportForm(audit_trail.REPORT, AuditTrailReportSchema),
    ReportForm(calibration.REPORT, CalibrationReportSchema),
    ReportForm(deviations.REPORT, OpenDeviationsReportSchema),
    ReportForm(releases.REPORT, ReleaseRegisterSchema),
    ReportForm(training.REPORT, TrainingMatrixSchema),
    ReportForm(batch_reviews.REPORT, BatchReviewSummarySchema),
)


def api_arguments(schema: type[ReportSchema]) -> type[ReportSchema]:
    """A report's parameters as the API reads them from the query: the same, and the report as PDF, CSV or its
    rows as JSON."""
    name = schema.__name__.removesuffix("Schema") + "ArgumentsSchema"
    return cast(
        type[ReportSchema],
        type(
            name, (schema,), {"format": _format(tuple(Format), "Choose pdf, csv or json."), "__doc__": schema.__doc__}
        ),
    )


class ChainHeadOutSchema(Schema):
    sequence = fields.Integer(required=True, metadata={"description": "The report's own report.generated event."})
    hash = fields.String(required=True, metadata={"description": "Its SHA-256."})


class ReportOutSchema(Schema):
    """A report as JSON: what it states, as the PDF and CSV state it, then its columns and rows."""

    report = fields.String(required=True, metadata={"description": "The report's title."})
    parameters = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "The parameters as the report states them, by label."},
    )
    generated_by = fields.String(required=True)
    generated_at = fields.DateTime(required=True)
    audit_chain_head = fields.Nested(ChainHeadOutSchema, required=True)
    columns = fields.List(fields.String(), required=True)
    rows = fields.List(
        fields.List(fields.String()), required=True, metadata={"description": "Each row its cells, as text."}
    )
