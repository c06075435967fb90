"""Input of the batch records area, for forms and the API: master batch records; executed batches, their
release tests, deviations and disposition. Then what the API shows of a batch."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from batch_records.models import (
    Batch,
    BatchStatus,
    BatchStep,
    DeviationCategory,
    DeviationStatus,
    DonorType,
    StepStatus,
)
from batch_records.service.release import BatchReview
from lims.api.paging import Cursor
from lims.equipment.models import EquipmentType
from lims.inputs import WholeNumber, record_id
from lims.signatures.models import SignatureMeaning
from lims.units.errors import UnitError
from lims.units.fields import MeasurementField, ValueKindField
from lims.units.parsing import parse_in_unit, unit_text
from lims.web import FormSchema, Secret, Trimmed, reason_field, required_text

# Master batch records

#: a ticked checkbox sends "on"; an unticked one sends nothing
_TRUTHY = {"on", "true", "1", "yes"}
_FALSY = {"off", "false", "0", "no", ""}


def _flag() -> fields.Boolean:
    return fields.Boolean(load_default=False, truthy=_TRUTHY, falsy=_FALSY)


def _choice(message: str) -> WholeNumber:
    return record_id(message, required=True)


def _percent(label: str) -> fields.Decimal:
    return fields.Decimal(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, error=f"The {label} cannot be negative."),
        error_messages={"invalid": f"Enter the {label} as a number of percent, e.g. 80."},
    )


def _donor_type() -> fields.Enum:
    return fields.Enum(
        DonorType,
        by_value=True,
        required=True,
        error_messages={
            "required": "Say whether the product is autologous or allogeneic.",
            "unknown": "Choose autologous or allogeneic.",
        },
    )


class MasterCreateSchema(FormSchema):
    code = Trimmed(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._-]{2,32}$", error="Use 2 to 32 letters, digits, dots, dashes or underscores."
        ),
        error_messages={"required": "Enter the master record code, e.g. CART-001."},
    )
    product = required_text("Name the product the record makes.")
    donor_type = _donor_type()
    change_summary = required_text("Say what the first version is for, e.g. First issue.", 4000)


class DonorTypeSchema(FormSchema):
    donor_type = _donor_type()
    reason = reason_field()


class StepSchema(FormSchema):
    stage = required_text("Choose or type the stage of the process.", 64)
    title = required_text("Give the step a title.")
    instruction = required_text("Write the instruction the operator follows.", 8000)
    second_person_verification = _flag()
    hold_point = _flag()
    skippable = _flag()
    qc_sampling = _flag()
    equipment_types = fields.List(
        fields.Enum(EquipmentType, by_value=True, error_messages={"unknown": "Choose equipment types from the list."}),
        load_default=list,
    )
    theoretical_yield = MeasurementField(load_default=None, allow_none=True)
    yield_minimum_percent = _percent("minimum yield")
    yield_maximum_percent = _percent("maximum yield")


class StepUpdateSchema(StepSchema):
    reason = reason_field()


class UnitText(Trimmed):
    """A unit as typed (``cells / ml``); empty for a pure number. Unknown units are refused here."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            unit_text(text)
        except UnitError as error:
            raise ValidationError(error.message) from error
        return text


class ParameterSchema(FormSchema):
    step_id = _choice("Choose the step the parameter belongs to.")
    name = required_text("Name the parameter, e.g. Temperature.", 120)
    unit = UnitText(load_default="", validate=validate.Length(max=32))
    #: a bare number is taken in the parameter's unit
    target = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=60))
    limit = Trimmed(load_default=None, allow_none=True, validate=validate.Length(max=120))
    value_kind = ValueKindField(load_default=None, allow_none=True)
    optional = _flag()

    @post_load
    def _to_design(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data["required"] = not data.pop("optional")
        target = data.get("target")
        if target:
            try:
                data["target"] = parse_in_unit(target, data["unit"])
            except UnitError as error:
                raise ValidationError({"target": [error.message]}) from error
        else:
            data["target"] = None
        return data


class MaterialRequirementSchema(FormSchema):
    step_id = _choice("Choose the step that uses the material.")
    material_id = _choice("Choose the material.")
    quantity = MeasurementField(
        required=True, error_messages={"required": "Enter the quantity with its unit, e.g. 250 mL."}
    )


class ReleaseTestSchema(FormSchema):
    definition_id = _choice("Choose the test a batch must pass.")


class NewMbrVersionSchema(FormSchema):
    change_summary = required_text("Summarise what the new version changes.", 4000)


class RetireSchema(FormSchema):
    reason = reason_field("Give the reason for retiring this version; it is kept in the audit trail.")


# Executed batches


class StartBatchSchema(FormSchema):
    mbr_version_id = _choice("Choose the master batch record to make the batch to.")
    subject_id = _choice("Choose the subject whose material this batch is made from.")
    starting_material_identity = required_text("Enter the starting material's identity as printed on its label.", 64)


class ChosenSubjectSchema(FormSchema):
    """The subject a refused start form had chosen, to offer it again."""

    subject_id = record_id(load_default=None)


class ListPageSchema(FormSchema):
    """A page of a list ordered by a time and an id (steps to sign, deviations, batches): it goes on after the
    (time, id) the previous page ended with."""

    cursor = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)


#: where an equipment (or instrument) picker's matches go on from: an asset tag; a lot picker's: a lot's expiry and id
EQUIPMENT_PICKER_CURSOR = Cursor(fields.String(validate=validate.Length(max=32)))
LOT_PICKER_CURSOR = Cursor(fields.Date(), record_id())
#: where the subject picker's matches go on from: a subject's code and id
SUBJECT_PICKER_CURSOR = Cursor(fields.String(validate=validate.Length(max=32)), record_id())


class LateEntrySchema(FormSchema):
    #: local wall-clock time as a datetime-local input sends it; the view places it in the display time zone
    observed_at = fields.NaiveDateTime(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter the date and time as YYYY-MM-DD HH:MM."}
    )
    late_reason = Trimmed(load_default=None, validate=validate.Length(max=2000))


class CorrectionSchema(FormSchema):
    value = required_text("Enter the corrected value.", 120)
    reason = reason_field("Give the reason for the correction; it is kept in the audit trail.")


class EquipmentUseSchema(FormSchema):
    equipment_id = _choice("Choose the equipment used.")


class MaterialUseSchema(FormSchema):
    requirement_id = _choice("Choose the material.")
    lot_id = _choice("Choose the lot used.")
    quantity = MeasurementField(required=True, error_messages={"required": "Enter the quantity used, e.g. 250 mL."})


class YieldSchema(FormSchema):
    actual_yield = MeasurementField(
        required=True, error_messages={"required": "Enter the actual yield, e.g. 1.8 ×10^9 cells."}
    )


class SkipSchema(FormSchema):
    reason = required_text("Say why the step is skipped.", 2000)
    password = Secret(required=True, error_messages={"required": "Enter your password to sign the skipped step."})


class DeviationSchema(FormSchema):
    description = required_text("Describe what deviated.", 4000)
    category = fields.Enum(
        DeviationCategory,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Choose minor, major or critical."},
    )
    step_id = record_id(load_default=None, allow_none=True, error_messages={"invalid": "Choose a step."})


class InvestigationSchema(FormSchema):
    category = fields.Enum(
        DeviationCategory,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Choose minor, major or critical."},
    )
    investigation = Trimmed(load_default=None, validate=validate.Length(max=8000))
    root_cause = Trimmed(load_default=None, validate=validate.Length(max=4000))
    other_batches_assessed = Trimmed(load_default=None, validate=validate.Length(max=4000))
    conclusion = Trimmed(load_default=None, validate=validate.Length(max=4000))
    capa = Trimmed(load_default=None, validate=validate.Length(max=4000))
    reason = reason_field()


DISPOSITION_CHOICES = (SignatureMeaning.RELEASED, SignatureMeaning.QUARANTINED, SignatureMeaning.REJECTED)


class DispositionSchema(FormSchema):
    meaning = fields.Enum(
        SignatureMeaning,
        by_value=True,
        required=True,
        validate=validate.OneOf(DISPOSITION_CHOICES, error="Choose released, quarantined or rejected."),
        error_messages={"required": "Choose the disposition.", "unknown": "Choose released, quarantined or rejected."},
    )
    reason = Trimmed(load_default=None, validate=validate.Length(max=4000))
    password = Secret(required=True, error_messages={"required": "Enter your password to sign."})


class BatchQuerySchema(Schema):
    """The API's filter of the batch list."""

    status = fields.Enum(
        BatchStatus,
        by_value=True,
        metadata={"description": "Only the batches in this status."},
        error_messages={"unknown": "There is no such batch status; use one of {choices}."},
    )


# What the API shows


class ChainOfIdentityOutSchema(Schema):
    """Whose material a batch was made from, dumped from the batch."""

    subject = fields.String(attribute="subject.code", required=True)
    protocol = fields.String(attribute="subject.protocol.number", required=True)
    starting_material = fields.String(attribute="starting_material_identity", required=True)


class BatchOutSchema(Schema):
    id = fields.Integer(required=True)
    batch_number = fields.String(required=True)
    product = fields.String(required=True)
    mbr = fields.String(
        attribute="mbr_label",
        required=True,
        metadata={"description": "The master batch record version it was made to."},
    )
    status = fields.Enum(BatchStatus, by_value=True, required=True)
    donor_type = fields.Enum(
        DonorType,
        by_value=True,
        required=True,
        metadata={
            "description": "Whose cells the product is made of, and for whom, as the master batch record version "
            "says: autologous, the subject's own cells for that subject alone; allogeneic, a donor's cells for other "
            "people."
        },
    )
    created_at = fields.DateTime(required=True)
    chain_of_identity = fields.Nested(ChainOfIdentityOutSchema, required=True)

    def get_attribute(self, obj: Batch, attr: str, default: Any) -> Any:
        return obj if attr == "chain_of_identity" else super().get_attribute(obj, attr, default)


class EntryOutSchema(Schema):
    parameter = fields.String(attribute="parameter.name", required=True)
    value = fields.Function(
        lambda entry: format(entry.value.value, "f"),
        required=True,
        metadata={"type": "string", "description": "The exact decimal value.", "example": "4.5"},
    )
    unit = fields.String(attribute="value.unit", required=True)
    within_limits = fields.Boolean(required=True)
    corrected = fields.Function(
        lambda entry: entry.replaces_id is not None,
        required=True,
        metadata={"type": "boolean", "description": "It replaces an earlier entry."},
    )


class StepOutSchema(Schema):
    """A step with the entries that stand (a corrected entry shows its correction)."""

    position = fields.Integer(required=True)
    stage = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Enum(StepStatus, by_value=True, required=True)
    performed_by = fields.String(attribute="performed_by.full_name", required=True, allow_none=True, dump_default=None)
    started_at = fields.DateTime(required=True, allow_none=True)
    completed_at = fields.DateTime(required=True, allow_none=True)
    skip_reason = fields.String(required=True, allow_none=True)
    entries = fields.List(fields.Nested(EntryOutSchema), required=True)

    def get_attribute(self, obj: BatchStep, attr: str, default: Any) -> Any:
        if attr == "entries":
            return [parameter.current_entry for parameter in obj.parameters if parameter.current_entry is not None]
        return super().get_attribute(obj, attr, default)


class ReleaseTestOutSchema(Schema):
    test = fields.String(attribute="test.definition.name", required=True)
    specification = fields.String(attribute="test.specification", required=True)
    result = fields.String(attribute="result.reported", required=True, allow_none=True, dump_default=None)
    conforms = fields.Boolean(attribute="result.conforms", required=True, allow_none=True, dump_default=None)
    instrument = fields.String(
        attribute="result.instrument.asset_tag",
        required=True,
        allow_none=True,
        dump_default=None,
        metadata={"description": "The asset tag of the equipment the test ran on, when the result names one."},
    )
    verified = fields.Boolean(required=True, metadata={"description": "A second person's verification holds."})


class DeviationOutSchema(Schema):
    number = fields.String(required=True)
    category = fields.Enum(DeviationCategory, by_value=True, required=True, allow_none=True)
    status = fields.Enum(DeviationStatus, by_value=True, required=True)
    raised_at = fields.DateTime(required=True)


class BatchDetailOutSchema(BatchOutSchema):
    """A batch's whole record, dumped from the service's review of it."""

    disposition_reason = fields.String(required=True, allow_none=True)
    disposition_at = fields.DateTime(required=True, allow_none=True)
    steps = fields.List(fields.Nested(StepOutSchema), required=True)
    release_tests = fields.List(fields.Nested(ReleaseTestOutSchema), required=True)
    deviations = fields.List(fields.Nested(DeviationOutSchema), required=True)
    results_withheld = fields.Boolean(
        required=True,
        metadata={
            "description": "Release results and deviations are not shown to a client until QA has released or "
            "rejected the batch."
        },
    )

    def get_attribute(self, obj: BatchReview, attr: str, default: Any) -> Any:  # type: ignore[override]
        if attr in ("release_tests", "deviations", "results_withheld"):
            # what the review works out: current results and verifications, and what a client may see
            return getattr(obj, attr)
        return super().get_attribute(obj.batch, attr, default)
