"""JSON API of protocols: a client system sees the protocols its organization sponsors; staff see all."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from lims.access import STAFF, client_organization_id
from lims.api.blueprint import ApiBlueprint
from lims.api.paging import Keyset
from lims.db import get_session
from lims.identity.models import RoleName
from lims.pagination import KeysetPage
from protocols import schemas
from protocols.models import Protocol, Subject
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service

blueprint = ApiBlueprint("protocols_api", __name__, description="Trial protocols with their versions' design.")
READERS = STAFF | {RoleName.CLIENT}
#: In protocol-number order; a page goes on after the number of the last protocol shown.
PROTOCOL_PAGES = Keyset(schemas.ProtocolOutSchema, fields.String(validate=validate.Length(min=1, max=64)))


@blueprint.route("/protocols")
@blueprint.allow(READERS)
@blueprint.arguments(PROTOCOL_PAGES.arguments, location="query")
@blueprint.response(200, PROTOCOL_PAGES.page)
def index(page: dict[str, Any]) -> KeysetPage[Protocol]:
    """List protocols in number order."""
    return protocol_service.protocols_after(
        get_session(), sponsor_id=client_organization_id(), after=page.get("cursor"), limit=page["limit"]
    )


@blueprint.route("/protocols/<id:protocol_id>")
@blueprint.allow(READERS)
@blueprint.response(200, schemas.ProtocolDetailOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def show(protocol_id: int) -> Protocol:
    """A protocol with every version's arms, visits and the samples each visit requires."""
    return protocol_service.get_protocol(get_session(), protocol_id, sponsor_id=client_organization_id())


@blueprint.route("/subjects/<id:subject_id>")
@blueprint.allow(READERS)
@blueprint.response(200, schemas.SubjectOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def subject(subject_id: int) -> Subject:
    """A subject enrolled in a protocol; its batches are at /subjects/{subject_id}/batches."""
    return subjects_service.get_subject(get_session(), subject_id, sponsor_id=client_organization_id())
