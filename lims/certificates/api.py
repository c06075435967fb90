"""JSON API of issued certificates: a client system lists and downloads its own organization's; staff all.

Another organization's certificate answers 404, exactly as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import fields, validate

from lims.access import STAFF, client_organization_id
from lims.api.blueprint import MAX_RECORD_ID, ApiBlueprint
from lims.api.paging import Keyset
from lims.certificates import schemas
from lims.certificates.models import IssuedDocument
from lims.certificates.service import documents, results_report
from lims.db import get_session
from lims.identity.models import RoleName
from lims.pagination import KeysetPage, page_after
from lims.samples.service import submissions

blueprint = ApiBlueprint("certificates_api", __name__, description="Certificates of analysis and release.")
READERS = STAFF | {RoleName.CLIENT}
#: newest first; a page goes on after the issue time and id of the last certificate shown
CERTIFICATE_PAGES = Keyset(
    schemas.CertificateOutSchema, fields.AwareDateTime(), fields.Integer(validate=validate.Range(1, MAX_RECORD_ID))
)


def _described(session: Any, shown: list[IssuedDocument]) -> list[dict[str, Any]]:
    statuses = documents.statuses(session, shown)
    return [{**_fields(document), "status": statuses[document.id].value} for document in shown]


def _fields(document: IssuedDocument) -> dict[str, Any]:
    return {
        name: getattr(document, name)
        for name in (
            "id",
            "kind",
            "number",
            "version",
            "product",
            "reference",
            "issued_at",
            "file_sha256",
            "content_sha256",
            "correction_reason",
        )
    }


@blueprint.route("/certificates")
@blueprint.allow(READERS)
@blueprint.arguments(CERTIFICATE_PAGES.arguments, location="query")
@blueprint.response(200, CERTIFICATE_PAGES.page)
def index(page: dict[str, Any]) -> KeysetPage[Any]:
    """Certificate versions newest first, each with its status (valid, superseded or revoked)."""
    db = get_session()
    found = page_after(
        db,
        documents.listed(client_organization_id()).order_by(None),
        (IssuedDocument.issued_at, IssuedDocument.id),
        after=page.get("cursor"),
        limit=page["limit"],
        descending=True,
    )
    return KeysetPage(_described(db, found.items), found.next_key)


@blueprint.route("/certificates/<id:document_id>")
@blueprint.allow(READERS)
@blueprint.response(200, schemas.CertificateOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def show(document_id: int) -> dict[str, Any]:
    """A certificate version and its status."""
    db = get_session()
    document = documents.get_document(db, document_id, organization_id=client_organization_id())
    return _described(db, [document])[0]


@blueprint.route("/certificates/<id:document_id>/file")
@blueprint.allow(READERS)
@blueprint.doc(
    responses={
        "200": {
            "description": "The certificate's PDF exactly as issued, signed by the facility (PAdES).",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
@blueprint.alt_response(404, response="NOT_FOUND")
def download(document_id: int) -> Response:
    """The certificate's PDF file as issued."""
    db = get_session()
    document = documents.get_document(db, document_id, organization_id=client_organization_id())
    documents.record_download(db, document)
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


@blueprint.route("/submissions/<submission_id>/report")
@blueprint.allow(READERS)
@blueprint.doc(
    responses={
        "200": {
            "description": "The valid version of the submission's results report, signed by the facility (PAdES).",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
@blueprint.alt_response(404, response="NOT_FOUND")
@blueprint.alt_response(409, response="CONFLICT")
def results_report_file(submission_id: str) -> Response:
    """The signed results report of a submission whose results QA released (409 before the release)."""
    db = get_session()
    submission = submissions.get_submission(db, submission_id, organization_id=client_organization_id())
    document = results_report.current_report(db, submission)
    documents.record_download(db, document)
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )
