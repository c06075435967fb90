"""JSON API of executed batches: a client system sees the batches made for its own protocols; staff see all.

A batch belongs to the sponsor of its subject's protocol. A client's token
never learns that another client's batch or subject exists: asking for one
answers 404 exactly as for an id that was never used.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, jsonify, request

from batch_records.models import Batch, BatchStatus, BatchStep
from batch_records.service import batches, release
from lims.access import STAFF, allow
from lims.db import get_session
from lims.identity.models import RoleName
from lims.units.measurement import Measurement
from lims.web import refuse
from protocols import service as protocols

blueprint = Blueprint("batch_records_api", __name__, url_prefix="/api/v1")
READERS = STAFF | {RoleName.CLIENT}
PER_PAGE = 50


def _client_organization_id() -> int | None:
    """The organization whose token is calling, or None for staff (who see every batch)."""
    token = g.get("api_token")
    return None if token is None else token.organization_id


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _amount(measurement: Measurement) -> dict[str, Any]:
    return {"value": format(measurement.value, "f"), "unit": measurement.unit}


def _chain_of_identity(batch: Batch) -> dict[str, Any]:
    return {"subject": batch.subject.code, "protocol": batch.subject.protocol.number,
            "starting_material": batch.starting_material_identity}


def _summary(batch: Batch) -> dict[str, Any]:
    return {"id": batch.id, "batch_number": batch.batch_number, "product": batch.product, "mbr": batch.mbr_label,
            "status": batch.status.value, "created_at": _iso(batch.created_at),
            "chain_of_identity": _chain_of_identity(batch)}


def _step(step: BatchStep) -> dict[str, Any]:
    entries = []
    for parameter in step.parameters:
        entry = parameter.current_entry
        if entry is not None:
            entries.append({"parameter": parameter.name, **_amount(entry.value),
                            "within_limits": entry.within_limits, "corrected": entry.replaces_id is not None})
    return {"position": step.position, "stage": step.stage, "title": step.title, "status": step.status.value,
            "performed_by": step.performed_by.full_name if step.performed_by is not None else None,
            "started_at": _iso(step.started_at), "completed_at": _iso(step.completed_at),
            "skip_reason": step.skip_reason, "entries": entries}


def _bad_request(message: str) -> Any:
    return refuse(400, message)


@blueprint.get("/batches")
@allow(READERS)
def index() -> Any:
    status_text = request.args.get("status", "").strip()
    status = None
    if status_text:
        try:
            status = BatchStatus(status_text)
        except ValueError:
            known = ", ".join(f"'{value.value}'" for value in BatchStatus)
            return _bad_request(f"There is no batch status '{status_text[:40]}'; use one of {known}.")
    page_text = request.args.get("page", "1").strip()
    if re.fullmatch(r"[0-9]{1,9}", page_text) is None or int(page_text) < 1:
        return _bad_request(f"The page must be a whole number from 1 up, not '{page_text[:40]}'.")
    # A page past the end answers the last page; "page" says which one was sent.
    found = batches.list_batches(get_session(), status=status, sponsor_id=_client_organization_id(),
                                 page=int(page_text), per_page=PER_PAGE)
    return jsonify(items=[_summary(batch) for batch in found.items], page=found.number, pages=found.pages,
                   total=found.total, next_page=found.number + 1 if found.has_next else None)


@blueprint.get("/batches/<int:batch_id>")
@allow(READERS)
def show(batch_id: int) -> Any:
    db = get_session()
    batch = batches.get_batch(db, batch_id, sponsor_id=_client_organization_id())
    # The review loads the whole record in a bounded number of queries, whatever the batch's size.
    record = release.review(db, batch_id)
    return jsonify({
        **_summary(batch),
        "disposition_reason": batch.disposition_reason, "disposition_at": _iso(batch.disposition_at),
        "steps": [_step(step.step) for step in record.steps],
        "release_tests": [{
            "test": state.test.definition.name, "specification": state.test.specification,
            "result": state.result.reported if state.result is not None else None,
            "conforms": state.result.conforms if state.result is not None else None,
            "verified": state.verified,
        } for state in record.release_tests],
        "deviations": [{"number": deviation.number,
                        "category": deviation.category.value if deviation.category is not None else None,
                        "status": deviation.status.value, "raised_at": _iso(deviation.raised_at)}
                       for deviation in batch.deviations],
    })


@blueprint.get("/subjects/<int:subject_id>/batches")
@allow(READERS)
def subject_batches(subject_id: int) -> Any:
    db = get_session()
    subject = protocols.get_subject(db, subject_id, sponsor_id=_client_organization_id())
    return jsonify(subject={"id": subject.id, "code": subject.code, "protocol": subject.protocol.number,
                            "site": subject.site},
                   batches=[{"id": batch.id, "batch_number": batch.batch_number, "product": batch.product,
                             "mbr": batch.mbr_label, "status": batch.status.value,
                             "starting_material": batch.starting_material_identity,
                             "created_at": _iso(batch.created_at)}
                            for batch in batches.batches_of_subject(db, subject)])
