"""Pages of deviations: the list, raising one on a batch, and a deviation's investigation."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from batch_records import schemas
from batch_records.models import BatchStep, Deviation, DeviationStatus
from batch_records.service import batches
from batch_records.service import deviations as deviations_service
from batch_records.views import blueprint
from batch_records.views.batches import CATEGORY_OPTIONS, batch_context
from lims.access import STAFF, allow
from lims.db import get_child, get_session
from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.web import load_input, on_refusal_show, refusals_answered, refuse

INVESTIGATORS = frozenset({RoleName.QA, RoleName.MANAGER})


@blueprint.route("/deviations")
@allow(STAFF)
def deviations() -> Any:
    status_text = request.args.get("status", "open")
    statuses = {status.value: status for status in DeviationStatus}
    if status_text and status_text not in statuses:
        abort(400, f"{status_text!r} is not a deviation status.")
    schema = schemas.ListPageSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    page = deviations_service.deviations_after(get_session(), status=statuses.get(status_text), after=data["cursor"])
    return render_template(
        "batch_records/deviations.html",
        status=status_text,
        deviations=page.items,
        first_page=data["cursor"] is None,
        next_cursor=schema.fields["cursor"].serialize("next_key", page),
    )


@blueprint.route("/batches/<int:batch_id>/deviations", methods=["POST"])
@allow(STAFF)
def raise_deviation(batch_id: int) -> Any:
    db = get_session()
    batch = batches.get_batch(db, batch_id)
    with on_refusal_show("batch_records/batch.html", lambda: batch_context(batch_id)):
        data = load_input(schemas.DeviationSchema())
        step = (
            get_child(
                db,
                BatchStep,
                data["step_id"],
                parent=batch,
                label="step",
                parent_label=f"Batch {batch.batch_number}",
                field="step_id",
            )
            if data["step_id"]
            else None
        )
        deviation = deviations_service.raise_deviation(
            db, batch, description=data["description"], category=data["category"], step=step, user=current_user
        )
    flash(f"Deviation {deviation.number} raised.", "success")
    return redirect(url_for("batch_records.deviation", deviation_id=deviation.id), 303)


def _deviation_context(deviation_id: int) -> dict[str, Any]:
    db = get_session()
    deviation = deviations_service.get_deviation(db, deviation_id)
    return {
        "deviation": deviation,
        "batch": deviation.batch,
        "signatures": signatures.signatures_of(db, deviation),
        "missing": deviations_service.missing_for_closure(deviation),
        "category_options": CATEGORY_OPTIONS,
    }


def _investigation_values(deviation: Deviation) -> MultiDict[str, str]:
    """The investigation as recorded so far, as its form shows it."""
    return MultiDict(
        {
            name: getattr(deviation, name) or ""
            for name in ("investigation", "root_cause", "other_batches_assessed", "conclusion", "capa")
        }
        | {"category": deviation.category.value if deviation.category else ""}
    )


@blueprint.route("/deviations/<int:deviation_id>")
@allow(STAFF)
def deviation(deviation_id: int) -> Any:
    context = _deviation_context(deviation_id)
    return render_template(
        "batch_records/deviation.html", errors={}, form=_investigation_values(context["deviation"]), **context
    )


@blueprint.route("/deviations/<int:deviation_id>/investigation", methods=["POST"])
@allow(INVESTIGATORS)
def record_investigation(deviation_id: int) -> Any:
    db = get_session()
    deviation = deviations_service.get_deviation(db, deviation_id)
    with on_refusal_show("batch_records/deviation.html", lambda: _deviation_context(deviation_id)):
        data = load_input(schemas.InvestigationSchema())
        reason = data.pop("reason")
        deviations_service.record_investigation(
            db, deviation, deviations_service.InvestigationInput(**data), reason=reason
        )
    flash(f"Investigation of {deviation.number} saved.", "success")
    return redirect(url_for("batch_records.deviation", deviation_id=deviation_id), 303)
