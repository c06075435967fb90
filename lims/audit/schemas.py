"""Input of the audit pages: the viewer's filters."""
from __future__ import annotations

from marshmallow import fields, validate

from lims.web import FormSchema, Trimmed


class EventFilterSchema(FormSchema):
    entity_type = Trimmed(load_default="")
    entity_id = Trimmed(load_default="", validate=validate.Length(max=64))
    user_id = fields.Integer(load_default=None, allow_none=True, error_messages={"invalid": "Choose a user from the list."})
    action = Trimmed(load_default="", validate=validate.Length(max=64))
    date_from = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."})
    date_to = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."})
    q = Trimmed(load_default="", validate=validate.Length(max=200))
    before = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
