"""Input of the audit pages: the viewer's filters."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from lims.inputs import WholeNumber, record_id
from lims.web import FormSchema, Trimmed

#: The sequence numbers an event can have (a big integer key); a larger number could not name an event.
_SEQUENCES = range(0, 2**63)


class EventFilterSchema(FormSchema):
    entity_type = Trimmed(load_default="")
    entity_id = Trimmed(load_default="", validate=validate.Length(max=64))
    user_id = record_id("Choose a user from the list.", load_default=None, allow_none=True)
    action = Trimmed(load_default="", validate=validate.Length(max=64))
    date_from = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )
    date_to = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."})
    q = Trimmed(load_default="", validate=validate.Length(max=200))
    #: with a record's type and id: the record's history includes the events of its parts
    with_parts = fields.Boolean(load_default=False)
    before = WholeNumber(within=_SEQUENCES[1:], load_default=None, allow_none=True)
    after = WholeNumber(within=_SEQUENCES, load_default=None, allow_none=True)

    @validates_schema
    def _range_runs_forward(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("The end date is before the start date.", field_name="date_to")

    @validates_schema
    def _parts_of_one_record(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("with_parts") and not (data.get("entity_type") and data.get("entity_id")):
            raise ValidationError(
                "Choose a record type and id to see the history of a record with its parts.", field_name="entity_id"
            )
