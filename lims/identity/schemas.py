"""Input of the identity area, for forms and the API alike, and what the API shows."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from lims.api.paging import Cursor
from lims.identity.models import ApiToken, RoleName
from lims.inputs import WholeNumber, record_id
from lims.web import FormSchema, Secret, Trimmed, reason_field

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"


class LoginSchema(FormSchema):
    username = Trimmed(required=True, error_messages={"required": "Enter your username."})
    password = Secret(required=True, error_messages={"required": "Enter your password."})
    next = fields.String(load_default="")


class PasswordChangeSchema(FormSchema):
    current_password = Secret(required=True, error_messages={"required": "Enter your current password."})
    new_password = Secret(required=True, error_messages={"required": "Enter a new password."})
    confirm_password = Secret(required=True, error_messages={"required": "Repeat the new password."})

    @validates_schema
    def _passwords_match(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("new_password") != data.get("confirm_password"):
            raise ValidationError("The two new passwords differ.", "confirm_password")


class _UserDetailsSchema(FormSchema):
    full_name = Trimmed(
        required=True,
        validate=validate.Length(max=200),
        error_messages={"required": "Enter the full name as it should appear on signatures."},
    )
    email = fields.Email(
        required=True,
        error_messages={"required": "Enter an e-mail address.", "invalid": "Enter a valid e-mail address."},
    )
    roles = fields.List(
        fields.Enum(RoleName, by_value=True, error_messages={"unknown": "Unknown role; choose one of {choices}."}),
        required=True,
        validate=validate.Length(min=1, error="Choose at least one role."),
        error_messages={"required": "Choose at least one role."},
    )


class UserCreateSchema(_UserDetailsSchema):
    username = Trimmed(
        required=True,
        validate=validate.Regexp(
            USERNAME_PATTERN,
            error="Use 3 to 64 lower-case letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit.",
        ),
        error_messages={"required": "Enter a username."},
    )
    organization_id = record_id("Choose an organization.", required=True)
    reason = reason_field("Give the reason for granting these roles; it is kept in the access-change report.")


class UserUpdateSchema(_UserDetailsSchema):
    reason = reason_field()


class ReasonSchema(FormSchema):
    reason = reason_field("Give the reason.")


class UserFilterSchema(FormSchema):
    q = Trimmed(load_default="")
    role = fields.Enum(
        RoleName,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Unknown role; choose one of {choices}."},
    )
    organization_id = record_id("Choose an organization from the list.", load_default=None, allow_none=True)
    status = fields.String(load_default="all", validate=validate.OneOf(["all", "active", "deactivated", "locked"]))
    page = WholeNumber(load_default=1, validate=validate.Range(min=1))


class AccessChangeFilterSchema(FormSchema):
    """The access-change report's filters; the dates are the facility's local dates, both included."""

    user_id = record_id("Choose a user from the list.", load_default=None, allow_none=True)
    changed_by_id = record_id("Choose a user from the list.", load_default=None, allow_none=True)
    date_from = fields.Date(
        load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."}
    )
    date_to = fields.Date(load_default=None, allow_none=True, error_messages={"invalid": "Enter a date as YYYY-MM-DD."})
    #: the sort key (time, id) of the last change the previous page showed
    cursor = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)

    @validates_schema
    def _range_runs_forward(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("The end date is before the start date.", field_name="date_to")


class OrganizationCreateSchema(FormSchema):
    code = Trimmed(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9-]{2,16}$", error="Use 2 to 16 letters, digits or dashes."),
        error_messages={"required": "Enter a short code, e.g. HELIX."},
    )
    name = Trimmed(
        required=True, validate=validate.Length(max=200), error_messages={"required": "Enter the organization's name."}
    )


class OrganizationUpdateSchema(FormSchema):
    name = Trimmed(
        required=True, validate=validate.Length(max=200), error_messages={"required": "Enter the organization's name."}
    )
    active = fields.Boolean(load_default=False, truthy={"on", "true", "1"}, falsy={"off", "false", "0", ""})
    reason = reason_field()


class ApiTokenCreateSchema(FormSchema):
    """A client user's token: it acts for their own organization."""

    name = Trimmed(
        required=True,
        validate=validate.Length(max=100),
        error_messages={"required": "Name the token after the system that will use it."},
    )


class AdminApiTokenCreateSchema(ApiTokenCreateSchema):
    """An administrator's token: for the client organization chosen."""

    organization_id = record_id("Choose the client organization the token acts for.", required=True)


# What the API shows


class OrganizationOutSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class ApiTokenOutSchema(Schema):
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "The public start of the token."})
    created_at = fields.DateTime(required=True)


class ApiCallerOutSchema(Schema):
    """Who is calling, dumped from the API token presented: the token, and the organization it acts for."""

    organization = fields.Nested(OrganizationOutSchema, required=True)
    token = fields.Nested(ApiTokenOutSchema, required=True)

    def get_attribute(self, obj: ApiToken, attr: str, default: Any) -> Any:
        return obj if attr == "token" else super().get_attribute(obj, attr, default)
