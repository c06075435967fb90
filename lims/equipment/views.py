"""Equipment pages: the list, an item with its history and drift, calibration, maintenance, impact."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
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

from lims import clock
from lims.access import STAFF, allow
from lims.db import get_child, get_session
from lims.equipment import charts, schemas
from lims.equipment.models import (
    CalibrationRecord,
    Equipment,
    EquipmentStatus,
    EquipmentType,
    MaintenanceKind,
    Verdict,
)
from lims.equipment.service import calibrations, impact_assessments, inventory, maintenance, use
from lims.identity.models import RoleName
from lims.registry import ImpactedRecord
from lims.signatures import service as signatures
from lims.web import RepeatedForm, field_errors, load_input, on_refusal_show, refusals_answered, refuse

blueprint = Blueprint("equipment", __name__, template_folder="templates")

MANAGERS = frozenset({RoleName.MANAGER, RoleName.ADMIN})
CALIBRATORS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})


def _due_soon_days() -> int:
    return current_app.config["CALIBRATION_DUE_SOON_DAYS"]


def _filter_options() -> dict[str, Any]:
    return {
        "status_options": [(status.value, status.value.capitalize()) for status in EquipmentStatus],
        "type_options": [(kind.value, kind.value.capitalize()) for kind in EquipmentType],
    }


@blueprint.route("/equipment")
@allow(STAFF)
def index() -> Any:
    with on_refusal_show("equipment/index.html", page=None, form=request.args, filter_args={}, **_filter_options()):
        criteria = load_input(schemas.EquipmentFilterSchema(), request.args)
    page_number = criteria.pop("page")
    page = inventory.list_equipment(
        get_session(),
        inventory.EquipmentFilter(
            status=criteria["status"],
            equipment_type=criteria["equipment_type"],
            location=criteria["location"],
            text=criteria["q"],
        ),
        due_soon_days=_due_soon_days(),
        page=page_number,
    )
    filter_args = {key: value for key, value in request.args.items() if value and key != "page"}
    return render_template(
        "equipment/index.html", page=page, form=request.args, errors={}, filter_args=filter_args, **_filter_options()
    )


@blueprint.route("/equipment/new", methods=["GET", "POST"])
@allow(MANAGERS)
def new() -> Any:
    if request.method == "GET":
        return render_template("equipment/new.html", errors={}, form=MultiDict(), **_filter_options())
    with on_refusal_show("equipment/new.html", **_filter_options()):
        data = load_input(schemas.EquipmentCreateSchema())
        equipment = inventory.create_equipment(get_session(), **data, owner=current_user)
    flash(f"{equipment.asset_tag} is registered. Add its calibration points next.", "success")
    return redirect(url_for("equipment.show", equipment_id=equipment.id), 303)


def _equipment_context(equipment: Equipment) -> dict[str, Any]:
    db = get_session()
    return {
        "equipment": equipment,
        "status": inventory.status_of(db, equipment, due_soon_days=_due_soon_days()),
        "calibrations": calibrations.calibration_history(db, equipment),
        "maintenance": maintenance.maintenance_history(db, equipment),
        "uses": use.recent_uses(db, equipment),
        "assessments": impact_assessments.impact_assessments(db, equipment),
        "chart": charts.drift_chart(calibrations.drift(db, equipment)),
        "maintenance_kinds": [(kind.value, kind.value.capitalize()) for kind in MaintenanceKind],
    }


@blueprint.route("/equipment/<int:equipment_id>")
@allow(STAFF)
def show(equipment_id: int) -> Any:
    return render_template(
        "equipment/show.html",
        errors={},
        form=request.form,
        **_equipment_context(inventory.get_equipment(get_session(), equipment_id)),
    )


@blueprint.route("/equipment/<int:equipment_id>/edit", methods=["POST"])
@allow(MANAGERS)
def edit(equipment_id: int) -> Any:
    db = get_session()
    equipment = inventory.get_equipment(db, equipment_id)
    with on_refusal_show("equipment/show.html", lambda: _equipment_context(equipment)):
        inventory.update_equipment(db, equipment, **load_input(schemas.EquipmentUpdateSchema()))
    flash(f"{equipment.asset_tag} is updated.", "success")
    return redirect(url_for("equipment.show", equipment_id=equipment.id), 303)


@blueprint.route("/equipment/<int:equipment_id>/points", methods=["POST"])
@allow(MANAGERS)
def add_point(equipment_id: int) -> Any:
    db = get_session()
    equipment = inventory.get_equipment(db, equipment_id)
    with on_refusal_show("equipment/show.html", lambda: _equipment_context(equipment)):
        data = load_input(schemas.CalibrationPointSchema())
        calibrations.add_calibration_point(db, equipment, **data)
    flash(f"Calibration point “{data['name']}” added.", "success")
    return redirect(url_for("equipment.show", equipment_id=equipment.id), 303)


@blueprint.route("/equipment/<int:equipment_id>/retire", methods=["POST"])
@allow(MANAGERS)
def retire(equipment_id: int) -> Any:
    db = get_session()
    equipment = inventory.get_equipment(db, equipment_id)
    with on_refusal_show("equipment/show.html", lambda: _equipment_context(equipment)):
        inventory.retire_equipment(db, equipment, reason=load_input(schemas.RetireSchema())["reason"])
    flash(f"{equipment.asset_tag} is retired.", "success")
    return redirect(url_for("equipment.show", equipment_id=equipment.id), 303)


# Calibration


def _calibration_form(equipment: Equipment, corrects: Any = None) -> dict[str, Any]:
    standards = calibrations.list_reference_standards(get_session())
    return {
        "equipment": equipment,
        "points": [point for point in equipment.points if point.active],
        "standards": standards,
        "standard_options": [
            (
                standard.id,
                f"{standard.identifier}: {standard.description}, measures {standard.measures or 'nothing stated'} "
                f"(valid until {standard.valid_until.isoformat()})",
            )
            for standard in standards
        ],
        "today": clock.today(),
        "corrects": corrects,
    }


@blueprint.route("/equipment/<int:equipment_id>/calibrations/new", methods=["GET", "POST"])
@allow(CALIBRATORS)
def new_calibration(equipment_id: int) -> Any:
    db = get_session()
    equipment = inventory.get_equipment(db, equipment_id)
    corrects_id = request.values.get("corrects_id", type=int)
    corrects = (
        get_child(
            db,
            CalibrationRecord,
            corrects_id,
            parent=equipment,
            label="calibration",
            parent_label=equipment.asset_tag,
            field="corrects_id",
        )
        if corrects_id
        else None
    )
    context = _calibration_form(equipment, corrects)
    if request.method == "GET":
        return render_template("equipment/calibration_new.html", errors={}, form=MultiDict(), **context)
    points = context["points"]
    with on_refusal_show("equipment/calibration_new.html", **context):
        data = load_input(schemas.calibration_schema(points))
        upload = request.files.get("certificate")
        certificate = (
            calibrations.Certificate(upload.filename or "certificate", upload.read())
            if upload is not None and upload.filename
            else None
        )
        record = calibrations.record_calibration(
            db,
            equipment,
            performed_on=data["performed_on"],
            recorded_by=current_user,
            readings=[
                calibrations.ReadingInput(point.id, data[f"as_found_{point.id}"], data[f"as_left_{point.id}"])
                for point in points
            ],
            performed_by=data["performed_by"],
            reference_standard_id=data["reference_standard_id"],
            vendor_name=data["vendor_name"],
            vendor_certificate_number=data["vendor_certificate_number"],
            certificate=certificate,
            notes=data["notes"],
            corrects=corrects,
            correction_reason=data["correction_reason"],
        )
    flash("Calibration recorded. Sign it as performed to complete it.", "success")
    return redirect(url_for("equipment.calibration", record_id=record.id), 303)


@blueprint.route("/equipment/calibrations/<int:record_id>")
@allow(STAFF)
def calibration(record_id: int) -> Any:
    db = get_session()
    record = calibrations.get_calibration(db, record_id)
    return render_template("equipment/calibration.html", record=record, signatures=signatures.signatures_of(db, record))


@blueprint.route("/equipment/calibrations/<int:record_id>/certificate")
@allow(STAFF)
def certificate(record_id: int) -> Any:
    db = get_session()
    download = calibrations.export_certificate(db, calibrations.get_calibration(db, record_id))
    return Response(
        download.data,
        mimetype=download.media_type,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


# Maintenance


@blueprint.route("/equipment/<int:equipment_id>/maintenance", methods=["POST"])
@allow(CALIBRATORS)
def start_maintenance(equipment_id: int) -> Any:
    db = get_session()
    equipment = inventory.get_equipment(db, equipment_id)
    with on_refusal_show("equipment/show.html", lambda: _equipment_context(equipment)):
        data = load_input(schemas.MaintenanceStartSchema())
        maintenance.start_maintenance(
            db, equipment, kind=data["kind"], description=data["description"], user=current_user
        )
    flash(f"{equipment.asset_tag} is under maintenance and cannot be used until it is closed.", "success")
    return redirect(url_for("equipment.show", equipment_id=equipment.id), 303)


@blueprint.route("/equipment/maintenance/<int:record_id>/close", methods=["POST"])
@allow(CALIBRATORS)
def close_maintenance(record_id: int) -> Any:
    db = get_session()
    record = maintenance.get_maintenance(db, record_id)
    equipment = inventory.get_equipment(db, record.equipment_id)
    with on_refusal_show("equipment/show.html", lambda: _equipment_context(equipment)):
        maintenance.close_maintenance(
            db, record, outcome=load_input(schemas.MaintenanceCloseSchema())["outcome"], user=current_user
        )
    flash("Maintenance closed.", "success")
    return redirect(url_for("equipment.show", equipment_id=equipment.id), 303)


# Out-of-tolerance impact


@blueprint.route("/equipment/impact/<int:assessment_id>", methods=["GET", "POST"])
@allow(STAFF)
def impact(assessment_id: int) -> Any:
    db = get_session()
    assessment = impact_assessments.get_impact_assessment(db, assessment_id)
    uses = impact_assessments.affected_uses(db, assessment)
    records = impact_assessments.records_of_uses(db, uses)
    context: dict[str, Any] = {
        "assessment": assessment,
        "uses": uses,
        "records": [(record, impact_assessments.verdict_prefix(record)) for record in records],
        "verdicts": Verdict,
        "signatures": signatures.signatures_of(db, assessment),
    }
    if request.method == "GET":
        return render_template("equipment/impact.html", errors={}, form=MultiDict(), **context)
    with on_refusal_show("equipment/impact.html", **context):
        data = load_input(schemas.ImpactCloseSchema())
        impact_assessments.close_impact_assessment(
            db,
            assessment,
            conclusion=data["conclusion"],
            verdicts=_posted_verdicts(records),
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash("Impact assessment closed and signed.", "success")
    return redirect(url_for("equipment.impact", assessment_id=assessment.id), 303)


def _posted_verdicts(records: list[ImpactedRecord]) -> dict[str, impact_assessments.VerdictInput]:
    """The verdict posted for each record, by its prefix; every field's message at once if any is unreadable."""
    verdicts, errors = {}, {}
    for record in records:
        form = RepeatedForm(impact_assessments.verdict_prefix(record), schemas.ImpactVerdictSchema)
        try:
            verdicts[form.prefix] = impact_assessments.VerdictInput(**form.load())
        except ValidationError as refusal:
            errors.update(form.errors_on_page(field_errors(refusal)))
    if errors:
        raise ValidationError(errors)
    return verdicts


@blueprint.route("/equipment/review")
@allow(RoleName.QA)
def review() -> Any:
    db = get_session()
    schema = schemas.ReviewPageSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    waiting = calibrations.calibrations_awaiting_review(db, after=data["calibrations"])
    assessments = impact_assessments.open_impact_assessments(db, after=data["assessments"])
    return render_template(
        "equipment/review.html",
        calibrations=waiting.items,
        assessments=assessments.items,
        cursors={name: request.args[name] for name in ("calibrations", "assessments") if request.args.get(name)},
        next_calibrations=schema.fields["calibrations"].serialize("next_key", waiting),
        next_assessments=schema.fields["assessments"].serialize("next_key", assessments),
    )


# Reference standards


def _standards_context() -> dict[str, Any]:
    return {"standards": calibrations.list_reference_standards(get_session()), "today": clock.today()}


@blueprint.route("/equipment/standards")
@allow(STAFF)
def standards() -> Any:
    return render_template("equipment/standards.html", errors={}, form=MultiDict(), **_standards_context())


@blueprint.route("/equipment/standards", methods=["POST"])
@allow(MANAGERS)
def new_standard() -> Any:
    with on_refusal_show("equipment/standards.html", _standards_context):
        calibrations.create_reference_standard(get_session(), **load_input(schemas.ReferenceStandardSchema()))
    flash("Reference standard registered.", "success")
    return redirect(url_for("equipment.standards"), 303)
