"""Pages of executed batches: the list, starting one, and a batch's page."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from batch_records import schemas
from batch_records.models import Batch, BatchStatus, DeviationCategory
from batch_records.service import batches as batches_service
from batch_records.service import execution, masters, release, waiting
from batch_records.views import blueprint
from lims import pickers, registry
from lims.access import STAFF, allow, may_use
from lims.audit.chain import entity_key
from lims.db import get_session
from lims.equipment.models import Equipment, EquipmentStatus, EquipmentType
from lims.equipment.service import use as equipment_use
from lims.identifiers import IdentifierRule
from lims.identity.models import RoleName
from lims.review.service import trail as trail_reviews
from lims.signatures import service as signatures
from lims.testing import service as testing
from lims.web import load_input, on_refusal_show, refusals_answered, refuse
from protocols.models import Subject
from protocols.service import subjects as subjects_service

OPERATORS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})
BATCHES_PER_PAGE = 50
CATEGORY_OPTIONS = [(category.value, category.value.capitalize()) for category in DeviationCategory]


@blueprint.route("/batches")
@allow(STAFF)
def batches() -> Any:
    status_text = request.args.get("status", "")
    statuses = {status.value: status for status in BatchStatus}
    if status_text and status_text not in statuses:
        abort(400, f"{status_text!r} is not a batch status.")
    schema = schemas.ListPageSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    page = batches_service.batches_after(
        get_session(), status=statuses.get(status_text), after=data["cursor"], limit=BATCHES_PER_PAGE
    )
    current_steps = execution.current_steps_of(get_session(), [batch.id for batch in page.items])
    return render_template(
        "batch_records/batches.html",
        page=page,
        first_page=data["cursor"] is None,
        next_cursor=schema.fields["cursor"].serialize("next_key", page),
        status=status_text,
        current_steps=current_steps,
        waiting=waiting.waiting_batches(
            get_session(),
            batch_ids=[batch.id for batch in page.items],
            current_steps=current_steps,
            due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"],
        ),
        status_options=[(status.value, status.value.capitalize()) for status in BatchStatus],
    )


def _start_context() -> dict[str, Any]:
    db = get_session()

    def described(subject: Subject) -> tuple[int, str]:
        return subject.id, f"{subject.code} ({subject.protocol.number}, site {subject.site})"

    posted = _chosen_subject(db) if request.method == "POST" else None
    subjects = pickers.picker(
        "subject",
        pickers.picker_search(),
        schemas.SUBJECT_PICKER_CURSOR,
        lambda text, after: subjects_service.find_subjects(db, text=text, after=after),
        described,
        label="Subject (patient or donor)",
        searched_in="subject code or protocol number",
        name="subject_id",
        none_text="No subject",
    ).keeping(described(posted) if posted else None)
    return {
        "versions": [
            (version.id, f"{version.label} — {version.master.product}")
            for version in masters.effective_mbr_versions(db)
        ],
        "subject_picker": subjects,
        "identity_hint": f"As printed on the apheresis bag: {_identity_rule().describes}. Type it or scan its bar "
        "code; it is checked against every other batch.",
    }


def _chosen_subject(db: Session) -> Subject | None:
    try:
        chosen = load_input(schemas.ChosenSubjectSchema())["subject_id"]
    except ValidationError:
        return None
    return None if chosen is None else db.get(Subject, chosen)


def _identity_rule() -> IdentifierRule:
    return IdentifierRule(current_app.config["STARTING_MATERIAL_ID_PATTERN"])


@blueprint.route("/batches/new", methods=["GET", "POST"])
@allow(OPERATORS)
def new_batch() -> Any:
    if request.method == "GET":
        return render_template("batch_records/batch_new.html", errors={}, form=request.args, **_start_context())
    db = get_session()
    with on_refusal_show("batch_records/batch_new.html", _start_context):
        data = load_input(schemas.StartBatchSchema())
        version = masters.get_mbr_version(db, data["mbr_version_id"])
        subject = subjects_service.get_subject(db, data["subject_id"])
        batch = batches_service.start_batch(
            db,
            version,
            subject=subject,
            user=current_user,
            starting_material_identity=data["starting_material_identity"],
            identity_rule=_identity_rule(),
        )
    flash(f"Batch {batch.batch_number} is started from {batch.mbr_label}.", "success")
    return redirect(url_for("batch_records.batch", batch_id=batch.id), 303)


def batch_context(batch_id: int) -> dict[str, Any]:
    """What the batch's page shows, but the form and its errors (forms posted from the page show there again)."""
    db = get_session()
    batch = batches_service.get_batch_for_page(db, batch_id)
    release_tests = release.release_test_states(db, batch)
    results = {state.result.id: state for state in release_tests if state.result is not None}
    instrument_types = {
        state.test.definition.instrument_type
        for state in release_tests
        if state.test.definition.instrument_type is not None
    }
    return {
        "batch": batch,
        "current": execution.current_step(batch),
        "waiting": waiting.waiting_batches(
            db, batch_ids=[batch.id], due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"]
        ).get(batch.id, []),
        "release_tests": release_tests,
        # Asked for every result at once: the page offers each result's verification to whoever may sign it.
        "verifiable_results": testing.verifiable_results(
            db,
            [state.result for state in results.values() if state.result is not None],
            current_user,
            {result_id: state.signatures for result_id, state in results.items()},
        ),
        "instrument_pickers": _instrument_pickers(instrument_types),
        "qc_sampling_step": release.qc_sampling_step(batch),
        "qc_samples_taken": release.qc_samples_taken(batch),
        "signatures": signatures.signatures_of(db, batch),
        "trail_review": trail_reviews.latest_record_review(db, entity_key(batch)),
        # Documents other areas issued about the batch (its certificate's versions), for those who may open them.
        "issued_documents": [
            link
            for link in registry.current().documents_issued_about(db, Batch.__tablename__, str(batch.id))
            if may_use(link.endpoint)
        ],
        "category_options": CATEGORY_OPTIONS,
        "step_options": [(step.id, f"{step.position}. {step.title}") for step in batch.steps],
    }


def _instrument_pickers(kinds: set[EquipmentType]) -> dict[EquipmentType, pickers.Picker]:
    """Per instrument type a release test names: the usable items to choose from, and why others are not."""
    search = pickers.picker_search()
    return {
        kind: equipment_picker(
            f"instrument-{kind.name.lower()}", kind, search, label=f"Instrument ({kind.value})", name="instrument_id"
        )
        for kind in kinds
    }


def equipment_picker(
    key: str, equipment_type: EquipmentType, search: pickers.PickerSearch, *, label: str, name: str
) -> pickers.Picker:
    """The items of a type that may be used now, searched by asset tag or name; the others named with why."""
    db = get_session()

    def option(row: tuple[Equipment, EquipmentStatus]) -> tuple[int, str]:
        item, status = row
        due = "" if status == EquipmentStatus.IN_SERVICE else f" ({status.value})"
        return item.id, f"{item.asset_tag} — {item.name}{due}"

    return pickers.picker(
        key,
        search,
        schemas.EQUIPMENT_PICKER_CURSOR,
        lambda text, after: equipment_use.usable_items(
            db, equipment_type, due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"], text=text, after=after
        ),
        option,
        refused=lambda text: [
            choice.refusal or ""
            for choice in equipment_use.unusable_items(
                db, equipment_type, due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"], text=text
            )
        ],
        label=label,
        searched_in="asset tag or name",
        name=name,
        none_text=f"No usable {equipment_type.value}",
    )


@blueprint.route("/batches/<int:batch_id>")
@allow(STAFF)
def batch(batch_id: int) -> Any:
    return render_template("batch_records/batch.html", errors={}, form=MultiDict(), **batch_context(batch_id))
