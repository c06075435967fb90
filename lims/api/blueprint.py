"""The blueprint each area declares its API on: who may call an operation, how it reads arguments and record ids."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import flask_smorest
from flask import Request
from marshmallow import Schema
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy

from lims import access
from lims.db import STORABLE_IDS
from lims.identity.models import RoleName
from lims.inputs import refuse_control_characters

View = TypeVar("View", bound=Callable[..., Any])

API_PREFIX = "/api/v1"
#: The names of the two ways to authenticate, as the OpenAPI description's security schemes call them.
API_TOKEN = "apiToken"
STAFF_SESSION = "staffSession"
USER_SESSION = "userSession"
#: The largest id a table's integer key holds; a larger one in a path is no record's.
MAX_RECORD_ID = STORABLE_IDS[-1]


class ArgumentsParser(FlaskParser):
    """webargs' parser, refusing any text argument that holds a control character before a schema reads it.

    No text in the database can hold a NUL, and PostgreSQL fails a query that merely compares with one.
    """

    def pre_load(
        self, location_data: Mapping[str, Any], *, schema: Schema, req: Request, location: str
    ) -> Mapping[str, Any]:
        refuse_control_characters(location_data.data if isinstance(location_data, MultiDictProxy) else location_data)
        return location_data


class ApiBlueprint(flask_smorest.Blueprint):
    """The operations of one area under ``/api/v1``."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def __init__(self, name: str, import_name: str, *, description: str) -> None:
        super().__init__(name, import_name, url_prefix=API_PREFIX, description=description)

    def allow(self, *roles: RoleName | frozenset[RoleName]) -> Callable[[View], View]:
        """Declare the roles that may call an operation, as :func:`lims.access.allow` does for a page.

        The description of the operation then names the ways those roles authenticate: a client system
        by its organization's API token, staff by their signed-in browser session (reading only).
        """
        allowed: frozenset[RoleName] = frozenset().union(
            *(role if isinstance(role, frozenset) else {role} for role in roles)
        )
        # Either scheme admits the caller; neither takes scopes.
        schemes = ([API_TOKEN] if RoleName.CLIENT in allowed else []) + (
            [STAFF_SESSION] if allowed & access.STAFF else []
        )
        security: list[dict[str, list[str]]] = [{scheme: []} for scheme in schemes]

        def decorate(view: View) -> View:
            documented = self.doc(security=security)(access.allow(*roles)(view))
            documented = self.alt_response(401, response="UNAUTHORIZED")(documented)
            if RoleName.CLIENT not in allowed:
                documented = self.alt_response(403, response="FORBIDDEN")(documented)
            return cast(View, documented)

        return decorate

    def allow_signed_in(self, *roles: RoleName | frozenset[RoleName]) -> Callable[[View], View]:
        """Declare an operation on the signed-in person's own records (their inbox), for the roles given, called
        from their browser session (see :func:`lims.access.own_records_of_signed_in_user`)."""

        def decorate(view: View) -> View:
            admitted = access.own_records_of_signed_in_user(access.allow(*roles)(view))
            documented = self.doc(security=[{USER_SESSION: []}])(admitted)
            for status, name in ((400, "BAD_REQUEST"), (401, "UNAUTHORIZED"), (403, "FORBIDDEN")):
                documented = self.alt_response(status, response=name)(documented)
            return cast(View, documented)

        return decorate
