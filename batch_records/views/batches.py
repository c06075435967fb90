"""Pages of executed batches: the list, starting one, and a batch's page."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from batch_records import schemas
from batch_records.models import Batch, BatchStatus, DeviationCategory
from batch_records.service import batches as batches_service
from batch_records.service import execution, masters, release, waiting
from batch_records.views import blueprint
from lims import registry
from lims.access import STAFF, allow, may_use
from lims.db import get_session
from lims.equipment.models import EquipmentType
from lims.equipment.service import use as equipment_use
from lims.identifiers import IdentifierRule
from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.testing import service as testing
from lims.web import load_input, on_refusal_show, refusals_answered, refuse
from protocols.service import protocols as protocol_service
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
    return render_template(
        "batch_records/batches.html",
        page=page,
        first_page=data["cursor"] is None,
        next_cursor=schema.fields["cursor"].serialize("next_key", page),
        status=status_text,
        current_steps={batch.id: execution.current_step(batch) for batch in page.items},
        waiting=waiting.waiting_batches(
            get_session(),
            batch_ids=[batch.id for batch in page.items],
            due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"],
        ),
        status_options=[(status.value, status.value.capitalize()) for status in BatchStatus],
    )


def _start_context() -> dict[str, Any]:
    db = get_session()
    subjects = [
        subject
        for protocol in protocol_service.list_protocols(db)
        for subject in subjects_service.subjects_of(db, protocol)
    ]
    return {
        "versions": [
            (version.id, f"{version.label} — {version.master.product}")
            for version in masters.effective_mbr_versions(db)
        ],
        "subjects": [
            (subject.id, f"{subject.code} ({subject.protocol.number}, site {subject.site})") for subject in subjects
        ],
        "identity_hint": f"As printed on the apheresis bag: {_identity_rule().describes}. Type it or scan its bar "
        "code; it is checked against every other batch.",
    }


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
        **_instrument_choices(db, instrument_types),
        "qc_sampling_step": release.qc_sampling_step(batch),
        "qc_samples_taken": release.qc_samples_taken(batch),
        "signatures": signatures.signatures_of(db, batch),
        # Documents other areas issued about the batch (its certificate's versions), for those who may open them.
        "issued_documents": [
            link
            for link in registry.current().documents_issued_about(db, Batch.__tablename__, str(batch.id))
            if may_use(link.endpoint)
        ],
        "category_options": CATEGORY_OPTIONS,
        "step_options": [(step.id, f"{step.position}. {step.title}") for step in batch.steps],
    }


def _instrument_choices(db: Session, kinds: set[EquipmentType]) -> dict[str, Any]:
    """Per instrument type a release test names: the usable items to choose from, and why the others are not."""
    due_soon_days = current_app.config["CALIBRATION_DUE_SOON_DAYS"]
    choices = {kind: equipment_use.equipment_choices(db, kind, due_soon_days=due_soon_days) for kind in kinds}
    return {
        "instrument_options": {
            kind: [
                (choice.equipment.id, f"{choice.equipment.asset_tag} — {choice.equipment.name}")
                for choice in offered
                if choice.refusal is None
            ]
            for kind, offered in choices.items()
        },
        "instrument_refusals": {
            kind: [choice.refusal for choice in offered if choice.refusal is not None]
            for kind, offered in choices.items()
        },
    }


@blueprint.route("/batches/<int:batch_id>")
@allow(STAFF)
def batch(batch_id: int) -> Any:
    return render_template("batch_records/batch.html", errors={}, form=MultiDict(), **batch_context(batch_id))
