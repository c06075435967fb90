"""Protocol pages: list, protocol with its versions, version design and lifecycle, diff, subjects."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict

from lims.access import STAFF, allow
from lims.db import get_child, get_record, get_session
from lims.errors import InvalidInput
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service.organizations import get_organization, list_organizations
from lims.signatures import service as signatures
from lims.versioning import service as versioning
from lims.web import load_input, on_refusal_show, refusals_answered, refuse
from protocols import schemas
from protocols.ctgov.parse import parse_study
from protocols.models import (
    Arm,
    ProtocolPhase,
    ProtocolStatus,
    ProtocolVersion,
    ReferenceEvent,
    SampleRequirement,
    Visit,
)
from protocols.odm import export_odm
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service

blueprint = Blueprint("protocols", __name__, template_folder="templates")

AUTHORS = frozenset({RoleName.MANAGER, RoleName.ADMIN})
ENROLLERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})
RELEASERS = frozenset({RoleName.QA, RoleName.MANAGER})


@blueprint.route("/protocols")
@allow(STAFF)
def index() -> Any:
    db = get_session()
    schema = schemas.ReviewListSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    in_review = protocol_service.versions_in_review(db, after=data["cursor"])
    return render_template(
        "protocols/index.html",
        page=protocol_service.protocols_page(db, page=request.args.get("page", 1, type=int)),
        in_review=in_review.items,
        in_review_count=versioning.count_in_review(db, ProtocolVersion),
        first_review_page=data["cursor"] is None,
        next_review_cursor=schema.fields["cursor"].serialize("next_key", in_review),
    )


def _new_context() -> dict[str, Any]:
    return {
        "sponsor_options": [
            (organization.id, organization.name)
            for organization in list_organizations(get_session(), kind=OrganizationKind.CLIENT)
        ],
        "phase_options": [(phase.value, phase.value.capitalize()) for phase in ProtocolPhase],
    }


@blueprint.route("/protocols/new", methods=["GET", "POST"])
@allow(AUTHORS)
def new() -> Any:
    if request.method == "GET":
        return render_template("protocols/new.html", errors={}, form=MultiDict(), **_new_context())
    db = get_session()
    with on_refusal_show("protocols/new.html", _new_context):
        data = load_input(schemas.ProtocolCreateSchema())
        sponsor = get_organization(db, data.pop("sponsor_id"))
        protocol = protocol_service.create_protocol(db, sponsor=sponsor, **data)
    flash(f"{protocol.number} is registered with a draft version 1.0; design it next.", "success")
    return redirect(url_for("protocols.version", version_id=protocol.versions[0].id), 303)


def _import_context() -> dict[str, Any]:
    return {"sponsor_options": _new_context()["sponsor_options"]}


@blueprint.route("/protocols/import", methods=["GET", "POST"])
@allow(AUTHORS)
def import_ctgov() -> Any:
    if request.method == "GET":
        return render_template("protocols/import.html", errors={}, form=MultiDict(), **_import_context())
    db = get_session()
    with on_refusal_show("protocols/import.html", _import_context):
        data = load_input(schemas.ImportSchema())
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InvalidInput("Choose the ClinicalTrials.gov record to import (JSON or XML).", field="file")
        study = parse_study(upload.read(), filename=upload.filename)
        protocol = protocol_service.import_study(
            db,
            study,
            sponsor=get_organization(db, data["sponsor_id"]),
            number=data["number"],
            therapeutic_area=data["therapeutic_area"],
        )
    return render_template("protocols/imported.html", protocol=protocol, study=study), 201


@blueprint.route("/protocols/<int:protocol_id>")
@allow(STAFF)
def show(protocol_id: int) -> Any:
    return render_template("protocols/show.html", errors={}, form=request.form, **_show_context(protocol_id))


def _show_context(protocol_id: int) -> dict[str, Any]:
    db = get_session()
    protocol = protocol_service.get_protocol(db, protocol_id)
    return {
        "protocol": protocol,
        "effective": protocol_service.effective_version(protocol),
        "subjects": subjects_service.subjects_of(db, protocol),
        "status_options": [(status.value, status.value.capitalize()) for status in ProtocolStatus],
    }


@blueprint.route("/protocols/<int:protocol_id>/edit", methods=["POST"])
@allow(AUTHORS)
def edit(protocol_id: int) -> Any:
    db = get_session()
    protocol = protocol_service.get_protocol(db, protocol_id)
    with on_refusal_show("protocols/show.html", lambda: _show_context(protocol_id)):
        protocol_service.update_protocol(db, protocol, **load_input(schemas.ProtocolUpdateSchema()))
    flash(f"{protocol.number} is updated.", "success")
    return redirect(url_for("protocols.show", protocol_id=protocol.id), 303)


@blueprint.route("/protocols/<int:protocol_id>/versions", methods=["POST"])
@allow(AUTHORS)
def new_version(protocol_id: int) -> Any:
    db = get_session()
    protocol = protocol_service.get_protocol(db, protocol_id)
    with on_refusal_show("protocols/show.html", lambda: _show_context(protocol_id)):
        version = design_service.new_version(db, protocol, **load_input(schemas.NewVersionSchema()))
    flash(
        f"Version {version.number} is drafted from the previous design; amend it, then sign it for review.", "success"
    )
    return redirect(url_for("protocols.version", version_id=version.id), 303)


def _version_context(version_id: int) -> dict[str, Any]:
    db = get_session()
    version = protocol_service.get_version_for_page(db, version_id)
    return dict(
        version=version,
        protocol=version.protocol,
        signatures=signatures.signatures_of(db, version),
        editable=version.is_draft,
        reference_options=[(event.value, event.value.capitalize()) for event in ReferenceEvent],
        visit_options=[(visit.id, f"{visit.code} {visit.name}") for visit in version.visits],
    )


@blueprint.route("/protocols/versions/<int:version_id>")
@allow(STAFF)
def version(version_id: int) -> Any:
    return render_template("protocols/version.html", errors={}, form=request.form, **_version_context(version_id))


def _design_change(version_id: int, change: Any) -> Any:
    """Apply a design change to a draft version, or show the version again with the errors."""
    db = get_session()
    version = protocol_service.get_version(db, version_id)
    with on_refusal_show("protocols/version.html", lambda: _version_context(version_id)):
        message = change(db, version)
    flash(message, "success")
    return redirect(url_for("protocols.version", version_id=version_id), 303)


@blueprint.route("/protocols/versions/<int:version_id>/arms", methods=["POST"])
@allow(AUTHORS)
def add_arm(version_id: int) -> Any:
    def change(db: Any, version: Any) -> str:
        arm = design_service.add_arm(db, version, **load_input(schemas.ArmSchema()))
        return f"Arm {arm.code} added."

    return _design_change(version_id, change)


@blueprint.route("/protocols/versions/<int:version_id>/visits", methods=["POST"])
@allow(AUTHORS)
def add_visit(version_id: int) -> Any:
    def change(db: Any, version: Any) -> str:
        visit = design_service.add_visit(db, version, **load_input(schemas.VisitSchema()))
        return f"Visit {visit.code} added."

    return _design_change(version_id, change)


@blueprint.route("/protocols/versions/<int:version_id>/requirements", methods=["POST"])
@allow(AUTHORS)
def add_requirement(version_id: int) -> Any:
    def change(db: Any, version: Any) -> str:
        data = load_input(schemas.SampleRequirementSchema())
        visit = get_child(
            db,
            Visit,
            data.pop("visit_id"),
            parent=version,
            label="visit",
            parent_label=f"Version {version.number}",
            field="visit_id",
        )
        design_service.add_sample_requirement(db, visit, **data)
        return f"Sample requirement added to {visit.code}."

    return _design_change(version_id, change)


@blueprint.route("/protocols/visits/<int:visit_id>", methods=["GET", "POST"])
@allow(AUTHORS)
def edit_visit(visit_id: int) -> Any:
    db = get_session()
    visit = get_record(db, Visit, visit_id, "visit")
    context: dict[str, Any] = {
        "visit": visit,
        "reference_options": [(event.value, event.value.capitalize()) for event in ReferenceEvent],
    }
    if request.method == "GET":
        return render_template("protocols/visit_edit.html", errors={}, form=MultiDict(), **context)
    with on_refusal_show("protocols/visit_edit.html", **context):
        design_service.update_visit(db, visit, **load_input(schemas.VisitUpdateSchema()))
    flash(f"Visit {visit.code} is updated.", "success")
    return redirect(url_for("protocols.version", version_id=visit.version_id), 303)


@blueprint.route("/protocols/arms/<int:arm_id>", methods=["GET", "POST"])
@allow(AUTHORS)
def edit_arm(arm_id: int) -> Any:
    db = get_session()
    arm = get_record(db, Arm, arm_id, "arm")
    if request.method == "GET":
        return render_template("protocols/arm_edit.html", errors={}, form=MultiDict(), arm=arm)
    with on_refusal_show("protocols/arm_edit.html", arm=arm):
        design_service.update_arm(db, arm, **load_input(schemas.ArmUpdateSchema()))
    flash(f"Arm {arm.code} is updated.", "success")
    return redirect(url_for("protocols.version", version_id=arm.version_id), 303)


@blueprint.route("/protocols/samples/<int:requirement_id>", methods=["GET", "POST"])
@allow(AUTHORS)
def edit_requirement(requirement_id: int) -> Any:
    db = get_session()
    requirement = get_record(db, SampleRequirement, requirement_id, "sample requirement")
    if request.method == "GET":
        return render_template("protocols/requirement_edit.html", errors={}, form=MultiDict(), requirement=requirement)
    with on_refusal_show("protocols/requirement_edit.html", requirement=requirement):
        design_service.update_sample_requirement(db, requirement, **load_input(schemas.SampleRequirementUpdateSchema()))
    flash(f"Sample requirement of {requirement.visit.code} is updated.", "success")
    return redirect(url_for("protocols.version", version_id=requirement.visit.version_id), 303)


@blueprint.route("/protocols/versions/<int:version_id>/effective", methods=["POST"])
@allow(RELEASERS)
def make_effective(version_id: int) -> Any:
    db = get_session()
    version = protocol_service.get_version(db, version_id)
    with on_refusal_show("protocols/version.html", lambda: _version_context(version_id)):
        versioning.make_effective(db, version)
    flash(f"Version {version.number} is effective.", "success")
    return redirect(url_for("protocols.version", version_id=version_id), 303)


@blueprint.route("/protocols/versions/<int:version_id>/odm.xml")
@allow(STAFF)
def odm(version_id: int) -> Any:
    db = get_session()
    version = protocol_service.get_version(db, version_id)
    filename = f"{version.protocol.number}-v{version.number}-odm.xml".replace("/", "_")
    return Response(
        export_odm(db, version),
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blueprint.route("/protocols/<int:protocol_id>/diff")
@allow(STAFF)
def diff(protocol_id: int) -> Any:
    db = get_session()
    protocol = protocol_service.get_protocol(db, protocol_id)
    refusal = "Choose two versions of this protocol to compare."
    with refusals_answered(lambda errors, status: refuse(status, refusal, errors)):
        data = load_input(schemas.DiffSchema(), request.args)
        old, new = (
            get_child(
                db,
                ProtocolVersion,
                data[which],
                parent=protocol,
                label="version",
                parent_label=protocol.number,
                field=which,
            )
            for which in ("old", "new")
        )
    return render_template(
        "protocols/diff.html", protocol=protocol, old=old, new=new, differences=design_service.diff_versions(old, new)
    )


# Subjects


def _subjects_context(protocol_id: int) -> dict[str, Any]:
    db = get_session()
    protocol = protocol_service.get_protocol(db, protocol_id)
    effective = protocol_service.effective_version(protocol)
    return dict(
        protocol=protocol,
        subjects=subjects_service.subjects_of(db, protocol),
        arm_options=[(arm.id, f"{arm.code} {arm.name}") for arm in effective.arms] if effective else [],
        effective=effective,
    )


@blueprint.route("/protocols/<int:protocol_id>/subjects")
@allow(STAFF)
def subjects(protocol_id: int) -> Any:
    return render_template("protocols/subjects.html", errors={}, form=request.form, **_subjects_context(protocol_id))


@blueprint.route("/protocols/<int:protocol_id>/subjects", methods=["POST"])
@allow(ENROLLERS)
def enrol(protocol_id: int) -> Any:
    db = get_session()
    protocol = protocol_service.get_protocol(db, protocol_id)
    with on_refusal_show("protocols/subjects.html", lambda: _subjects_context(protocol_id)):
        data = load_input(schemas.SubjectSchema())
        effective = subjects_service.enrolling_version(protocol)
        arm = get_child(
            db,
            Arm,
            data.pop("arm_id"),
            parent=effective,
            label="arm",
            parent_label=f"The effective version {effective.number}",
            field="arm_id",
        )
        subject = subjects_service.enrol_subject(db, protocol, arm=arm, **data)
    flash(f"{subject.code} is enrolled.", "success")
    return redirect(url_for("protocols.subject", subject_id=subject.id), 303)


@blueprint.route("/protocols/subjects/<int:subject_id>")
@allow(STAFF)
def subject(subject_id: int) -> Any:
    return render_template("protocols/subject.html", errors={}, form=MultiDict(), **_subject_context(subject_id))


def _subject_context(subject_id: int) -> dict[str, Any]:
    subject = subjects_service.get_subject(get_session(), subject_id)
    return {
        "subject": subject,
        "calendar": subjects_service.sample_calendar(get_session(), subject),
        "made_from": subjects_service.records_of_subject(get_session(), subject),
    }


@blueprint.route("/protocols/subjects/<int:subject_id>", methods=["POST"])
@allow(ENROLLERS)
def update_subject(subject_id: int) -> Any:
    db = get_session()
    subject = subjects_service.get_subject(db, subject_id)
    with on_refusal_show("protocols/subject.html", lambda: _subject_context(subject_id)):
        subjects_service.update_subject(db, subject, **load_input(schemas.SubjectUpdateSchema()))
    flash(f"{subject.code} is updated.", "success")
    return redirect(url_for("protocols.subject", subject_id=subject.id), 303)
