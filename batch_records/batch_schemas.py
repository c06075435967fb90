"""Input of executed batches: starting a batch, entries, uses, corrections, release results, deviations."""
from __future__ import annotations

from marshmallow import fields, validate

from batch_records.models import DeviationCategory
from lims.signatures.models import SignatureMeaning
from lims.units import MeasurementField
from lims.web import FormSchema, Secret, Trimmed, reason_field, required_text


def _choice(message: str) -> fields.Integer:
    return fields.Integer(required=True, error_messages={"required": message, "invalid": message})


class StartBatchSchema(FormSchema):
    mbr_version_id = _choice("Choose the master batch record to make the batch to.")
    subject_id = _choice("Choose the subject whose material this batch is made from.")
    starting_material_identity = required_text("Enter the starting material's identity as printed on its label.", 64)


class LateEntrySchema(FormSchema):
    #: local wall-clock time as a datetime-local input sends it; the view places it in the display time zone
    observed_at = fields.NaiveDateTime(load_default=None, allow_none=True,
                                       error_messages={"invalid": "Enter the date and time as YYYY-MM-DD HH:MM."})
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
    actual_yield = MeasurementField(required=True,
                                    error_messages={"required": "Enter the actual yield, e.g. 1.8 ×10^9 cells."})


class SkipSchema(FormSchema):
    reason = required_text("Say why the step is skipped.", 2000)


class ReleaseResultSchema(FormSchema):
    result = required_text("Enter the result.", 200)


class ResultCorrectionSchema(FormSchema):
    result = required_text("Enter the corrected result.", 200)
    reason = reason_field("Give the reason for the correction; it is kept in the audit trail.")


class DeviationSchema(FormSchema):
    description = required_text("Describe what deviated.", 4000)
    category = fields.Enum(DeviationCategory, by_value=True, load_default=None, allow_none=True,
                           error_messages={"unknown": "Choose minor, major or critical."})
    step_id = fields.Integer(load_default=None, allow_none=True, error_messages={"invalid": "Choose a step."})


class InvestigationSchema(FormSchema):
    category = fields.Enum(DeviationCategory, by_value=True, load_default=None, allow_none=True,
                           error_messages={"unknown": "Choose minor, major or critical."})
    investigation = Trimmed(load_default=None, validate=validate.Length(max=8000))
    root_cause = Trimmed(load_default=None, validate=validate.Length(max=4000))
    other_batches_assessed = Trimmed(load_default=None, validate=validate.Length(max=4000))
    conclusion = Trimmed(load_default=None, validate=validate.Length(max=4000))
    capa = Trimmed(load_default=None, validate=validate.Length(max=4000))
    reason = reason_field()


DISPOSITION_CHOICES = (SignatureMeaning.RELEASED, SignatureMeaning.QUARANTINED, SignatureMeaning.REJECTED)


class DispositionSchema(FormSchema):
    meaning = fields.Enum(SignatureMeaning, by_value=True, required=True,
                          validate=validate.OneOf(DISPOSITION_CHOICES, error="Choose released, quarantined or rejected."),
                          error_messages={"required": "Choose the disposition.",
                                          "unknown": "Choose released, quarantined or rejected."})
    reason = Trimmed(load_default=None, validate=validate.Length(max=4000))
    password = Secret(required=True, error_messages={"required": "Enter your password to sign."})
