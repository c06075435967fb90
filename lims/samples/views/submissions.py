"""A client's manifests: drafting, rows by form or upload, submitting, cancelling; and the pages and files of a
submission and its samples that clients and staff read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.access import STAFF, allow
from lims.db import get_session
from lims.samples import documents, schemas
from lims.samples.errors import ManifestRefused, NotPrintable
from lims.samples.models import Sample, SubmissionStatus
from lims.samples.service import aliquots, events, manifests
from lims.samples.service import submissions as service
from lims.samples.views import CLIENT, blueprint, organization_scope
from lims.web import load_input, on_refusal_show

READERS = STAFF | {CLIENT}
PAGE_SIZE = 25
_ROW_ERRORS = "samples.row_errors"


def _cursor() -> tuple[Any, ...] | None:
    """The keyset cursor of a list page (``?after=<created_at>~<id>``); a malformed one starts from the top."""
    text = request.args.get("after", "")
    created, _, identifier = text.partition("~")
    if not identifier.isdigit() or len(identifier) > 10:
        return None
    try:
        return (datetime.fromisoformat(created), int(identifier))
    except ValueError:
        return None


@blueprint.route("/submissions")
@allow(READERS)
def index() -> Any:
    page = service.submissions_after(
        get_session(), organization_id=organization_scope(), after=_cursor(), limit=PAGE_SIZE
    )
    next_after = None if page.next_key is None else f"{page.next_key[0].isoformat()}~{page.next_key[1]}"
    return render_template("samples/submissions.html", page=page, next_after=next_after)


@blueprint.route("/submissions/new", methods=["GET", "POST"])
@allow(CLIENT)
def new() -> Any:
    if request.method == "GET":
        return render_template("samples/submission_new.html", errors={}, form=MultiDict())
    with on_refusal_show("samples/submission_new.html"):
        data = load_input(schemas.SubmissionSchema())
        submission = service.create_draft(
            get_session(), current_user.organization, reference=data["reference"], user=current_user
        )
    flash(f"Draft manifest {submission.reference} started: add its samples, then submit it.", "success")
    return redirect(url_for("samples.show", public_id=submission.public_id), 303)


def submission_context(public_id: str) -> dict[str, Any]:
    db = get_session()
    submission = service.get_submission(db, public_id, organization_id=organization_scope())
    return {
        "submission": submission,
        "samples": service.samples_of(db, submission),
        "row_errors": g.get(_ROW_ERRORS, []),
        "columns": schemas.MANIFEST_COLUMNS,
        "max_rows": manifests.MAX_ROWS,
        "max_megabytes": manifests.MAX_UPLOAD_BYTES // (1024 * 1024),
        "feed_cursor": events.latest_cursor(db, submission.organization_id) if not current_user.is_staff else None,
    }


@blueprint.route("/submissions/<public_id>")
@allow(READERS)
def show(public_id: str) -> Any:
    return render_template("samples/submission.html", errors={}, form=MultiDict(), **submission_context(public_id))


def _own_submission(public_id: str) -> Any:
    return service.get_submission(get_session(), public_id, organization_id=current_user.organization_id)


@blueprint.route("/submissions/<public_id>/rows", methods=["POST"])
@allow(CLIENT)
def add_row(public_id: str) -> Any:
    submission = _own_submission(public_id)
    with on_refusal_show("samples/submission.html", lambda: submission_context(public_id)):
        row = {column: request.form.get(column, "") for column in schemas.MANIFEST_COLUMNS}
        try:
            (sample,) = service.add_rows(get_session(), submission, [row])
        except ManifestRefused as refusal:
            # One row from the form: each message goes beside its input.
            raise ValidationError({error.column: [error.message] for error in refusal.errors}) from None
    flash(f"Sample {sample.client_sample_id} added to the manifest.", "success")
    return redirect(url_for("samples.show", public_id=public_id, _anchor="samples"), 303)


@blueprint.route("/submissions/<public_id>/upload", methods=["POST"])
@allow(CLIENT)
def upload(public_id: str) -> Any:
    submission = _own_submission(public_id)
    with on_refusal_show("samples/submission.html", lambda: submission_context(public_id)):
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationError({"file": ["Choose the manifest file to upload (.csv or .xlsx)."]})
        data = upload.stream.read(manifests.MAX_UPLOAD_BYTES + 1)
        rows = manifests.read_upload(data, filename=upload.filename, content_type=upload.mimetype)
        try:
            added = service.add_rows(get_session(), submission, rows)
        except ManifestRefused as refusal:
            g.setdefault(_ROW_ERRORS, refusal.errors)
            raise
    flash(f"{len(added)} samples added from {upload.filename}.", "success")
    return redirect(url_for("samples.show", public_id=public_id, _anchor="samples"), 303)


@blueprint.route("/submissions/<public_id>/submit", methods=["POST"])
@allow(CLIENT)
def submit(public_id: str) -> Any:
    submission = _own_submission(public_id)
    with on_refusal_show("samples/submission.html", lambda: submission_context(public_id)):
        service.submit(get_session(), submission)
    flash("The manifest is submitted: print the chain-of-custody form and put it in the box.", "success")
    return redirect(url_for("samples.show", public_id=public_id), 303)


@blueprint.route("/submissions/<public_id>/cancel", methods=["POST"])
@allow(CLIENT)
def cancel(public_id: str) -> Any:
    submission = _own_submission(public_id)
    with on_refusal_show("samples/submission.html", lambda: submission_context(public_id)):
        data = load_input(schemas.CancellationSchema())
        service.cancel(get_session(), submission, reason=data["reason"])
    flash("The submission is cancelled.", "success")
    return redirect(url_for("samples.show", public_id=public_id), 303)


@blueprint.route("/submissions/template.csv")
@allow(READERS)
def template_csv() -> Any:
    return Response(manifests.template_csv(), mimetype="text/csv", headers=_attachment("manifest-template.csv"))


@blueprint.route("/submissions/template.xlsx")
@allow(READERS)
def template_xlsx() -> Any:
    return Response(
        manifests.template_xlsx(), mimetype=manifests.XLSX_TYPE, headers=_attachment("manifest-template.xlsx")
    )


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _exported(public_id: str, kind: str) -> tuple[list[Sample], dict[str, str]]:
    db = get_session()
    submission = service.get_submission(db, public_id, organization_id=organization_scope())
    documents.record_export(db, submission, f"manifest ({kind.upper()})")
    return service.samples_of(db, submission), _attachment(f"manifest-{submission.public_id}.{kind}")


@blueprint.route("/submissions/<public_id>/manifest.csv")
@allow(READERS)
def export_csv(public_id: str) -> Any:
    samples, headers = _exported(public_id, "csv")
    return Response(manifests.export_csv(samples), mimetype="text/csv", headers=headers)


@blueprint.route("/submissions/<public_id>/manifest.xlsx")
@allow(READERS)
def export_xlsx(public_id: str) -> Any:
    samples, headers = _exported(public_id, "xlsx")
    return Response(manifests.export_xlsx(samples), mimetype=manifests.XLSX_TYPE, headers=headers)


@blueprint.route("/submissions/<public_id>/custody-form.pdf")
@allow(READERS)
def custody_form(public_id: str) -> Any:
    db = get_session()
    submission = service.get_submission(db, public_id, organization_id=organization_scope())
    if submission.status in (SubmissionStatus.DRAFT, SubmissionStatus.CANCELLED):
        raise NotPrintable(f"A {submission.status.value} manifest has no chain-of-custody form; submit it first.")
    pdf = documents.custody_form(
        db, submission, user=current_user, localtime=current_app.jinja_env.filters["localtime"]
    )
    return _pdf(pdf, f"custody-form-{submission.public_id}.pdf")


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{filename}"'})


@blueprint.route("/samples/<public_id>")
@allow(READERS)
def sample(public_id: str) -> Any:
    db = get_session()
    found = service.get_sample(db, public_id, organization_id=organization_scope())
    return render_template("samples/sample.html", sample=found, now=clock.now(), lineage=aliquots.lineage(db, found))
