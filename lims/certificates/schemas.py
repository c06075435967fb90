"""Input of the certificate, verification and label pages, and the API's output shapes."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from lims.certificates.models import DocumentKind
from lims.inputs import WholeNumber
from lims.web import FormSchema, Secret, Trimmed, reason_field, required_text

#: ISBT 128 product code: product description code (a letter, four digits), type of collection, division
PRODUCT_CODE = r"[A-Z]\d{4}[A-Z0-9][A-Z0-9]{2}"


class SignedReasonSchema(FormSchema):
    """A correction or a revocation: why, and QA's password to sign it."""

    reason = reason_field("Say why; the reason is printed on a corrected version and kept in the audit trail.")
    password = Secret(required=True, error_messages={"required": "Enter your password to sign."})


class VersionQuerySchema(Schema):
    version = WholeNumber(load_default=None, validate=validate.Range(min=1, max=10_000))


class LabelSchema(FormSchema):
    product_code = required_text("Enter the ISBT 128 product code.", 8)
    expires_at = fields.NaiveDateTime(
        required=True,
        format="%Y-%m-%dT%H:%M",
        error_messages={
            "required": "Enter the expiry date and time.",
            "invalid": "Enter the expiry as a date and time.",
        },
    )
    storage = required_text("Enter the storage conditions printed on the bag.", 70)
    gtin = Trimmed(
        load_default=None, validate=validate.Regexp(r"\d{8}|\d{12,14}", error="A GTIN is 8, 12, 13 or 14 digits.")
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields["product_code"].validators.append(
            validate.Regexp(
                PRODUCT_CODE,
                error="An ISBT 128 product code is eight characters: a letter and four digits (the product), then "
                "the type of collection and the two-character division, e.g. S1234100 for an autologous product, "
                "S1234V00 for an allogeneic one.",
            )
        )


class CertificateOutSchema(Schema):
    """An issued document version, as the API lists it."""

    id = fields.Integer()
    kind = fields.Enum(DocumentKind, by_value=True)
    number = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"description": "valid, superseded or revoked"})
    product = fields.String()
    batch_number = fields.String(attribute="reference")
    issued_at = fields.AwareDateTime()
    file_sha256 = fields.String()
    content_sha256 = fields.String()
    correction_reason = fields.String(allow_none=True)
