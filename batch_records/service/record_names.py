"""How the audit trail names batch records: by batch number, and a step by its position and title."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, String, cast, select

from batch_records.models import Batch, BatchParameter, BatchStep, Deviation
from lims.audit.naming import named_by_column
from lims.registry import RecordNames

BATCHES = named_by_column(Batch, "batch", Batch.batch_number, identifier_hint="a batch number")
DEVIATIONS = named_by_column(Deviation, "deviation", Deviation.number, identifier_hint="a deviation number")


def _step_names(ids: list[int]) -> Select[*tuple[Any, ...]]:
    position = cast(BatchStep.position, String)
    return (
        select(
            BatchStep.id,
            position + ". " + BatchStep.title + " (" + Batch.batch_number + ")",
            position + ". " + BatchStep.title,
        )
        .join(Batch, Batch.id == BatchStep.batch_id)
        .where(BatchStep.id.in_(ids))
    )


def _parameter_names(ids: list[int]) -> Select[*tuple[Any, ...]]:
    return (
        select(
            BatchParameter.id,
            BatchParameter.name + " (step " + cast(BatchStep.position, String) + ", " + Batch.batch_number + ")",
            BatchParameter.name,
        )
        .join(BatchStep, BatchStep.id == BatchParameter.step_id)
        .join(Batch, Batch.id == BatchStep.batch_id)
        .where(BatchParameter.id.in_(ids))
    )


STEPS = RecordNames("batch_step", "step", _step_names)
PARAMETERS = RecordNames("batch_parameter", "parameter", _parameter_names)
