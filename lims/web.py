"""What every blueprint shares: form input, refusals and error pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from flask import abort, g, make_response, render_template, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate
from werkzeug.datastructures import MultiDict

from lims.api.errors import error_response
from lims.db import get_session, keep_changes_despite_refusal
from lims.errors import LimsError
from lims.inputs import refuse_control_characters


class FormSchema(Schema):
    """Base of every input schema: ignores the CSRF token and other extra fields; refuses control characters."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _refuse_control_characters(self, data: Any, **_kwargs: Any) -> Any:
        refuse_control_characters(data)
        return data


class Trimmed(fields.String):
    """A string with surrounding white space removed; blank counts as missing."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if self.required and not text:
            raise ValidationError(self.error_messages["required"])
        return text


def required_text(message: str, length: int = 200) -> Trimmed:
    """A text field that must be filled in, at most ``length`` characters, with ``message`` if it is not."""
    return Trimmed(required=True, validate=validate.Length(max=length), error_messages={"required": message})


def reason_field(required_message: str = "Give the reason for this change; it is kept in the audit trail.") -> Trimmed:
    """The reason for a change of a controlled record, as every edit form asks for it."""
    return Trimmed(required=True, validate=validate.Length(max=500), error_messages={"required": required_message})


class Secret(fields.String):
    """A password: kept exactly as typed, but an empty one counts as missing."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.required and not text:
            raise ValidationError(self.error_messages["required"])
        return text


def load_input(schema: Schema, source: MultiDict[str, str] | None = None) -> dict[str, Any]:
    """Load form or query input through ``schema``; list fields take every value sent, blank optional ones none."""
    source = request.form if source is None else source
    data: dict[str, Any] = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if key not in source:
            continue
        if isinstance(field, fields.List):
            data[key] = source.getlist(key)
        elif source.get(key, "").strip() or field.required:
            data[key] = source.get(key)
        # A browser sends an empty optional field as "": that is a field not given.
    return schema.load(data)


def field_errors(error: ValidationError | LimsError) -> dict[str, list[str]]:
    """Turn a schema or domain error into messages keyed by form field (``_form`` for the whole form)."""
    if isinstance(error, LimsError):
        return {error.field or "_form": [error.message]}
    messages = error.messages
    if isinstance(messages, list):
        return {"_form": [str(m) for m in messages]}
    return {key: [str(m) for m in (value if isinstance(value, list) else [value])] for key, value in messages.items()}


#: Where a refusal's message waits for the audit event that records it (see lims.access).
REFUSAL_MESSAGE = "refusal_message"


def error_status(error: ValidationError | LimsError) -> int:
    """The status a page answers ``error`` with; a domain refusal's message waits for its audit event."""
    if isinstance(error, LimsError):
        g.setdefault(REFUSAL_MESSAGE, error.message)
        return error.status_code
    return 422


def wants_json() -> bool:
    return request.path.startswith("/api/")


def refuse(status: int, message: str, errors: dict[str, list[str]] | None = None) -> Any:
    """Answer with an error: JSON under /api/, an HTML page elsewhere."""
    g.setdefault(REFUSAL_MESSAGE, message)
    if wants_json():
        response = error_response(status, message, errors)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="lims"'
        return response
    return render_template("error.html", status=status, message=message, errors=errors or {}), status


@dataclass(frozen=True)
class RepeatedForm:
    """One of several copies of a form on a page (a correction per entry): its fields are named ``prefix + name``."""

    prefix: str
    schema: type[Schema]

    def load(self) -> dict[str, Any]:
        posted = MultiDict(
            [
                (key.removeprefix(self.prefix), value)
                for key, value in request.form.items(multi=True)
                if key.startswith(self.prefix)
            ]
        )
        return load_input(self.schema(), posted)

    def errors_on_page(self, errors: dict[str, list[str]]) -> dict[str, list[str]]:
        """``errors`` keyed by the names the page gives this copy's fields, so that each shows at its own input."""
        own = set(self.schema().fields)
        return {f"{self.prefix}{name}" if name in own else name: messages for name, messages in errors.items()}


#: Draws the page that answers a refused form, given the messages by field and the status it answers with.
RefusalPage = Callable[[dict[str, list[str]], int], Any]


@contextmanager
def refusals_answered(page: RefusalPage, *, repeated: RepeatedForm | None = None) -> Iterator[None]:
    """Run a form's action; if its input or a rule refuses it, undo what it changed and answer with ``page``.

    The page is drawn after the undo, so it shows what is stored and never a half-done change; a refusal
    that must keep its record (a failed password counts toward lockout) is committed instead. Field
    errors of a ``repeated`` form are keyed by the names of that copy's inputs.
    """
    try:
        yield
    except (ValidationError, LimsError) as error:
        if isinstance(error, LimsError) and error.keeps_changes:
            keep_changes_despite_refusal()
        else:
            get_session().rollback()
        errors = field_errors(error)
        status = error_status(error)
        response = make_response(page(repeated.errors_on_page(errors) if repeated else errors, status))
        response.status_code = status
        # Raised, not returned: the view's code after the block runs only when the action succeeded.
        abort(response)


def on_refusal_show(
    template: str,
    page_context: Callable[[], Mapping[str, Any]] | None = None,
    *,
    repeated: RepeatedForm | None = None,
    **context: Any,
) -> AbstractContextManager[None]:
    """Run a form's action; on a refusal show ``template`` again with the messages next to the fields.

    ``page_context`` gives what the page reads from the database, read after the refused changes are undone;
    ``context`` the rest. The form shown is the one posted unless ``context`` names another.
    """

    def show(errors: dict[str, list[str]], _status: int) -> str:
        values = {"form": request.form, **(page_context() if page_context else {}), **context}
        return render_template(template, errors=errors, **values)

    return refusals_answered(show, repeated=repeated)


def safe_next_url(candidate: str | None, fallback: str) -> str:
    """Return ``candidate`` if it is a path on this site, else ``fallback`` (no open redirects)."""
    if candidate and candidate.startswith("/") and not candidate.startswith("//") and "\\" not in candidate:
        return candidate
    return fallback
