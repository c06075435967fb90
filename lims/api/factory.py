"""The API's set-up: one flask-smorest ``Api`` that describes every area's operations in one OpenAPI document."""

from __future__ import annotations

from typing import Any

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema
from werkzeug.exceptions import BadRequest, HTTPException, UnprocessableEntity

from lims.api import docs
from lims.api.blueprint import API_TOKEN, STAFF_SESSION, USER_SESSION
from lims.api.errors import ErrorSchema, invalid_arguments
from lims.api.paging import Cursor
from lims.units.fields import LimitField, MeasurementField
from lims.web import refuse

#: The version of the /api/v1 contract: the minor part grows when fields or operations are added.
API_VERSION = "1.0"

DESCRIPTION = """\
The LIMS's records as JSON, for client systems and for staff.

**Authentication.** A client system sends its organization's API token as `Authorization: Bearer <token>`
and sees only its own organization's records: another organization's record answers 404, as one that
does not exist. Staff read the operations that name the staff session from a browser in which they are
signed in (GET only; no token).

**Lists** answer one page `{"items": [...], "next_cursor": "..."}`. Send `next_cursor` back as the
`cursor` argument for the next page; it is null on the last page. `limit` sets the page size.

**Errors** answer `{"code": <HTTP status>, "message": "...", "errors": {"<argument>": ["..."]}}`;
`errors` names the arguments that were refused and is empty otherwise.
"""


class LimsApi(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        # smorest would answer every HTTP error of the site with JSON, web pages included; the app's own
        # handlers answer them (JSON under /api/). Only the argument errors webargs raises need their field
        # messages carried over.
        for error in (BadRequest, UnprocessableEntity):
            self._app.register_error_handler(error, _refuse_invalid_arguments)

    def _register_pagination_header(self) -> None:
        """Describe no page-number header: lists here page by the cursor in their body (lims.api.paging)."""


def _refuse_invalid_arguments(error: HTTPException) -> Any:
    message, errors = invalid_arguments(error)
    return refuse(error.code or 400, message, errors)


def _component_name(schema: type[Schema] | Schema) -> str:
    # An output schema is named for what it shows: BatchOutSchema describes a Batch.
    schema_class = schema if isinstance(schema, type) else type(schema)
    return schema_class.__name__.removesuffix("Schema").removesuffix("Out")


def create_api(app: Flask) -> LimsApi:
    """Set up the API on ``app``: its description and docs page; each area's blueprint is registered on it."""
    api = LimsApi(
        app,
        spec_kwargs={
            "title": "GMP LIMS",
            "version": API_VERSION,
            "openapi_version": "3.0.3",
            "info": {"description": DESCRIPTION},
            "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=_component_name),
        },
    )
    for text_field in (Cursor, MeasurementField, LimitField):
        api.register_field(text_field, "string", None)
    api.spec.components.security_scheme(
        API_TOKEN,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token of a client organization, issued on its users' API tokens page (or by an "
            "administrator). It reads that organization's records only.",
        },
    )
    api.spec.components.security_scheme(
        STAFF_SESSION,
        {
            "type": "apiKey",
            "in": "cookie",
            "name": app.config["SESSION_COOKIE_NAME"],
            "description": "The session of a staff member signed in to the LIMS in a browser; reading (GET) only.",
        },
    )
    api.spec.components.security_scheme(
        USER_SESSION,
        {
            "type": "apiKey",
            "in": "cookie",
            "name": app.config["SESSION_COOKIE_NAME"],
            "description": "The session of anyone signed in to the LIMS in a browser, for operations on their own "
            "records (their inbox); writing sends the page's CSRF token in the X-CSRFToken header.",
        },
    )
    app.extensions["lims.api"] = api
    app.register_blueprint(docs.blueprint)
    return api
