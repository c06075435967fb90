"""Input of the protocols area, for forms and the API, and what the API shows."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from lims.api.paging import Cursor
from lims.errors import InvalidInput
from lims.inputs import WholeNumber, record_id
from lims.units.errors import UnitError
from lims.units.fields import MeasurementField
from lims.units.parsing import parse_range
from lims.web import FormSchema, Trimmed, reason_field, required_text
from protocols.models import ProtocolPhase, ProtocolStatus, ProtocolVersion, ReferenceEvent, VersionStatus
from protocols.service.protocols import effective_version, parse_phase


class PhaseField(fields.String):
    """A phase as typed; earlier phases are refused with the reason."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return parse_phase(super()._deserialize(value, attr, data, **kwargs))
        except InvalidInput as error:
            raise ValidationError(error.message) from error


class RangeField(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return parse_range(super()._deserialize(value, attr, data, **kwargs))
        except UnitError as error:
            raise ValidationError(error.message) from error


class ProtocolCreateSchema(FormSchema):
    number = Trimmed(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._/-]{2,64}$", error="Use 2 to 64 letters, digits, dots, dashes or slashes."
        ),
        error_messages={"required": "Enter the protocol number."},
    )
    title = required_text("Enter the protocol title.", 2000)
    sponsor_id = record_id(
        required=True, error_messages={"required": "Choose the sponsor.", "invalid": "Choose the sponsor."}
    )
    phase = PhaseField(required=True, error_messages={"required": "Choose the phase."})
    therapeutic_area = required_text("Enter the therapeutic area.", 2000)
    investigational_product = required_text("Name the investigational product.", 2000)
    nct_id = Trimmed(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^NCT[0-9]{8}$", error="Write NCT and 8 digits, e.g. NCT02552212."),
    )


class ArmSchema(FormSchema):
    code = required_text("Enter a short code, e.g. A.", 16)
    name = required_text("Name the arm.")
    arm_type = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=64))
    description = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class VisitSchema(FormSchema):
    code = required_text("Enter a short code, e.g. D7.", 16)
    name = required_text("Name the visit.")
    reference_event = fields.Enum(
        ReferenceEvent,
        by_value=True,
        required=True,
        error_messages={"required": "Choose what the day counts from.", "unknown": "Choose what the day counts from."},
    )
    day_offset = WholeNumber(
        required=True, error_messages={"required": "Enter the day.", "invalid": "Enter the day as a whole number."}
    )
    window_before_days = WholeNumber(load_default=0, validate=validate.Range(min=0, error="Cannot be negative."))
    window_after_days = WholeNumber(load_default=0, validate=validate.Range(min=0, error="Cannot be negative."))
    procedures = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SampleRequirementSchema(FormSchema):
    visit_id = record_id(
        required=True, error_messages={"required": "Choose the visit.", "invalid": "Choose the visit."}
    )
    sample_type = required_text("Enter the sample type, e.g. peripheral blood.", 120)
    volume = MeasurementField(required=True, error_messages={"required": "Enter the volume, e.g. 10 mL."})
    container = required_text("Enter the container, e.g. K2EDTA tube.", 120)
    handling = RangeField(required=True, error_messages={"required": "Enter the handling range, e.g. 2–8 °C."})
    max_hours_to_processing = WholeNumber(
        required=True,
        validate=validate.Range(min=1, error="At least 1 hour."),
        error_messages={"required": "Enter the hours to processing.", "invalid": "Enter whole hours."},
    )


class NewVersionSchema(FormSchema):
    number = required_text("Enter the version number, e.g. 2.0.", 16)
    amendment_summary = required_text("Summarise what the amendment changes.", 4000)
    planned_effective_on = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )


class SubjectSchema(FormSchema):
    code = required_text("Enter the subject code.", 32)
    site = required_text("Enter the site number.", 64)
    arm_id = record_id(required=True, error_messages={"required": "Choose the arm.", "invalid": "Choose the arm."})
    enrolled_on = fields.Date(
        required=True,
        error_messages={"required": "Enter the enrolment date.", "invalid": "Enter a date as YYYY-MM-DD."},
    )
    consent_version = required_text("Enter the consent version signed.", 32)
    apheresis_on = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )
    infused_on = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )


class DiffSchema(FormSchema):
    old = record_id(required=True, error_messages={"required": "Choose the older version."})
    new = record_id(required=True, error_messages={"required": "Choose the newer version."})


class ImportSchema(FormSchema):
    sponsor_id = record_id(
        required=True, error_messages={"required": "Choose the sponsor.", "invalid": "Choose the sponsor."}
    )
    number = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=64))
    therapeutic_area = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ProtocolUpdateSchema(FormSchema):
    title = required_text("Enter the protocol title.", 2000)
    therapeutic_area = required_text("Enter the therapeutic area.", 2000)
    investigational_product = required_text("Name the investigational product.", 2000)
    status = fields.Enum(
        ProtocolStatus,
        by_value=True,
        required=True,
        error_messages={"required": "Choose the status.", "unknown": "Choose a status from the list."},
    )
    conditions = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    target_enrolment = WholeNumber(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a whole number of subjects."}
    )
    reason = reason_field()


class VisitUpdateSchema(VisitSchema):
    reason = reason_field()

    class Meta(VisitSchema.Meta):
        exclude = ("code",)  # a visit keeps its code: other versions and the samples refer to it


class SubjectUpdateSchema(FormSchema):
    site = required_text("Enter the site number.", 64)
    enrolled_on = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )
    consent_version = required_text("Enter the consent version signed.", 32)
    apheresis_on = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )
    infused_on = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )
    reason = reason_field()


class ArmUpdateSchema(ArmSchema):
    reason = reason_field()

    class Meta(ArmSchema.Meta):
        exclude = ("code",)  # subjects and other versions refer to an arm by its code


class SampleRequirementUpdateSchema(SampleRequirementSchema):
    reason = reason_field()

    class Meta(SampleRequirementSchema.Meta):
        exclude = ("visit_id",)


# What the API shows


class ArmOutSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(attribute="arm_type", required=True, allow_none=True)


class SampleRequirementOutSchema(Schema):
    sample_type = fields.String(required=True)
    volume = MeasurementField(required=True, metadata={"example": "10 mL"})
    container = fields.String(required=True)
    handling = fields.Function(
        lambda sample: f"{sample.handling_minimum.value}–{sample.handling_maximum}",
        required=True,
        metadata={"type": "string", "example": "2–8 °C"},
    )
    max_hours_to_processing = fields.Integer(required=True)


class VisitOutSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    reference_event = fields.Enum(ReferenceEvent, by_value=True, required=True)
    day = fields.Integer(
        attribute="day_offset",
        required=True,
        metadata={"description": "The day of the visit, counted from its reference event."},
    )
    window_before_days = fields.Integer(required=True)
    window_after_days = fields.Integer(required=True)
    samples = fields.List(fields.Nested(SampleRequirementOutSchema), attribute="requirements", required=True)


class ProtocolVersionOutSchema(Schema):
    number = fields.String(required=True)
    status = fields.Enum(VersionStatus, by_value=True, required=True)
    amendment_summary = fields.String(required=True)
    effective_at = fields.DateTime(required=True, allow_none=True)
    arms = fields.List(fields.Nested(ArmOutSchema), required=True)
    visits = fields.List(fields.Nested(VisitOutSchema), required=True)


class ProtocolOutSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    title = fields.String(required=True)
    phase = fields.Enum(ProtocolPhase, by_value=True, required=True)
    nct_id = fields.String(required=True, allow_none=True)
    sponsor = fields.String(
        attribute="sponsor.code", required=True, metadata={"description": "The code of the sponsoring organization."}
    )
    effective_version = fields.Function(
        lambda protocol: _number_or_none(effective_version(protocol)),
        required=True,
        allow_none=True,
        metadata={"type": "string"},
    )


class SubjectOutSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    protocol = fields.String(attribute="protocol.number", required=True)
    site = fields.String(required=True)


class ProtocolDetailOutSchema(ProtocolOutSchema):
    versions = fields.List(fields.Nested(ProtocolVersionOutSchema), required=True)


def _number_or_none(version: ProtocolVersion | None) -> str | None:
    return None if version is None else version.number


class ReviewListSchema(FormSchema):
    """Where the list of versions waiting for approval goes on from: the (created at, id) its last page ended with."""

    cursor = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)
