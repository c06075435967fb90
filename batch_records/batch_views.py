"""Pages of executed batches: starting one, working a step on the floor, release tests, deviations, QA review
and disposition, and the batch record PDF."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from batch_records import schemas, service
from batch_records.models import BatchStatus, DeviationCategory, DeviationStatus, StepStatus
from batch_records.pdf import batch_record_pdf
from batch_records.views import blueprint
from lims import clock
from lims.access import STAFF, allow
from lims.audit import service as audit
from lims.db import get_session, keep_changes_despite_refusal
from lims.equipment.service.inventory import get_equipment
from lims.equipment.service.use import equipment_choices
from lims.errors import InvalidInput, LimsError
from lims.identity.models import RoleName
from lims.identity.service.sign_in import LoginFailed
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.web import error_status, field_errors, load_input, render_form_error
from protocols import service as protocols

OPERATORS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})
TESTERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA})
INVESTIGATORS = frozenset({RoleName.QA, RoleName.MANAGER})
CATEGORY_OPTIONS = [(category.value, category.value.capitalize()) for category in DeviationCategory]


def _due_soon_days() -> int:
    return current_app.config["CALIBRATION_DUE_SOON_DAYS"]


@dataclass(frozen=True)
class RepeatedForm:
    """One of several copies of a form on a page (a correction per entry): its fields are named ``prefix + name``."""

    prefix: str
    schema: type[Schema]

    def load(self) -> dict[str, Any]:
        posted = MultiDict([(key.removeprefix(self.prefix), value) for key, value in request.form.items(multi=True)
                            if key.startswith(self.prefix)])
        return load_input(self.schema(), posted)


def _page_errors(error: ValidationError | LimsError, repeated: RepeatedForm | None) -> dict[str, list[str]]:
    """Errors keyed by the names the page gives its fields, so that each shows at its own field."""
    errors = field_errors(error)
    if repeated is None:
        return errors
    own = set(repeated.schema().fields)
    return {f"{repeated.prefix}{name}" if name in own else name: messages for name, messages in errors.items()}


# Batches


@blueprint.route("/batches")
@allow(STAFF)
def batches() -> Any:
    status_text = request.args.get("status", "")
    statuses = {status.value: status for status in BatchStatus}
    if status_text and status_text not in statuses:
        abort(400, f"{status_text!r} is not a batch status.")
    page = service.list_batches(get_session(), status=statuses.get(status_text),
                                page=request.args.get("page", 1, type=int))
    return render_template("batch_records/batches.html", page=page, status=status_text,
                           current_steps={batch.id: service.current_step(batch) for batch in page.items},
                           status_options=[(status.value, status.value.capitalize()) for status in BatchStatus])


def _start_context() -> dict[str, Any]:
    db = get_session()
    subjects = [subject for protocol in protocols.list_protocols(db) for subject in protocols.subjects_of(db, protocol)]
    return {"versions": [(version.id, f"{version.label} — {version.master.product}")
                         for version in service.effective_mbr_versions(db)],
            "subjects": [(subject.id, f"{subject.code} ({subject.protocol.number}, site {subject.site})")
                         for subject in subjects]}


@blueprint.route("/batches/new", methods=["GET", "POST"])
@allow(OPERATORS)
def new_batch() -> Any:
    if request.method == "GET":
        return render_template("batch_records/batch_new.html", errors={}, form=request.args, **_start_context())
    db = get_session()
    try:
        data = load_input(schemas.StartBatchSchema())
        version = service.get_mbr_version(db, data["mbr_version_id"])
        subject = protocols.get_subject(db, data["subject_id"])
        batch = service.start_batch(db, version, subject=subject,
                                    starting_material_identity=data["starting_material_identity"], user=current_user)
    except (ValidationError, LimsError) as error:
        return render_form_error("batch_records/batch_new.html", error, **_start_context())
    flash(f"Batch {batch.batch_number} is started from {batch.mbr_label}.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch.id), 303)


def _batch_context(batch_id: int, **extra: Any) -> dict[str, Any]:
    db = get_session()
    batch = service.get_batch(db, batch_id)
    return {"batch": batch, "current": service.current_step(batch),
            "release_tests": service.release_test_states(db, batch),
            "signatures": signatures.signatures_of(db, batch), "category_options": CATEGORY_OPTIONS,
            "step_options": [(step.id, f"{step.position}. {step.title}") for step in batch.steps],
            "errors": {}, "form": MultiDict(), **extra}


@blueprint.route("/batches/<int:batch_id>")
@allow(STAFF)
def batch(batch_id: int) -> Any:
    return render_template("batch_records/batch.html", **_batch_context(batch_id))


def _batch_error(batch_id: int, error: ValidationError | LimsError, repeated: RepeatedForm | None = None) -> Any:
    return render_template("batch_records/batch.html", **_batch_context(
        batch_id, errors=_page_errors(error, repeated), form=request.form)), error_status(error)


# A step on the floor


@blueprint.route("/batch-steps/awaiting/<meaning>")
@allow(STAFF)
def steps_to_sign(meaning: str) -> Any:
    """The steps waiting for a second person's verification, or for QA's review of a hold point."""
    choices = {SignatureMeaning.VERIFIED.value: SignatureMeaning.VERIFIED,
               SignatureMeaning.REVIEWED.value: SignatureMeaning.REVIEWED}
    if meaning not in choices:
        abort(404, "Steps wait for verification or for a hold-point review only.")
    # Verification is by someone other than who did the step; a hold point's review is QA's whoever did it.
    waiting = service.steps_awaiting_signature(
        get_session(), choices[meaning],
        for_user=current_user if choices[meaning] == SignatureMeaning.VERIFIED else None)
    return render_template("batch_records/steps_to_sign.html", steps=waiting, meaning=choices[meaning])


def _step_context(step_id: int, **extra: Any) -> dict[str, Any]:
    db = get_session()
    step = service.get_batch_step(db, step_id)
    record = service.StepRecord(step, service.uses_of_steps(db, [step])[step.id],
                                signatures.signatures_of(db, step))
    workable = step.status in {StepStatus.PENDING, StepStatus.IN_PROGRESS} and step is service.current_step(step.batch)
    return {
        "step": step, "batch": step.batch, "record": record, "workable": workable,
        "missing": service.missing_for_completion(step, record.uses) if workable else [],
        "equipment_choices": {equipment_type: equipment_choices(
            db, equipment_type, due_soon_days=_due_soon_days()) for equipment_type in step.equipment_types},
        "lot_choices": {requirement.id: service.lot_choices(requirement.material) for requirement in step.materials},
        "yield_percent": service.yield_percent(step), "yield_ok": service.yield_within_limits(step),
        "errors": {}, "form": MultiDict(), **extra,
    }


@blueprint.route("/batch-steps/<int:step_id>")
@allow(STAFF)
def batch_step(step_id: int) -> Any:
    return render_template("batch_records/batch_step.html", **_step_context(step_id))


def _step_error(step_id: int, error: ValidationError | LimsError, repeated: RepeatedForm | None = None) -> Any:
    return render_template("batch_records/batch_step.html", **_step_context(
        step_id, errors=_page_errors(error, repeated), form=request.form)), error_status(error)


def _back_to_step(step_id: int, message: str) -> Any:
    flash(message, "success")
    return redirect(url_for("batch_records.batch_step", step_id=step_id), 303)


def _observed_at(naive: Any) -> Any:
    """A time typed on the floor is local wall-clock time in the lab's display time zone."""
    return None if naive is None else naive.replace(tzinfo=ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))


@blueprint.route("/batch-steps/<int:step_id>/entries", methods=["POST"])
@allow(OPERATORS)
def record_entries(step_id: int) -> Any:
    """Record the values typed for the step's parameters; all of them or, on any error, none."""
    db = get_session()
    step = service.get_batch_step(db, step_id)
    typed = [(parameter, request.form.get(f"parameter-{parameter.id}", "").strip()) for parameter in step.parameters
             if parameter.current_entry is None]
    typed = [(parameter, value) for parameter, value in typed if value]
    try:
        late = load_input(schemas.LateEntrySchema())
        if not typed:
            raise InvalidInput("Enter at least one value.")
        entries = [service.record_entry(db, parameter, value, user=current_user,
                                        observed_at=_observed_at(late["observed_at"]), late_reason=late["late_reason"])
                   for parameter, value in typed]
    except (ValidationError, LimsError) as error:
        return _step_error(step_id, error)
    outside = [entry for entry in entries if not entry.within_limits]
    if outside:
        flash(f"{', '.join(entry.parameter.name for entry in outside)} outside limits: a deviation is raised and QA "
              "is told. Carry on as the instruction says.", "warning")
    return _back_to_step(step_id, f"{len(entries)} value{'s' if len(entries) != 1 else ''} recorded.")


@blueprint.route("/batch-entries/<int:entry_id>/correct", methods=["POST"])
@allow(OPERATORS)
def correct_entry(entry_id: int) -> Any:
    db = get_session()
    entry = service.get_entry(db, entry_id)
    step_id = entry.parameter.step_id
    correction = RepeatedForm(f"entry-{entry_id}-", schemas.CorrectionSchema)
    try:
        data = correction.load()
        service.correct_entry(db, entry, data["value"], reason=data["reason"], user=current_user)
    except (ValidationError, LimsError) as error:
        return _step_error(step_id, error, correction)
    return _back_to_step(step_id, f"{entry.parameter.name} corrected; the original value stays on the record.")




@blueprint.route("/batch-steps/<int:step_id>/equipment", methods=["POST"])
@allow(OPERATORS)
def record_equipment(step_id: int) -> Any:
    db = get_session()
    step = service.get_batch_step(db, step_id)
    try:
        data = load_input(schemas.EquipmentUseSchema())
        equipment = get_equipment(db, data["equipment_id"])
        service.record_equipment_use(db, step, equipment, user=current_user, due_soon_days=_due_soon_days())
    except (ValidationError, LimsError) as error:
        return _step_error(step_id, error)
    return _back_to_step(step_id, f"Use of {equipment.asset_tag} recorded.")


@blueprint.route("/batch-steps/<int:step_id>/materials", methods=["POST"])
@allow(OPERATORS)
def record_material(step_id: int) -> Any:
    db = get_session()
    step = service.get_batch_step(db, step_id)
    try:
        data = load_input(schemas.MaterialUseSchema())
        requirement = next((item for item in step.materials if item.id == data["requirement_id"]), None)
        if requirement is None:
            raise InvalidInput("That material is not required by this step.", field="requirement_id")
        lot = service.get_lot(db, data["lot_id"])
        service.record_material_use(db, step, requirement, lot, data["quantity"], user=current_user)
    except (ValidationError, LimsError) as error:
        return _step_error(step_id, error)
    return _back_to_step(step_id, f"{data['quantity']} taken from lot {lot.lot_number}.")


@blueprint.route("/batch-steps/<int:step_id>/yield", methods=["POST"])
@allow(OPERATORS)
def record_yield(step_id: int) -> Any:
    db = get_session()
    step = service.get_batch_step(db, step_id)
    try:
        service.record_yield(db, step, load_input(schemas.YieldSchema())["actual_yield"], user=current_user)
    except (ValidationError, LimsError) as error:
        return _step_error(step_id, error)
    return _back_to_step(step_id, f"Yield recorded: {service.yield_percent(step)} % of theoretical.")


@blueprint.route("/batch-steps/<int:step_id>/skip", methods=["POST"])
@allow(OPERATORS)
def skip_step(step_id: int) -> Any:
    db = get_session()
    step = service.get_batch_step(db, step_id)
    try:
        service.skip_step(db, step, reason=load_input(schemas.SkipSchema())["reason"], user=current_user)
    except (ValidationError, LimsError) as error:
        return _step_error(step_id, error)
    flash(f"Step {step.position} skipped.", "success")
    return redirect(url_for("batch_records.batch", batch_id=step.batch_id), 303)


# Release tests


@blueprint.route("/batch-release-tests/<int:release_test_id>/results", methods=["POST"])
@allow(TESTERS)
def record_release_result(release_test_id: int) -> Any:
    db = get_session()
    release_test = service.get_release_test(db, release_test_id)
    result_form = RepeatedForm(f"test-{release_test_id}-", schemas.ReleaseResultSchema)
    try:
        data = result_form.load()
        result = service.record_release_result(db, release_test, data["result"], user=current_user)
    except (ValidationError, LimsError) as error:
        return _batch_error(release_test.batch_id, error, result_form)
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
        service.correct_release_result(db, result, data["result"], reason=data["reason"], user=current_user)
    except (ValidationError, LimsError) as error:
        return _batch_error(batch_id, error, correction)
    flash(f"{result.definition.name} corrected; the original result stays on the record.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch_id), 303)


# Deviations


@blueprint.route("/deviations")
@allow(STAFF)
def deviations() -> Any:
    status_text = request.args.get("status", "open")
    statuses = {status.value: status for status in DeviationStatus}
    if status_text and status_text not in statuses:
        abort(400, f"{status_text!r} is not a deviation status.")
    return render_template("batch_records/deviations.html", status=status_text,
                           deviations=service.list_deviations(get_session(), status=statuses.get(status_text)))


@blueprint.route("/batches/<int:batch_id>/deviations", methods=["POST"])
@allow(STAFF)
def raise_deviation(batch_id: int) -> Any:
    db = get_session()
    batch = service.get_batch(db, batch_id)
    try:
        data = load_input(schemas.DeviationSchema())
        step = service.get_batch_step(db, data["step_id"]) if data["step_id"] else None
        deviation = service.raise_deviation(db, batch, description=data["description"], category=data["category"],
                                            step=step, user=current_user)
    except (ValidationError, LimsError) as error:
        return _batch_error(batch_id, error)
    flash(f"Deviation {deviation.number} raised.", "success")
    return redirect(url_for("batch_records.deviation", deviation_id=deviation.id), 303)


def _deviation_context(deviation_id: int, **extra: Any) -> dict[str, Any]:
    db = get_session()
    deviation = service.get_deviation(db, deviation_id)
    form = extra.pop("form", None) or MultiDict({name: getattr(deviation, name) or "" for name in (
        "investigation", "root_cause", "other_batches_assessed", "conclusion", "capa")} | {
        "category": deviation.category.value if deviation.category else ""})
    return {"deviation": deviation, "batch": deviation.batch, "signatures": signatures.signatures_of(db, deviation),
            "missing": service.missing_for_closure(deviation), "category_options": CATEGORY_OPTIONS,
            "errors": {}, "form": form, **extra}


@blueprint.route("/deviations/<int:deviation_id>")
@allow(STAFF)
def deviation(deviation_id: int) -> Any:
    return render_template("batch_records/deviation.html", **_deviation_context(deviation_id))


@blueprint.route("/deviations/<int:deviation_id>/investigation", methods=["POST"])
@allow(INVESTIGATORS)
def record_investigation(deviation_id: int) -> Any:
    db = get_session()
    deviation = service.get_deviation(db, deviation_id)
    try:
        data = load_input(schemas.InvestigationSchema())
        reason = data.pop("reason")
        service.record_investigation(db, deviation, service.InvestigationInput(**data), reason=reason)
    except (ValidationError, LimsError) as error:
        return render_template("batch_records/deviation.html", **_deviation_context(
            deviation_id, errors=field_errors(error), form=request.form)), error_status(error)
    flash(f"Investigation of {deviation.number} saved.", "success")
    return redirect(url_for("batch_records.deviation", deviation_id=deviation_id), 303)


# QA review and disposition


@blueprint.route("/batches/<int:batch_id>/review")
@allow(RoleName.QA, RoleName.MANAGER)
def review(batch_id: int) -> Any:
    return render_template("batch_records/review.html", review=service.review(get_session(), batch_id),
                           batch_id=batch_id, errors={}, form=MultiDict(),
                           dispositions=schemas.DISPOSITION_CHOICES)


@blueprint.route("/batches/<int:batch_id>/disposition", methods=["POST"])
@allow(RoleName.QA)
def dispose(batch_id: int) -> Any:
    db = get_session()
    batch = service.get_batch(db, batch_id)
    try:
        data = load_input(schemas.DispositionSchema())
        service.dispose(db, batch, data["meaning"], user=current_user, password=data["password"],
                        reason=data["reason"], client_address=request.remote_addr)
    except (ValidationError, LimsError) as error:
        if isinstance(error, LoginFailed):
            keep_changes_despite_refusal()  # the failed attempt counts toward lockout
        return render_template("batch_records/review.html", review=service.review(db, batch_id), batch_id=batch_id,
                               errors=field_errors(error), form=request.form,
                               dispositions=schemas.DISPOSITION_CHOICES), error_status(error)
    flash(f"Batch {batch.batch_number} is {batch.status.value}.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch_id), 303)


@blueprint.route("/batches/<int:batch_id>/record.pdf")
@allow(RoleName.QA, RoleName.MANAGER)
def record_pdf(batch_id: int) -> Any:
    db = get_session()
    batch_review = service.review(db, batch_id)
    document = batch_record_pdf(batch_review, generated_by=current_user, generated_at=clock.now(),
                                localtime=current_app.jinja_env.filters["localtime"])
    audit.record(db, "report.generated", entity=batch_review.batch,
                 details={"report": "executed batch record (PDF)", "bytes": len(document)})
    return Response(document, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="batch-record-{batch_review.batch.batch_number}.pdf"'})
