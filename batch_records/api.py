"""JSON API of executed batches: a client system sees the batches made for its own protocols; staff see all.

A batch belongs to the sponsor of its subject's protocol. A client's token
never learns that another client's batch or subject exists: asking for one
answers 404 exactly as for an id that was never used.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from batch_records import schemas
from batch_records.models import Batch
from batch_records.service import batches, release
from lims.access import STAFF, client_organization_id
from lims.api.blueprint import MAX_RECORD_ID, ApiBlueprint
from lims.api.paging import Keyset
from lims.db import get_session
from lims.identity.models import RoleName
from lims.pagination import KeysetPage
from protocols.service import subjects as subjects_service

blueprint = ApiBlueprint("batch_records_api", __name__, description="Executed batches and their records.")
READERS = STAFF | {RoleName.CLIENT}
#: By creation time; a page goes on after the creation time and id of the last batch shown.
BATCH_PAGES = Keyset(
    schemas.BatchOutSchema, fields.AwareDateTime(), fields.Integer(validate=validate.Range(1, MAX_RECORD_ID))
)


@blueprint.route("/batches")
@blueprint.allow(READERS)
@blueprint.arguments(schemas.BatchQuerySchema, location="query")
@blueprint.arguments(BATCH_PAGES.arguments, location="query")
@blueprint.response(200, BATCH_PAGES.page)
def index(criteria: dict[str, Any], page: dict[str, Any]) -> KeysetPage[Batch]:
    """List batches newest first."""
    return batches.batches_after(
        get_session(),
        status=criteria.get("status"),
        sponsor_id=client_organization_id(),
        after=page.get("cursor"),
        limit=page["limit"],
    )


@blueprint.route("/batches/<id:batch_id>")
@blueprint.allow(READERS)
@blueprint.response(200, schemas.BatchDetailOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def show(batch_id: int) -> release.BatchReview:
    """A batch's record: its steps with the entries that stand, its release tests and deviations. A client sees
    release results and deviations once QA has released or rejected the batch (``results_withheld`` until then)."""
    db = get_session()
    sponsor_id = client_organization_id()
    batch = batches.get_batch(db, batch_id, sponsor_id=sponsor_id)
    # The review loads the whole record in a bounded number of queries, whatever the batch's size.
    if sponsor_id is not None:
        return release.record_for_client(db, batch)
    return release.review(db, batch.id)


@blueprint.route("/subjects/<id:subject_id>/batches")
@blueprint.allow(READERS)
@blueprint.arguments(BATCH_PAGES.arguments, location="query")
@blueprint.response(200, BATCH_PAGES.page)
@blueprint.alt_response(404, response="NOT_FOUND")
def subject_batches(page: dict[str, Any], subject_id: int) -> KeysetPage[Batch]:
    """The batches made from a subject's material, oldest first: the chain of identity from the subject's side."""
    db = get_session()
    subject = subjects_service.get_subject(db, subject_id, sponsor_id=client_organization_id())
    return batches.batches_of_subject_after(db, subject, after=page.get("cursor"), limit=page["limit"])
