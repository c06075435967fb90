"""Pages of a batch's release: its release test results, QA's review by exception and disposition, and the
executed batch record as a PDF."""

from __future__ import annotations

import base64
from contextlib import AbstractContextManager
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from batch_records import schemas
from batch_records.pdf import generate_batch_record_pdf
from batch_records.service import batches, release
from batch_records.views import blueprint
from batch_records.views.batches import batch_context
from lims.access import allow
from lims.db import get_session
from lims.identity.models import RoleName
from lims.review import schemas as review_schemas
from lims.testing import schemas as testing_schemas
from lims.testing import service as testing
from lims.web import RepeatedForm, load_input, on_refusal_show

TESTERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA})


@blueprint.route("/batch-release-tests/<int:release_test_id>/results", methods=["POST"])
@allow(TESTERS)
def record_release_result(release_test_id: int) -> Any:
    db = get_session()
    release_test = release.get_release_test(db, release_test_id)
    result_form = RepeatedForm(f"test-{release_test_id}-", testing_schemas.ResultEntrySchema)
    with on_refusal_show(
        "batch_records/batch.html", lambda: batch_context(release_test.batch_id), repeated=result_form
    ):
        data = result_form.load()
        result = release.record_release_result(
            db, release_test, data["result"], user=current_user, instrument_id=data["instrument_id"]
        )
    if result.conforms:
        flash(f"{release_test.definition.name}: {result.reported} recorded; a second person verifies it.", "success")
    else:
        flash(
            f"{release_test.definition.name}: {result.reported} is out of specification; a deviation is raised.",
            "warning",
        )
    return redirect(url_for("batch_records.batch", batch_id=release_test.batch_id), 303)


@blueprint.route("/test-results/<int:result_id>/correct", methods=["POST"])
@allow(TESTERS)
def correct_release_result(result_id: int) -> Any:
    db = get_session()
    result = testing.get_result(db, result_id)
    batch_id = int(result.tested_id)
    correction = RepeatedForm(f"result-{result_id}-", testing_schemas.ResultCorrectionSchema)
    with on_refusal_show("batch_records/batch.html", lambda: batch_context(batch_id), repeated=correction):
        data = correction.load()
        release.correct_release_result(db, result, data["result"], reason=data["reason"], user=current_user)
    flash(f"{result.definition.name} corrected; the original result stays on the record.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch_id), 303)


@blueprint.route("/batches/<int:batch_id>/review")
@allow(RoleName.QA, RoleName.MANAGER)
def review(batch_id: int) -> Any:
    return render_template(
        "batch_records/review.html",
        review=release.review(get_session(), batch_id),
        batch_id=batch_id,
        errors={},
        form=MultiDict(),
        dispositions=schemas.DISPOSITION_CHOICES,
        action=None,
    )


def _refusal_shown_on_review_page(db: Session, batch_id: int, *, action: str) -> AbstractContextManager[None]:
    """A refused signature on QA's review page shows the page again with the form's errors under ``action``."""
    return on_refusal_show(
        "batch_records/review.html",
        lambda: {"review": release.review(db, batch_id)},
        batch_id=batch_id,
        dispositions=schemas.DISPOSITION_CHOICES,
        action=action,
    )


@blueprint.route("/batches/<int:batch_id>/disposition", methods=["POST"])
@allow(RoleName.QA)
def dispose(batch_id: int) -> Any:
    db = get_session()
    batch = batches.get_batch(db, batch_id)
    with _refusal_shown_on_review_page(db, batch_id, action="disposition"):
        data = load_input(schemas.DispositionSchema())
        release.dispose(
            db,
            batch,
            data["meaning"],
            user=current_user,
            password=data["password"],
            reason=data["reason"],
            client_address=request.remote_addr,
        )
    flash(f"Batch {batch.batch_number} is {batch.status.value}.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch_id), 303)


@blueprint.route("/batches/<int:batch_id>/trail-review", methods=["POST"])
@allow(RoleName.QA)
def review_trail(batch_id: int) -> Any:
    db = get_session()
    batch = batches.get_batch(db, batch_id)
    with _refusal_shown_on_review_page(db, batch_id, action="trail"):
        data = load_input(review_schemas.TrailReviewSchema())
        trail_review = release.review_trail(
            db,
            batch,
            comment=data["comment"],
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash(
        f"Review of the audit trail of batch {batch.batch_number} signed ({trail_review.events_reviewed} events).",
        "success",
    )
    return redirect(url_for("batch_records.review", batch_id=batch_id), 303)


@blueprint.route("/batches/<int:batch_id>/record.pdf")
@allow(RoleName.QA, RoleName.MANAGER)
def record_pdf(batch_id: int) -> Any:
    report = generate_batch_record_pdf(
        get_session(), batch_id, user=current_user, localtime=current_app.jinja_env.filters["localtime"]
    )
    return Response(
        report.data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{report.filename}"',
            # The file's digest as RFC 9530 states it, and as sha256sum prints it and the audit trail records it.
            "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(report.sha256)).decode()}:",
            "X-Content-SHA256": report.sha256,
        },
    )
