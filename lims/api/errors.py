"""The one shape of every error the API answers: ``{"code": status, "message": text, "errors": {field: [text]}}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

INVALID_ARGUMENTS = "The request's arguments are not valid; see the message of each field."


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person to read."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={
            "description": "Messages by argument or field; empty when the error is not "
            "about one. A dotted name points into a nested field."
        },
    )


def error_response(status: int, message: str, errors: Mapping[str, list[str]] | None = None) -> Response:
    response = jsonify(ErrorSchema().dump({"code": status, "message": message, "errors": errors or {}}))
    response.status_code = status
    return response


def invalid_arguments(error: HTTPException) -> tuple[str, dict[str, list[str]]]:
    """The message and field errors of an error raised while parsing a request's arguments.

    webargs keys its messages by where the argument was (query, json, ...); a client names arguments
    alone, so that level is dropped.
    """
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if not isinstance(messages, Mapping):
        return error.description or error.name, {}
    errors: dict[str, list[str]] = {}
    for by_location in messages.values():
        _flatten(by_location, "", errors)
    return INVALID_ARGUMENTS, errors


def _flatten(messages: Any, prefix: str, into: dict[str, list[str]]) -> None:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            _flatten(value, f"{prefix}.{key}" if prefix else str(key), into)
    elif isinstance(messages, list) and all(isinstance(message, str) for message in messages):
        into.setdefault(prefix or "_schema", []).extend(messages)
    elif isinstance(messages, list):
        for message in messages:
            _flatten(message, prefix, into)
    else:
        into.setdefault(prefix or "_schema", []).append(str(messages))
