"""How the audit trail names batch records: by batch number, and a step by its position and title."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from batch_records.models import Batch, BatchParameter, BatchStep, Deviation
from lims.audit.naming import named_by_column, record_ids
from lims.registry import RecordName, RecordNames

BATCHES = named_by_column(Batch, "batch", Batch.batch_number, identifier_hint="a batch number")
DEVIATIONS = named_by_column(Deviation, "deviation", Deviation.number, identifier_hint="a deviation number")


def _step_names(session: Session, ids: list[str]) -> Mapping[str, RecordName]:
    rows = session.execute(
        select(BatchStep.id, BatchStep.position, BatchStep.title, Batch.batch_number)
        .join(Batch, Batch.id == BatchStep.batch_id)
        .where(BatchStep.id.in_(record_ids(ids)))
    )
    return {
        str(step_id): RecordName(f"{position}. {title} ({batch_number})", f"{position}. {title}")
        for step_id, position, title, batch_number in rows
    }


def _parameter_names(session: Session, ids: list[str]) -> Mapping[str, RecordName]:
    rows = session.execute(
        select(BatchParameter.id, BatchParameter.name, BatchStep.position, Batch.batch_number)
        .join(BatchStep, BatchStep.id == BatchParameter.step_id)
        .join(Batch, Batch.id == BatchStep.batch_id)
        .where(BatchParameter.id.in_(record_ids(ids)))
    )
    return {
        str(parameter_id): RecordName(f"{name} (step {position}, {batch_number})", name)
        for parameter_id, name, position, batch_number in rows
    }


STEPS = RecordNames("batch_step", "step", _step_names)
PARAMETERS = RecordNames("batch_parameter", "parameter", _parameter_names)
