"""Pages of the work on a batch's steps: a step on the floor (entries, corrections, equipment, lots, yield,
skipping) and the steps waiting for a second person's verification or QA's review of a hold point."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from batch_records import schemas
from batch_records.models import BatchMaterial, BatchStep, StepStatus
from batch_records.service import execution, release, step_signatures, step_uses, waiting
from batch_records.views import batches as batches_views
from batch_records.views import blueprint
from batch_records.views.batches import OPERATORS
from lims import pickers
from lims.access import STAFF, allow
from lims.db import get_child, get_session
from lims.equipment.service import inventory as equipment_service_inventory
from lims.materials import service as materials
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.web import RepeatedForm, load_input, on_refusal_show, refusals_answered, refuse


def _due_soon_days() -> int:
    return current_app.config["CALIBRATION_DUE_SOON_DAYS"]


@blueprint.route("/batch-steps/awaiting/<meaning>")
@allow(STAFF)
def steps_to_sign(meaning: str) -> Any:
    """The steps waiting for a second person's verification, or for QA's review of a hold point."""
    choices = {
        SignatureMeaning.VERIFIED.value: SignatureMeaning.VERIFIED,
        SignatureMeaning.REVIEWED.value: SignatureMeaning.REVIEWED,
    }
    if meaning not in choices:
        abort(404, "Steps wait for verification or for a hold-point review only.")
    schema = schemas.ListPageSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    # Verification is by someone other than who did the step; a hold point's review is QA's whoever did it.
    waiting = step_signatures.steps_awaiting_signature(
        get_session(),
        choices[meaning],
        for_user=current_user if choices[meaning] == SignatureMeaning.VERIFIED else None,
        after=data["cursor"],
    )
    return render_template(
        "batch_records/steps_to_sign.html",
        steps=waiting.items,
        meaning=choices[meaning],
        first_page=data["cursor"] is None,
        next_cursor=schema.fields["cursor"].serialize("next_key", waiting),
    )


def _step_context(step_id: int) -> dict[str, Any]:
    """What the step's page shows, but the form and its errors (forms posted from the page show there again)."""
    db = get_session()
    step = execution.get_batch_step_for_page(db, step_id)
    record = release.StepRecord(step, step_uses.uses_of_steps(db, [step])[step.id], signatures.signatures_of(db, step))
    workable = step.status in {StepStatus.PENDING, StepStatus.IN_PROGRESS} and step is execution.current_step(
        step.batch
    )
    return {
        "step": step,
        "batch": step.batch,
        "record": record,
        "workable": workable,
        "missing": step_uses.missing_for_completion(step, record.uses) if workable else [],
        **(_pickers(step, record) if workable else {"equipment_pickers": {}, "lot_pickers": {}}),
        "material_taken": {
            requirement.id: step_uses.taken_for(requirement, record.uses) for requirement in step.materials
        },
        "material_rest": {
            requirement.id: step_uses.rest_of(requirement, record.uses) for requirement in step.materials
        },
        "waiting": [
            wait
            for wait in waiting.waiting_batches(
                db, batch_ids=[step.batch_id], due_soon_days=_due_soon_days(), current_steps={step.batch_id: step}
            ).get(step.batch_id, [])
        ]
        if workable
        else [],
        "next_step": execution.current_step(step.batch) if execution.is_done(step) else None,
        "awaiting_verification": step.status == StepStatus.COMPLETED
        and step.second_person_verification
        and not signatures.holding(record.signatures, SignatureMeaning.VERIFIED),
        "awaiting_review": step.status == StepStatus.COMPLETED
        and step.hold_point
        and not signatures.holding(record.signatures, SignatureMeaning.REVIEWED),
        "yield_percent": execution.yield_percent(step),
        "yield_ok": execution.yield_within_limits(step),
    }


def _pickers(step: BatchStep, record: release.StepRecord) -> dict[str, Any]:
    """A picker for each equipment type the step still needs and each material not yet taken in full."""
    search = pickers.picker_search()
    used_types = {use.equipment.equipment_type for use in record.uses.equipment}
    return {
        "equipment_pickers": {
            equipment_type: batches_views.equipment_picker(
                f"equipment-{equipment_type.name.lower()}",
                equipment_type,
                search,
                label=f"{equipment_type.value.capitalize()} used",
                name="equipment_id",
            )
            for equipment_type in step.equipment_types
            if equipment_type not in used_types
        },
        "lot_pickers": {
            requirement.id: _lot_picker(requirement, search)
            for requirement in step.materials
            if step_uses.taken_for(requirement, record.uses).value < requirement.quantity.value
        },
    }


def _lot_picker(requirement: BatchMaterial, search: pickers.PickerSearch) -> pickers.Picker:
    """The material's lots usable today, first to expire first, searched by lot number; the others named with why."""
    db = get_session()
    return pickers.picker(
        f"lot-{requirement.id}",
        search,
        schemas.LOT_PICKER_CURSOR,
        lambda text, after: materials.usable_lots(db, requirement.material, text=text, after=after),
        lambda lot: (lot.id, f"{lot.lot_number} — {lot.quantity_remaining} left, expires {lot.expires_on.isoformat()}"),
        refused=lambda text: [
            f"{lot.lot_number}: {state.reason}"
            for lot, state in materials.unusable_lots(db, requirement.material, text=text)
        ],
        label="Lot",
        searched_in="lot or supplier lot number",
        name="lot_id",
        none_text="No usable lot",
    )


@blueprint.route("/batch-steps/<int:step_id>")
@allow(STAFF)
def batch_step(step_id: int) -> Any:
    return render_template("batch_records/batch_step.html", errors={}, form=MultiDict(), **_step_context(step_id))


def _back_to_step(step_id: int, message: str) -> Any:
    flash(message, "success")
    return redirect(url_for("batch_records.batch_step", step_id=step_id), 303)


def _observed_at(naive: Any) -> Any:
    """A time typed on the floor is local wall-clock time in the lab's display time zone."""
    return None if naive is None else naive.replace(tzinfo=ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))


@blueprint.route("/batch-steps/<int:step_id>/entries", methods=["POST"])
@allow(OPERATORS)
def record_entries(step_id: int) -> Any:
    """Record the values typed for the step's parameters; a field left empty is a value not reported now."""
    db = get_session()
    step = execution.get_batch_step(db, step_id)
    typed = {
        parameter.id: value
        for parameter in step.parameters
        if (value := request.form.get(f"parameter-{parameter.id}", "").strip())
    }
    with on_refusal_show("batch_records/batch_step.html", lambda: _step_context(step_id)):
        late = load_input(schemas.LateEntrySchema())
        entries = execution.record_entries(
            db,
            step,
            typed,
            user=current_user,
            late_reason=late["late_reason"],
            observed_at=_observed_at(late["observed_at"]),
        )
    outside = [entry for entry in entries if not entry.within_limits]
    if outside:
        flash(
            f"{', '.join(entry.parameter.name for entry in outside)} outside limits: a deviation is raised and QA "
            "is told. Carry on as the instruction says.",
            "warning",
        )
    return _back_to_step(step_id, f"{len(entries)} value{'s' if len(entries) != 1 else ''} recorded.")


@blueprint.route("/batch-entries/<int:entry_id>/correct", methods=["POST"])
@allow(OPERATORS)
def correct_entry(entry_id: int) -> Any:
    db = get_session()
    entry = execution.get_entry(db, entry_id)
    step_id = entry.parameter.step_id
    correction = RepeatedForm(f"entry-{entry_id}-", schemas.CorrectionSchema)
    with on_refusal_show("batch_records/batch_step.html", lambda: _step_context(step_id), repeated=correction):
        data = correction.load()
        execution.correct_entry(db, entry, data["value"], reason=data["reason"], user=current_user)
    return _back_to_step(step_id, f"{entry.parameter.name} corrected; the original value stays on the record.")


@blueprint.route("/batch-steps/<int:step_id>/equipment", methods=["POST"])
@allow(OPERATORS)
def record_equipment(step_id: int) -> Any:
    db = get_session()
    step = execution.get_batch_step(db, step_id)
    with on_refusal_show("batch_records/batch_step.html", lambda: _step_context(step_id)):
        data = load_input(schemas.EquipmentUseSchema())
        equipment = equipment_service_inventory.get_equipment(db, data["equipment_id"])
        execution.record_equipment_use(db, step, equipment, user=current_user, due_soon_days=_due_soon_days())
    return _back_to_step(step_id, f"Use of {equipment.asset_tag} recorded.")


@blueprint.route("/batch-steps/<int:step_id>/materials", methods=["POST"])
@allow(OPERATORS)
def record_material(step_id: int) -> Any:
    db = get_session()
    step = execution.get_batch_step(db, step_id)
    with on_refusal_show("batch_records/batch_step.html", lambda: _step_context(step_id)):
        data = load_input(schemas.MaterialUseSchema())
        requirement = get_child(
            db,
            BatchMaterial,
            data["requirement_id"],
            parent=step,
            label="material requirement",
            parent_label=f"Step {step.position}",
            field="requirement_id",
        )
        lot = materials.get_lot(db, data["lot_id"])
        execution.record_material_use(db, step, requirement, lot, data["quantity"], user=current_user)
    return _back_to_step(step_id, f"{data['quantity']} taken from lot {lot.lot_number}.")


@blueprint.route("/batch-steps/<int:step_id>/yield", methods=["POST"])
@allow(OPERATORS)
def record_yield(step_id: int) -> Any:
    db = get_session()
    step = execution.get_batch_step(db, step_id)
    with on_refusal_show("batch_records/batch_step.html", lambda: _step_context(step_id)):
        execution.record_yield(db, step, load_input(schemas.YieldSchema())["actual_yield"], user=current_user)
    return _back_to_step(step_id, f"Yield recorded: {execution.yield_percent(step)} % of theoretical.")


@blueprint.route("/batch-steps/<int:step_id>/skip", methods=["POST"])
@allow(OPERATORS)
def skip_step(step_id: int) -> Any:
    db = get_session()
    step = execution.get_batch_step(db, step_id)
    with on_refusal_show("batch_records/batch_step.html", lambda: _step_context(step_id)):
        data = load_input(schemas.SkipSchema())
        step_signatures.skip_step(
            db,
            step,
            reason=data["reason"],
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash(f"Step {step.position} skipped and signed.", "success")
    return redirect(url_for("batch_records.batch", batch_id=step.batch_id), 303)
