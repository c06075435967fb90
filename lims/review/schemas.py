"""Input of the periodic review pages: the access review's roles per user, a period under review, signatures."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from werkzeug.datastructures import MultiDict

from lims.api.paging import Cursor
from lims.identity.models import RoleName
from lims.inputs import record_id
from lims.web import FormSchema, Secret, Trimmed

#: the access review's form names each user's role boxes "roles-<user id>" and what it listed "listed-<user id>"
ROLES_PREFIX = "roles-"
LISTED_PREFIX = "listed-"


def _password() -> Secret:
    return Secret(required=True, error_messages={"required": "Enter your password to sign."})


class AccessReviewSchema(FormSchema):
    change_reason = Trimmed(load_default=None, validate=validate.Length(max=500))
    comment = Trimmed(load_default=None, validate=validate.Length(max=2000))
    password = _password()


class TrailReviewSchema(FormSchema):
    """QA's review of a record's trail: what it found, and the signature."""

    comment = Trimmed(
        required=True,
        validate=validate.Length(max=2000),
        error_messages={"required": 'Say what you found in the trail ("nothing to report" is an answer).'},
    )
    password = _password()


class _Day(fields.Date):
    """A date a form must give: left blank, it asks for it rather than for another format."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValidationError(self.error_messages["required"])
        return super()._deserialize(value, attr, data, **kwargs)


class PeriodReviewSchema(TrailReviewSchema):
    period_start = _Day(
        required=True,
        error_messages={"required": "Enter the first day of the period.", "invalid": "Enter a date as YYYY-MM-DD."},
    )
    period_end = _Day(
        required=True,
        error_messages={"required": "Enter the last day of the period.", "invalid": "Enter a date as YYYY-MM-DD."},
    )

    @validates_schema
    def _runs_forward(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("period_start") and data.get("period_end") and data["period_end"] < data["period_start"]:
            raise ValidationError("The period ends before it starts.", field_name="period_end")


class ReviewListSchema(FormSchema):
    #: the sort key (time, id) of the last review the previous page showed
    cursor = Cursor(fields.AwareDateTime(default_timezone=None), record_id(), load_default=None)


_ROLE_ERROR = "Choose roles from the list."
_USER_ERROR = "The list names a user by something that is not a user's id; open the review again."


def _user_id(key: str, prefix: str) -> int:
    raw = key.removeprefix(prefix)
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= 2_147_483_647:
        raise ValidationError(_USER_ERROR, field_name="_form")
    return int(raw)


def access_decisions(form: MultiDict[str, str]) -> tuple[dict[int, set[RoleName]], dict[int, str]]:
    """The roles each listed user keeps (by user id) and the roles the page listed for each."""
    listed = {_user_id(key, LISTED_PREFIX): value for key, value in form.items() if key.startswith(LISTED_PREFIX)}
    decisions: dict[int, set[RoleName]] = {user_id: set() for user_id in listed}
    for key in form:
        if not key.startswith(ROLES_PREFIX):
            continue
        user_id = _user_id(key, ROLES_PREFIX)
        if user_id not in decisions:
            raise ValidationError(_USER_ERROR, field_name="_form")
        try:
            decisions[user_id] = {RoleName(value) for value in form.getlist(key)}
        except ValueError:
            raise ValidationError(_ROLE_ERROR, field_name=f"{ROLES_PREFIX}{user_id}") from None
    return decisions, listed
