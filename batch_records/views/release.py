"""Pages of a batch's release: its release test results, QA's review by exception and disposition, and the
executed batch record as a PDF."""
from __future__ import annotations

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
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from batch_records import schemas
from batch_records.pdf import generate_batch_record_pdf
from batch_records.service import batches, release
from batch_records.views import blueprint
from batch_records.views.batches import batch_page_error
from batch_records.views.forms import RepeatedForm
from lims.access import allow
from lims.db import get_session, keep_changes_despite_refusal
from lims.errors import LimsError
from lims.identity.models import RoleName
from lims.identity.service.sign_in import LoginFailed
from lims.testing import service as testing
from lims.web import error_status, field_errors, load_input

TESTERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA})


@blueprint.route("/batch-release-tests/<int:release_test_id>/results", methods=["POST"])
@allow(TESTERS)
def record_release_result(release_test_id: int) -> Any:
    db = get_session()
    release_test = release.get_release_test(db, release_test_id)
    result_form = RepeatedForm(f"test-{release_test_id}-", schemas.ReleaseResultSchema)
    try:
        data = result_form.load()
        result = release.record_release_result(db, release_test, data["result"], user=current_user)
    except (ValidationError, LimsError) as error:
        return batch_page_error(release_test.batch_id, error, result_form)
    if result.conforms:
        flash(f"{release_test.definition.name}: {result.reported} recorded; a second person verifies it.", "success")
    else:
        flash(f"{release_test.definition.name}: {result.reported} is out of specification; a deviation is raised.",
              "warning")
    return redirect(url_for("batch_records.batch", batch_id=release_test.batch_id), 303)


@blueprint.route("/test-results/<int:result_id>/correct", methods=["POST"])
@allow(TESTERS)
def correct_release_result(result_id: int) -> Any:
    db = get_session()
    result = testing.get_result(db, result_id)
    batch_id = int(result.tested_id)
    correction = RepeatedForm(f"result-{result_id}-", schemas.ResultCorrectionSchema)
    try:
        data = correction.load()
        release.correct_release_result(db, result, data["result"], reason=data["reason"], user=current_user)
    except (ValidationError, LimsError) as error:
        return batch_page_error(batch_id, error, correction)
    flash(f"{result.definition.name} corrected; the original result stays on the record.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch_id), 303)


@blueprint.route("/batches/<int:batch_id>/review")
@allow(RoleName.QA, RoleName.MANAGER)
def review(batch_id: int) -> Any:
    return render_template("batch_records/review.html", review=release.review(get_session(), batch_id),
                           batch_id=batch_id, errors={}, form=MultiDict(),
                           dispositions=schemas.DISPOSITION_CHOICES)


@blueprint.route("/batches/<int:batch_id>/disposition", methods=["POST"])
@allow(RoleName.QA)
def dispose(batch_id: int) -> Any:
    db = get_session()
    batch = batches.get_batch(db, batch_id)
    try:
        data = load_input(schemas.DispositionSchema())
        release.dispose(db, batch, data["meaning"], user=current_user, password=data["password"],
                        reason=data["reason"], client_address=request.remote_addr)
    except (ValidationError, LimsError) as error:
        if isinstance(error, LoginFailed):
            keep_changes_despite_refusal()  # the failed attempt counts toward lockout
        return render_template("batch_records/review.html", review=release.review(db, batch_id), batch_id=batch_id,
                               errors=field_errors(error), form=request.form,
                               dispositions=schemas.DISPOSITION_CHOICES), error_status(error)
    flash(f"Batch {batch.batch_number} is {batch.status.value}.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch_id), 303)


@blueprint.route("/batches/<int:batch_id>/record.pdf")
@allow(RoleName.QA, RoleName.MANAGER)
def record_pdf(batch_id: int) -> Any:
    report = generate_batch_record_pdf(get_session(), batch_id, user=current_user,
                                       localtime=current_app.jinja_env.filters["localtime"])
    return Response(report.data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{report.filename}"'})
