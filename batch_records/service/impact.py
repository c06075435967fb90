"""Batches in out-of-tolerance impact assessments: the equipment area lists the batches its affected uses served
(through the ``ImpactedRecords`` declaration: uses in its steps and the instruments of its release results), an
open assessment that lists a use in a batch blocks its release,
and QA's verdict of impact raises a deviation on the batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, func, select
from sqlalchemy.orm import Session, selectinload

from batch_records.models import Batch, BatchStep
from batch_records.service import batches, deviations
from batch_records.service.step_uses import BATCH_STEP
from lims.equipment.models import EquipmentUse, ImpactAssessment
from lims.equipment.service import impact_assessments
from lims.identity.models import User
from lims.registry import ImpactedRecord, ImpactedRecords
from lims.testing import service as testing
from lims.testing.models import TestResult

BATCH = "batch"


def batches_of_step_uses(session: Session, record_ids: list[str]) -> dict[str, ImpactedRecord]:
    """The batch of each step the uses were recorded against, by the step's id."""
    steps = session.scalars(
        select(BatchStep).where(BatchStep.id.in_(_ids(record_ids))).options(selectinload(BatchStep.batch))
    )
    return {str(step.id): _impacted(step.batch) for step in steps}


def batches_of_result_uses(session: Session, record_ids: list[str]) -> dict[str, ImpactedRecord]:
    """The batch each release result whose instrument the uses were recorded for tested, by the result's id (one
    query; results of anything but a batch are not the batches' business)."""
    rows = session.execute(
        select(TestResult.id, Batch)
        .join(Batch, TestResult.tested_id == func.cast(Batch.id, String))
        .where(TestResult.tested_type == BATCH, TestResult.id.in_(_ids(record_ids)))
    )
    return {str(result_id): _impacted(batch) for result_id, batch in rows}


def _ids(record_ids: list[str]) -> list[int]:
    return [int(record_id) for record_id in record_ids if record_id.isdigit()]


def _impacted(batch: Batch) -> ImpactedRecord:
    return ImpactedRecord(BATCH, str(batch.id), f"Batch {batch.batch_number}")


def raise_impact_deviation(session: Session, batch_key: str, description: str, user: User) -> None:
    deviations.raise_deviation(session, batches.get_batch(session, int(batch_key)), description=description, user=user)


IMPACTED_BATCHES = ImpactedRecords(
    kind=BATCH,
    finders={BATCH_STEP: batches_of_step_uses, testing.INSTRUMENT_USE_RECORD_TYPE: batches_of_result_uses},
    on_impact=raise_impact_deviation,
)


def open_assessments_of_uses(session: Session, uses: Sequence[EquipmentUse]) -> list[ImpactAssessment]:
    """The open assessments that list any of a batch's equipment uses (in its steps and for its results)."""
    return impact_assessments.open_assessments_listing(session, uses)


def describe_blocker(assessment: ImpactAssessment) -> str:
    return (
        f"The out-of-tolerance impact assessment of {assessment.equipment.asset_tag} ({assessment.equipment.name}) "
        "lists a use in this batch and is open"
    )
