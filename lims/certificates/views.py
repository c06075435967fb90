"""Pages of issued documents: the list (a client sees its own organization's), a document's page with its
versions, download, correction and revocation by QA, the public verification pages, and bag labels."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from batch_records.service import batches
from lims import clock
from lims.access import STAFF, allow, public
from lims.certificates import labels as label_pdf
from lims.certificates import schemas
from lims.certificates.errors import NotAPdf
from lims.certificates.service import batch_certificate, documents, labels, results_report, verification
from lims.db import get_session
from lims.document_signing import STATE_TEXT
from lims.identity.models import RoleName
from lims.pagination import paginate
from lims.registry import IssuedDocumentLink
from lims.samples.service import submissions
from lims.signatures import service as signatures
from lims.web import load_input, on_refusal_show

blueprint = Blueprint("certificates", __name__, template_folder="templates")

READERS = STAFF | {RoleName.CLIENT}
LABEL_PRINTERS = frozenset({RoleName.QA, RoleName.MANAGER})
PER_PAGE = 25


def batch_certificate_links(session: Session, batch_id: str) -> list[IssuedDocumentLink]:
    """A batch's certificate versions, newest first with their status, for the batch's page (two queries)."""
    issued = documents.documents_of(session, batch_certificate.BATCH, batch_id)
    statuses = documents.statuses(session, issued)
    return [
        IssuedDocumentLink(
            f"Certificate {document.label}",
            statuses[document.id].value,
            "certificates.show",
            (("document_id", document.id),),
        )
        for document in reversed(issued)
    ]


def _organization_scope() -> int | None:
    """A client sees only the documents issued to its own organization; staff see every one."""
    return None if current_user.is_staff else current_user.organization_id


@blueprint.route("/certificates")
@allow(READERS)
def index() -> Any:
    db = get_session()
    batch_number = request.args.get("batch", "").strip().upper()[:64]
    page = paginate(
        db,
        documents.listed(_organization_scope(), reference=batch_number),
        page=request.args.get("page", 1, type=int),
        per_page=PER_PAGE,
    )
    return render_template(
        "certificates/index.html", page=page, statuses=documents.statuses(db, page.items), batch=batch_number
    )


def _document_context(document_id: int) -> dict[str, Any]:
    db = get_session()
    document = documents.get_document(db, document_id, organization_id=_organization_scope())
    versions = documents.versions_of_number(db, document.number)
    revocation = documents.revocation_of(db, document)
    return {
        "document": document,
        "status": documents.status_of(db, document),
        "versions": [(version, documents.status_of(db, version)) for version in versions],
        "approval": signatures.signatures_of(db, document) if document.supersedes_id else [],
        "revocation": revocation,
        "revocation_signatures": signatures.signatures_of(db, revocation) if revocation else [],
    }


@blueprint.route("/certificates/<int:document_id>")
@allow(READERS)
def show(document_id: int) -> Any:
    return render_template(
        "certificates/show.html", errors={}, form=MultiDict(), action=None, **_document_context(document_id)
    )


@blueprint.route("/certificates/<int:document_id>/file.pdf")
@allow(READERS)
def download(document_id: int) -> Any:
    db = get_session()
    document = documents.get_document(db, document_id, organization_id=_organization_scope())
    documents.record_download(db, document)
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


@blueprint.route("/certificates/<int:document_id>/correct", methods=["POST"])
@allow(RoleName.QA)
def correct(document_id: int) -> Any:
    db = get_session()
    document = documents.get_document(db, document_id)
    with on_refusal_show("certificates/show.html", lambda: _document_context(document_id), action="correct"):
        data = load_input(schemas.SignedReasonSchema())
        corrected = documents.correct_document(
            db,
            document,
            reason=data["reason"],
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash(f"{corrected.label} is issued; it supersedes version {document.version}.", "success")
    return redirect(url_for("certificates.show", document_id=corrected.id), 303)


@blueprint.route("/certificates/<int:document_id>/revoke", methods=["POST"])
@allow(RoleName.QA)
def revoke(document_id: int) -> Any:
    db = get_session()
    document = documents.get_document(db, document_id)
    with on_refusal_show("certificates/show.html", lambda: _document_context(document_id), action="revoke"):
        data = load_input(schemas.SignedReasonSchema())
        documents.revoke(
            db,
            document,
            reason=data["reason"],
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash(f"{document.label} is revoked; its verification page says so.", "success")
    return redirect(url_for("certificates.show", document_id=document_id), 303)


@blueprint.route("/submissions/<public_id>/report.pdf")
@allow(READERS)
def results_report_file(public_id: str) -> Any:
    """The valid version of a submission's signed results report (a client's own submissions only)."""
    db = get_session()
    submission = submissions.get_submission(db, public_id, organization_id=_organization_scope())
    document = results_report.current_report(db, submission)
    documents.record_download(db, document)
    return Response(
        document.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{document.filename}"'},
    )


# Public verification


def _admit() -> None:
    verification.admit(get_session(), request.remote_addr, limit=current_app.config["VERIFY_LIMIT_PER_MINUTE"])


@blueprint.route("/verify", methods=["GET", "POST"])
@public
def verify_upload() -> Any:
    _admit()
    checked = _checked_upload(None) if request.method == "POST" else None
    return render_template(
        "certificates/verify.html", number=None, shown=None, checked=checked, signature_text=STATE_TEXT
    )


@blueprint.route("/verify/<string:number>", methods=["GET", "POST"])
@public
def verify(number: str) -> Any:
    _admit()
    db = get_session()
    try:
        version = load_input(schemas.VersionQuerySchema(), request.args).get("version")
    except ValidationError:
        abort(422, "The version is a whole number, 1 for the first issue.")
    shown = verification.public_status(db, number, version)
    checked = _checked_upload(number) if request.method == "POST" else None
    return render_template(
        "certificates/verify.html", number=number, shown=shown, checked=checked, signature_text=STATE_TEXT
    )


def _checked_upload(number: str | None) -> verification.FileVerification:
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    if not data.startswith(b"%PDF-"):
        raise NotAPdf("Choose the certificate's PDF file to check.", field="file")
    return verification.verify_file(get_session(), data, claimed_number=number)


# Bag labels


def _label_context(batch_id: int) -> dict[str, Any]:
    return {"batch": batches.get_batch(get_session(), batch_id)}


@blueprint.route("/batches/<int:batch_id>/label", methods=["GET", "POST"])
@allow(LABEL_PRINTERS)
def label(batch_id: int) -> Any:
    if request.method == "GET":
        return render_template("certificates/label.html", errors={}, form=MultiDict(), **_label_context(batch_id))
    db = get_session()
    batch = batches.get_batch(db, batch_id)
    with on_refusal_show("certificates/label.html", lambda: _label_context(batch_id)):
        data = load_input(schemas.LabelSchema())
        printed = labels.bag_label(
            db,
            batch,
            product_code=data["product_code"],
            expires_at=data["expires_at"].replace(tzinfo=clock.facility_zone()),
            storage=data["storage"],
            gtin=data.get("gtin"),
        )
    return Response(
        label_pdf.label_pdf(printed),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="label-{batch.batch_number}.pdf"'},
    )
