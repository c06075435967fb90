"""One path for every refused form: undo what it changed (a failed password excepted), answer with the right
status, and show each message at the input it concerns."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask, g
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from lims.db import changes_kept_despite_refusal, get_session
from lims.errors import Conflict, InvalidInput, LimsError
from lims.identity.models import LoginAttempt, LoginOutcome, Organization, OrganizationKind, RoleName, User
from lims.identity.service import organizations, sign_in
from lims.web import REFUSAL_MESSAGE, FormSchema, RepeatedForm, refusals_answered, required_text
from tests.helpers import submit


class CorrectionSchema(FormSchema):
    value = required_text("Enter the corrected value.")
    reason = required_text("Give the reason for the correction.")


def _errors_as_json(errors: dict[str, list[str]], _status: int) -> str:
    return json.dumps(errors)


def _refused(action: Callable[[], object], repeated: RepeatedForm | None = None) -> HTTPException:
    with pytest.raises(HTTPException) as refused:
        with refusals_answered(_errors_as_json, repeated=repeated):
            action()
    return refused.value


def _answer(refusal: HTTPException) -> tuple[int, dict[str, list[str]]]:
    response = refusal.get_response()
    return response.status_code, json.loads(response.get_data(as_text=True))


def test_a_refusal_undoes_what_the_action_changed_before_it(app: Flask) -> None:
    with app.test_request_context("/", method="POST"):
        session = get_session()

        def register_then_refuse() -> None:
            organizations.create_organization(session, code="HALF", name="Half done", kind=OrganizationKind.CLIENT)
            raise Conflict("Refused after the organization was added.")

        status, _errors = _answer(_refused(register_then_refuse))
        assert status == 409
        assert session.scalar(select(Organization).where(Organization.code == "HALF")) is None
        assert not changes_kept_despite_refusal()


def test_a_wrong_password_is_kept_although_the_form_is_refused(
    app: Flask, db_session: Session, create_user: Callable[..., User]
) -> None:
    user = create_user()
    db_session.commit()
    with app.test_request_context("/", method="POST"):
        session = get_session()
        signer = session.get(User, user.id)
        assert signer is not None

        def sign_with_a_wrong_password() -> None:
            sign_in.reauthenticate(session, signer, password="not-the-password", client_address=None, purpose="a test")

        status, errors = _answer(_refused(sign_with_a_wrong_password))
        assert status == 401 and errors == {"password": ["The password is wrong; nothing was signed."]}
        assert changes_kept_despite_refusal(), "the failed attempt is committed, so that it counts toward lockout"
        assert (
            session.scalar(
                select(func.count(LoginAttempt.id)).where(
                    LoginAttempt.user_id == user.id, LoginAttempt.outcome == LoginOutcome.WRONG_PASSWORD
                )
            )
            == 1
        )


def test_errors_of_a_repeated_form_stand_at_the_inputs_of_the_copy_posted(app: Flask) -> None:
    correction = RepeatedForm("entry-7-", CorrectionSchema)
    with app.test_request_context("/", method="POST", data={"entry-7-value": "190", "entry-8-reason": "Misread"}):
        status, errors = _answer(_refused(correction.load, correction))
        assert status == 422 and errors == {"entry-7-reason": ["Give the reason for the correction."]}

        def refuse_the_value() -> None:
            raise InvalidInput("190 mL is more than the bag holds.", field="value")

        assert _answer(_refused(refuse_the_value, correction))[1] == {
            "entry-7-value": ["190 mL is more than the bag holds."]
        }

        def refuse_the_whole_form() -> None:
            raise Conflict("The batch is released and can no longer change.")

        assert _answer(_refused(refuse_the_whole_form, correction))[1] == {
            "_form": ["The batch is released and can no longer change."]
        }


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError({"name": ["Enter a name."]}), 422),
        (InvalidInput("A rule refused the input.", field="name"), 422),
        (Conflict("Already done."), 409),
    ],
)
def test_invalid_input_answers_422_and_a_rule_its_own_status(app: Flask, error: Exception, status: int) -> None:
    def refuse() -> None:
        raise error

    with app.test_request_context("/", method="POST"):
        assert _answer(_refused(refuse))[0] == status
        # A rule's refusal waits for the audit event that records it; a form's own checks are not audited.
        assert g.get(REFUSAL_MESSAGE) == (error.message if isinstance(error, LimsError) else None)


def test_a_refused_form_on_a_page_shows_its_messages_with_the_page_as_stored(
    client, create_user: Callable[..., User], db_session: Session, signed_in: Callable[..., User]
) -> None:
    user = create_user(RoleName.TECHNICIAN, full_name="Robin Stored")
    db_session.commit()
    signed_in(RoleName.ADMIN)
    url = f"/admin/users/{user.id}"
    refused = submit(
        client,
        url,
        {"full_name": "Robin Typed", "email": user.email, "roles": ["client"], "reason": "Moves to the sponsor"},
    )
    assert refused.status_code == 422
    assert (
        'id="roles-error"' in refused.text and "The client role is for users of a client organization." in refused.text
    )
    assert 'value="Robin Typed"' in refused.text, "what was typed is offered again"
    deactivated = submit(client, url, {"reason": "Left"}, action=f"{url}/deactivate")
    assert deactivated.status_code == 303
    again = submit(client, url, {"reason": "Left twice"}, action=f"{url}/deactivate")
    assert again.status_code == 409 and f"{user.username} is already deactivated." in again.text
    assert "Robin Stored" in again.text
    db_session.expire_all()
    stored = db_session.get(User, user.id)
    assert stored is not None and stored.full_name == "Robin Stored"
