"""Input of the compliance pages (the findings list's filters, QA's comments, a check's settings) and the API's
output shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from marshmallow import Schema, fields, validate

from lims.api.paging import Cursor
from lims.compliance.models import FindingStatus, Severity
from lims.compliance.service.settings import PARAMETER_RANGE
from lims.inputs import WholeNumber, record_id
from lims.web import FormSchema, Trimmed, reason_field, required_text

#: the sort key of a listed finding: severity rank, when it opened, id
FINDING_KEY = (fields.Integer(validate=validate.Range(1, 3)), fields.AwareDateTime(), record_id())
AREA = Trimmed(load_default="", validate=validate.Length(max=64))


class FindingListSchema(FormSchema):
    """Which findings the dashboard lists, and from where."""

    severity = fields.Enum(
        Severity, by_value=True, load_default=None, error_messages={"unknown": "Choose critical, major or minor."}
    )
    area = AREA
    cursor = Cursor(*FINDING_KEY, load_default=None)


class FindingCommentSchema(FormSchema):
    """QA's comment on acknowledging or closing a finding."""

    comment = required_text("Say what was done or why; the comment is kept in the audit trail.", 2000)


def check_setting_schema(parameters: Mapping[str, int]) -> FormSchema:
    """The settings form of a check with these ``parameters``: enabled, each parameter, and the reason."""
    declared: dict[str, Any] = {
        "enabled": fields.Boolean(load_default=False, truthy={"on", "true", "1"}, falsy={"off", "false", "0", ""}),
        "reason": reason_field("Give the reason for changing the check; it is kept in the audit trail."),
    }
    for name in parameters:
        declared[name] = WholeNumber(
            within=PARAMETER_RANGE,
            required=True,
            error_messages={
                "required": f"Enter the {name.replace('_', ' ')}.",
                "invalid": f"The {name.replace('_', ' ')} is a whole number.",
            },
        )
    return cast(FormSchema, FormSchema.from_dict(declared, name="CheckSettingSchema")())


class FindingOutSchema(Schema):
    """A finding, as the API lists it."""

    id = fields.Integer()
    check_id = fields.String()
    area = fields.String()
    record_type = fields.String()
    record_id = fields.String()
    record_label = fields.String()
    detail = fields.String()
    link = fields.String(allow_none=True)
    severity = fields.Enum(Severity, by_value=True)
    status = fields.Enum(FindingStatus, by_value=True)
    opened_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime()
    resolved_at = fields.AwareDateTime(allow_none=True)
    times_reopened = fields.Integer()
    acknowledged_at = fields.AwareDateTime(allow_none=True)
    acknowledgement = fields.String(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    closing_comment = fields.String(allow_none=True)


class FindingQuerySchema(Schema):
    """The API's filters of the findings list."""

    status = fields.Enum(FindingStatus, by_value=True, load_default=None)
    severity = fields.Enum(Severity, by_value=True, load_default=None)
    area = fields.String(load_default="", validate=validate.Length(max=64))
