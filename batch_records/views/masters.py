"""Pages of master batch records: the list, a version's whole design, its authoring forms and lifecycle.

The routes join the batch records blueprint (``batch_records.views`` imports this module at its end).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from batch_records import schemas
from batch_records.models import TYPICAL_STAGES, DonorType, MbrStep, MbrVersion
from batch_records.service import masters as masters_service
from batch_records.views import blueprint
from lims.access import STAFF, allow
from lims.db import get_child, get_session
from lims.equipment.models import EquipmentType
from lims.identity.models import RoleName
from lims.materials import service as materials
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.units.kinds import KIND_DESCRIPTIONS
from lims.versioning import service as versioning
from lims.web import load_input, on_refusal_show, refusals_answered, refuse

#: who designs master records (as protocols: the lab's managers, and admins)
AUTHORS = frozenset({RoleName.MANAGER, RoleName.ADMIN})
#: who puts an approved version into effect or withdraws it (as protocols)
RELEASERS = frozenset({RoleName.QA, RoleName.MANAGER})


@blueprint.route("/masters")
@allow(STAFF)
def masters() -> Any:
    db = get_session()
    schema = schemas.ListPageSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    in_review = masters_service.versions_in_review(db, after=data["cursor"])
    return render_template(
        "batch_records/masters.html",
        masters=masters_service.list_masters(db),
        in_review=in_review.items,
        in_review_count=versioning.count_in_review(db, MbrVersion),
        first_page=data["cursor"] is None,
        next_cursor=schema.fields["cursor"].serialize("next_key", in_review),
        reviewer=signatures.role_may_sign(current_user, MbrVersion, SignatureMeaning.APPROVED),
    )


#: the choice of a product's donor type, as the forms offer it
DONOR_TYPE_OPTIONS = [
    (DonorType.AUTOLOGOUS.value, "Autologous: made from a subject's own cells, for that subject only"),
    (DonorType.ALLOGENEIC.value, "Allogeneic: made from a donor's cells, for other people"),
]


@blueprint.route("/masters/new", methods=["GET", "POST"])
@allow(AUTHORS)
def new_master() -> Any:
    if request.method == "GET":
        return render_template(
            "batch_records/master_new.html", errors={}, form=MultiDict(), donor_type_options=DONOR_TYPE_OPTIONS
        )
    with on_refusal_show("batch_records/master_new.html", donor_type_options=DONOR_TYPE_OPTIONS):
        version = masters_service.create_master(get_session(), **load_input(schemas.MasterCreateSchema()))
    flash(f"{version.master.code} is registered with a draft version 1; design its steps next.", "success")
    return redirect(url_for("batch_records.mbr_version", version_id=version.id), 303)


def _stages(version: MbrVersion) -> list[tuple[str, list[MbrStep]]]:
    """The steps in their order, in runs of the same stage."""
    groups: list[tuple[str, list[MbrStep]]] = []
    for step in version.steps:
        if groups and groups[-1][0] == step.stage:
            groups[-1][1].append(step)
        else:
            groups.append((step.stage, [step]))
    return groups


def _step_options(version: MbrVersion) -> list[tuple[int, str]]:
    return [(step.id, f"{step.position}. {step.title}") for step in version.steps]


def _version_context(version_id: int) -> dict[str, Any]:
    db = get_session()
    version = masters_service.get_mbr_version(db, version_id)
    master = version.master
    required_tests = {test.definition_id for test in version.release_tests}
    return dict(
        version=version,
        master=master,
        stages=_stages(version),
        signatures=signatures.signatures_of(db, version),
        editable=version.is_draft,
        open_change=versioning.has_unfinished_version(master.versions),
        effective=masters_service.effective_mbr_version(master),
        donor_type_options=DONOR_TYPE_OPTIONS,
        stage_options=TYPICAL_STAGES,
        equipment_options=[(kind.value, kind.value.capitalize()) for kind in EquipmentType],
        step_options=_step_options(version),
        value_kind_options=[(kind.value, description) for kind, description in KIND_DESCRIPTIONS.items()],
        nothing=MultiDict(),
        material_options=[
            (material.id, f"{material.part_number} {material.name}") for material in materials.list_materials(db)
        ],
        test_options=[
            (definition.id, f"{definition.code} {definition.name}: {definition.specification}")
            for definition in testing.list_definitions(db)
            if definition.id not in required_tests
        ],
    )


@blueprint.route("/mbr-versions/<int:version_id>")
@allow(STAFF)
def mbr_version(version_id: int) -> Any:
    return render_template(
        "batch_records/mbr_version.html", errors={}, form=request.form, **_version_context(version_id)
    )


def _design_change(version_id: int, change: Callable[[Session, MbrVersion], str]) -> Any:
    """Apply a change to a version, or show the version again with the errors and nothing changed."""
    db = get_session()
    version = masters_service.get_mbr_version(db, version_id)
    with on_refusal_show("batch_records/mbr_version.html", lambda: _version_context(version_id)):
        message = change(db, version)
    flash(message, "success")
    return redirect(url_for("batch_records.mbr_version", version_id=version_id), 303)


def _step_of(db: Session, version: MbrVersion, step_id: int) -> MbrStep:
    return get_child(db, MbrStep, step_id, parent=version, label="step", parent_label=version.label, field="step_id")


@blueprint.route("/mbr-versions/<int:version_id>/donor-type", methods=["POST"])
@allow(AUTHORS)
def set_mbr_donor_type(version_id: int) -> Any:
    def change(db: Session, version: MbrVersion) -> str:
        data = load_input(schemas.DonorTypeSchema())
        masters_service.set_donor_type(db, version, data["donor_type"], reason=data["reason"])
        return f"{version.label} makes an {version.donor_type.value} product."

    return _design_change(version_id, change)


@blueprint.route("/mbr-versions/<int:version_id>/steps", methods=["POST"])
@allow(AUTHORS)
def add_mbr_step(version_id: int) -> Any:
    def change(db: Session, version: MbrVersion) -> str:
        design = masters_service.StepDesignInput(**load_input(schemas.StepSchema()))
        step = masters_service.add_step(db, version, design)
        return f"Step {step.position} ({step.title}) added."

    return _design_change(version_id, change)


@blueprint.route("/mbr-versions/<int:version_id>/parameters", methods=["POST"])
@allow(AUTHORS)
def add_mbr_parameter(version_id: int) -> Any:
    def change(db: Session, version: MbrVersion) -> str:
        data = load_input(schemas.ParameterSchema())
        step = _step_of(db, version, data.pop("step_id"))
        parameter = masters_service.add_parameter(db, step, **data)
        return f"Parameter {parameter.name} added to step {step.position}."

    return _design_change(version_id, change)


@blueprint.route("/mbr-versions/<int:version_id>/materials", methods=["POST"])
@allow(AUTHORS)
def add_mbr_material(version_id: int) -> Any:
    def change(db: Session, version: MbrVersion) -> str:
        data = load_input(schemas.MaterialRequirementSchema())
        step = _step_of(db, version, data["step_id"])
        material = materials.get_material(db, data["material_id"])
        masters_service.add_material_requirement(db, step, material=material, quantity=data["quantity"])
        return f"{material.part_number} ({data['quantity']}) added to step {step.position}."

    return _design_change(version_id, change)


@blueprint.route("/mbr-versions/<int:version_id>/release-tests", methods=["POST"])
@allow(AUTHORS)
def add_mbr_release_test(version_id: int) -> Any:
    def change(db: Session, version: MbrVersion) -> str:
        definition = testing.get_definition(db, load_input(schemas.ReleaseTestSchema())["definition_id"])
        masters_service.add_release_test(db, version, definition)
        return f"Release test {definition.name} added."

    return _design_change(version_id, change)


@blueprint.route("/mbr-versions/<int:version_id>/effective", methods=["POST"])
@allow(RELEASERS)
def make_mbr_effective(version_id: int) -> Any:
    def change(db: Session, version: MbrVersion) -> str:
        versioning.make_effective(db, version)
        return f"{version.label} is effective; new batches are made to it."

    return _design_change(version_id, change)


@blueprint.route("/mbr-versions/<int:version_id>/retire", methods=["POST"])
@allow(RELEASERS)
def retire_mbr_version(version_id: int) -> Any:
    def change(db: Session, version: MbrVersion) -> str:
        versioning.withdraw(db, version, **load_input(schemas.RetireSchema()))
        return f"{version.label} is retired; no new batches can be made to it."

    return _design_change(version_id, change)


@blueprint.route("/mbr-versions/<int:version_id>/new-version", methods=["POST"])
@allow(AUTHORS)
def new_mbr_version(version_id: int) -> Any:
    db = get_session()
    version = masters_service.get_mbr_version(db, version_id)
    with on_refusal_show("batch_records/mbr_version.html", lambda: _version_context(version_id)):
        created = masters_service.new_mbr_version(db, version.master, **load_input(schemas.NewMbrVersionSchema()))
    flash(f"{created.label} is drafted from v{created.number - 1}; change it, then sign it for review.", "success")
    return redirect(url_for("batch_records.mbr_version", version_id=created.id), 303)


_STEP_FLAGS = ("second_person_verification", "hold_point", "skippable", "qc_sampling")


def _step_values(step: MbrStep) -> MultiDict[str, str]:
    """The step's current design as the edit form shows it."""
    values: MultiDict[str, str] = MultiDict(
        {
            "stage": step.stage,
            "title": step.title,
            "instruction": step.instruction,
            "theoretical_yield": "" if step.theoretical_yield is None else str(step.theoretical_yield),
            "yield_minimum_percent": "" if step.yield_minimum_percent is None else str(step.yield_minimum_percent),
            "yield_maximum_percent": "" if step.yield_maximum_percent is None else str(step.yield_maximum_percent),
        }
    )
    for flag in _STEP_FLAGS:
        if getattr(step, flag):
            values[flag] = "on"
    for kind in step.equipment_types:
        values.add("equipment_types", kind.value)
    return values


def _step_context(step: MbrStep) -> dict[str, Any]:
    return {
        "step": step,
        "version": step.version,
        "stage_options": TYPICAL_STAGES,
        "equipment_options": [(kind.value, kind.value.capitalize()) for kind in EquipmentType],
        "locked": versioning.locked_reason(step.version),
    }


@blueprint.route("/mbr-steps/<int:step_id>/edit", methods=["GET", "POST"])
@allow(AUTHORS)
def edit_mbr_step(step_id: int) -> Any:
    db = get_session()
    context = _step_context(masters_service.get_mbr_step(db, step_id))
    if request.method == "GET":
        return render_template(
            "batch_records/mbr_step_edit.html", errors={}, form=_step_values(context["step"]), **context
        )
    step = context["step"]
    with on_refusal_show("batch_records/mbr_step_edit.html", **context):
        data = load_input(schemas.StepUpdateSchema())
        reason = data.pop("reason")
        masters_service.update_step(db, step, masters_service.StepDesignInput(**data), reason=reason)
    flash(f"Step {step.position} ({step.title}) is updated.", "success")
    return redirect(url_for("batch_records.mbr_version", version_id=step.version_id), 303)
