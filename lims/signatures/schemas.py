"""Input of the signing form. The signer is never part of it: it is the signed-in user."""

from __future__ import annotations

from marshmallow import fields

from lims.web import FormSchema, Secret


class SignSchema(FormSchema):
    password = Secret(required=True, error_messages={"required": "Enter your password to sign."})
    next = fields.String(load_default="")
