"""JSON API of samples, for client systems with their organization's token: manifests sent as JSON or CSV and
submitted, their status read, the organization's change feed (``/events``) and its webhooks. Staff read the
submissions and samples of every client.

A client's token reaches its own organization's records only: another's submission, sample or webhook answers
404 exactly as one that does not exist (public ids are random, and every query is scoped to the organization).
"""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import fields, validate

from lims.access import STAFF, client_organization_id, current_api_token
from lims.api.blueprint import MAX_RECORD_ID, ApiBlueprint
from lims.api.paging import Keyset
from lims.db import get_session
from lims.identity.models import RoleName
from lims.pagination import KeysetPage
from lims.samples import list_schemas, result_schemas, schemas
from lims.samples.errors import ManifestRefused
from lims.samples.models import Sample, Submission, Webhook, WebhookDelivery
from lims.samples.service import events, manifests, release, sample_list
from lims.samples.service import submissions as service
from lims.web import refuse

blueprint = ApiBlueprint(
    "samples_api", __name__, description="Submissions (manifests) and their samples, the change feed and webhooks."
)
READERS = STAFF | {RoleName.CLIENT}
#: newest first; a page goes on after the creation time and id of the last submission shown
SUBMISSION_PAGES = Keyset(
    schemas.SubmissionOutSchema, fields.AwareDateTime(), fields.Integer(validate=validate.Range(1, MAX_RECORD_ID))
)
#: newest first, by id
SAMPLE_PAGES = Keyset(schemas.SampleOutSchema, fields.Integer(validate=validate.Range(1, MAX_RECORD_ID)))
#: oldest first, by id
WEBHOOK_PAGES = Keyset(schemas.WebhookOutSchema, fields.Integer(validate=validate.Range(1, MAX_RECORD_ID)))
#: newest first, by id
DELIVERY_PAGES = Keyset(schemas.DeliveryOutSchema, fields.Integer(validate=validate.Range(1, MAX_RECORD_ID)))
_REFUSED_MANIFEST = (
    "A refused manifest answers 422 with `errors` keyed `row <n>.<column>`: every wrong cell, nothing imported."
)


def _created(manifest_rows: list[dict[str, Any]], reference: str, submit: bool) -> Any:
    db = get_session()
    organization = current_api_token().organization
    submission = service.create_draft(db, organization, reference=reference, user=None)
    try:
        service.add_rows(db, submission, manifest_rows)
    except ManifestRefused as refusal:
        return refuse(refusal.status_code, refusal.message, refusal.by_cell())
    if submit:
        service.submit(db, submission)
    return submission, 201


@blueprint.route("/submissions", methods=["POST"])
@blueprint.allow(RoleName.CLIENT)
@blueprint.arguments(schemas.ManifestInSchema)
@blueprint.response(201, schemas.SubmissionDetailOutSchema)
@blueprint.alt_response(422, response="UNPROCESSABLE_ENTITY", description=_REFUSED_MANIFEST)
@blueprint.alt_response(409, response="CONFLICT")
def create(manifest: dict[str, Any]) -> Any:
    """Send a manifest as JSON; it stays a draft unless `submit` is true."""
    return _created(manifest["samples"], manifest["reference"], manifest["submit"])


@blueprint.route("/submissions/csv", methods=["POST"])
@blueprint.allow(RoleName.CLIENT)
@blueprint.arguments(schemas.CsvManifestArgumentsSchema, location="query")
@blueprint.doc(
    requestBody={
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "description": "The manifest as the CSV template."}}},
    }
)
@blueprint.response(201, schemas.SubmissionDetailOutSchema)
@blueprint.alt_response(422, response="UNPROCESSABLE_ENTITY", description=_REFUSED_MANIFEST)
@blueprint.alt_response(409, response="CONFLICT")
def create_from_csv(arguments: dict[str, Any]) -> Any:
    """Send a manifest as a CSV body laid out as the template (first row: the columns)."""
    data = request.get_data(cache=False)
    rows = manifests.read_upload(data, filename="manifest.csv", content_type=request.mimetype)
    return _created(rows, arguments["reference"], arguments["submit"])


@blueprint.route("/submissions")
@blueprint.allow(READERS)
@blueprint.arguments(SUBMISSION_PAGES.arguments, location="query")
@blueprint.response(200, SUBMISSION_PAGES.page)
def index(page: dict[str, Any]) -> KeysetPage[Submission]:
    """List submissions newest first."""
    return service.submissions_after(
        get_session(), organization_id=client_organization_id(), after=page.get("cursor"), limit=page["limit"]
    )


@blueprint.route("/submissions/<submission_id>")
@blueprint.allow(READERS)
@blueprint.response(200, schemas.SubmissionDetailOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def show(submission_id: str) -> Submission:
    """A submission with each sample's status and receipt."""
    return service.get_submission(get_session(), submission_id, organization_id=client_organization_id())


@blueprint.route("/submissions/<submission_id>/submit", methods=["POST"])
@blueprint.allow(RoleName.CLIENT)
@blueprint.response(200, schemas.SubmissionOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
@blueprint.alt_response(409, response="CONFLICT")
def submit(submission_id: str) -> Submission:
    """Submit a draft manifest: the lab then expects its samples."""
    db = get_session()
    return service.submit(db, service.get_submission(db, submission_id, organization_id=client_organization_id()))


@blueprint.route("/submissions/<submission_id>/cancel", methods=["POST"])
@blueprint.allow(RoleName.CLIENT)
@blueprint.arguments(schemas.CancelInSchema)
@blueprint.response(200, schemas.SubmissionOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
@blueprint.alt_response(409, response="CONFLICT")
def cancel(cancellation: dict[str, Any], submission_id: str) -> Submission:
    """Cancel a draft or submitted manifest, with the reason."""
    db = get_session()
    submission = service.get_submission(db, submission_id, organization_id=client_organization_id())
    return service.cancel(db, submission, reason=cancellation["reason"])


@blueprint.route("/samples")
@blueprint.allow(READERS)
@blueprint.arguments(list_schemas.SampleFilterSchema, location="query")
@blueprint.arguments(SAMPLE_PAGES.arguments, location="query")
@blueprint.response(200, SAMPLE_PAGES.page)
def samples(criteria: dict[str, Any], page: dict[str, Any]) -> KeysetPage[Sample]:
    """List samples newest first, filtered by status, sample type, client, received date and past their stability
    window (accepted, not yet processed, deadline passed); a client's token lists its own organization's only."""
    return sample_list.samples_after(
        get_session(),
        sample_list.SampleFilter(**criteria),
        organization_id=client_organization_id(),
        after=page.get("cursor"),
        limit=page["limit"],
    )


@blueprint.route("/samples/<sample_id>")
@blueprint.allow(READERS)
@blueprint.response(200, schemas.SampleOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def sample(sample_id: str) -> Sample:
    """A sample's status and receipt."""
    return service.get_sample(get_session(), sample_id, organization_id=client_organization_id())


@blueprint.route("/events")
@blueprint.allow(RoleName.CLIENT)
@blueprint.arguments(schemas.EventArgumentsSchema, location="query")
@blueprint.response(200, schemas.EventFeedOutSchema)
def feed(arguments: dict[str, Any]) -> dict[str, Any]:
    """The organization's events after the cursor `after`, oldest first (send back `next_cursor` to go on)."""
    organization_id = current_api_token().organization_id
    page = events.events_after(get_session(), organization_id, arguments["after"], limit=arguments["limit"])
    return {"items": page.items, "next_cursor": page.next_cursor}


@blueprint.route("/webhooks")
@blueprint.allow(RoleName.CLIENT)
@blueprint.arguments(WEBHOOK_PAGES.arguments, location="query")
@blueprint.response(200, WEBHOOK_PAGES.page)
def webhooks(page: dict[str, Any]) -> KeysetPage[Webhook]:
    """The organization's webhooks, oldest first."""
    return events.webhooks_after(
        get_session(), current_api_token().organization_id, after=page.get("cursor"), limit=page["limit"]
    )


@blueprint.route("/webhooks", methods=["POST"])
@blueprint.allow(RoleName.CLIENT)
@blueprint.arguments(schemas.WebhookInSchema)
@blueprint.response(201, schemas.WebhookOutSchema)
@blueprint.alt_response(422, response="UNPROCESSABLE_ENTITY")
def add_webhook(webhook: dict[str, Any]) -> Webhook:
    """Have every event of the organization posted to `url`, signed with `secret` (HMAC-SHA256 over
    `<X-LIMS-Timestamp>.<body>`, sent as `X-LIMS-Signature: sha256=<hex>`), retried with backoff on failure."""
    return events.register_webhook(
        get_session(),
        organization_id=current_api_token().organization_id,
        url=webhook["url"],
        secret=webhook["secret"],
        user_id=None,
    )


@blueprint.route("/webhooks/<webhook_id>/disable", methods=["POST"])
@blueprint.allow(RoleName.CLIENT)
@blueprint.response(200, schemas.WebhookOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def disable_webhook(webhook_id: str) -> Webhook:
    """Stop sending events to a webhook."""
    db = get_session()
    return events.disable_webhook(
        db, events.get_webhook(db, webhook_id, organization_id=current_api_token().organization_id)
    )


@blueprint.route("/webhooks/<webhook_id>/deliveries")
@blueprint.allow(RoleName.CLIENT)
@blueprint.arguments(DELIVERY_PAGES.arguments, location="query")
@blueprint.response(200, DELIVERY_PAGES.page)
@blueprint.alt_response(404, response="NOT_FOUND")
def deliveries(page: dict[str, Any], webhook_id: str) -> KeysetPage[WebhookDelivery]:
    """The webhook's delivery log, newest first: each event's attempts, the receiver's answer, the next attempt."""
    db = get_session()
    webhook = events.get_webhook(db, webhook_id, organization_id=current_api_token().organization_id)
    return events.deliveries_after(db, webhook, after=page.get("cursor"), limit=page["limit"])


@blueprint.route("/submissions/<submission_id>/results")
@blueprint.allow(READERS)
@blueprint.response(200, result_schemas.ReleasedResultsOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def released_results(submission_id: str) -> dict[str, Any]:
    """The submission's results released by QA (none before the release), each with its specification and
    conformance; the signed results report is the certificate of kind `results report` for the submission."""
    db = get_session()
    submission = service.get_submission(db, submission_id, organization_id=client_organization_id())
    found = release.released_results(db, submission)
    return {
        "submission_id": submission.public_id,
        "status": submission.status.value,
        "released_at": found[0].released_at if found else None,
        "items": found,
    }


# Storage and custody join the blueprint when their module is imported.
from lims.samples import storage_api  # noqa: E402,F401
