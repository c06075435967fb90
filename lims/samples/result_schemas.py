"""Input of the results pages (a test assigned, a result entered or corrected, QA's release) and what the API
shows of released results."""

from __future__ import annotations

from marshmallow import Schema, fields

from lims.inputs import record_id
from lims.testing.schemas import ResultCorrectionSchema, ResultEntrySchema
from lims.web import FormSchema, Secret


class AssignTestSchema(FormSchema):
    definition_id = record_id("Choose the test to assign from the list.")


# A sample's result is entered and corrected as any QC result is: the results pages name the shared schemas so.
SampleResultSchema = ResultEntrySchema
SampleResultCorrectionSchema = ResultCorrectionSchema


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
    aliquot_of = fields.String(
        allow_none=True,
        metadata={"description": "The accession number of the manifest sample this aliquot was split from."},
    )


class ReleasedResultsOutSchema(Schema):
    """A submission's released results: none until QA releases them."""

    submission_id = fields.String(required=True)
    status = fields.String(required=True)
    released_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(ReleasedResultOutSchema), required=True)
