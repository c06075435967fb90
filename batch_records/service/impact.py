"""Batches in out-of-tolerance impact assessments: the equipment area lists the batches its affected uses served
(through the ``ImpactedRecords`` declaration), an open assessment that lists a use in a batch blocks its release,
and QA's verdict of impact raises a deviation on the batch."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from batch_records.models import BatchStep
from batch_records.service import batches, deviations
from batch_records.service.execution import BATCH_STEP
from lims.equipment.models import EquipmentUse, ImpactAssessment
from lims.equipment.service import impact_assessments
from lims.identity.models import User
from lims.registry import ImpactedRecord, ImpactedRecords

BATCH = "batch"


def batches_of_uses(session: Session, record_ids: list[str]) -> dict[str, ImpactedRecord]:
    """The batch of each step the uses were recorded against, by the step's id."""
    steps = session.scalars(
        select(BatchStep)
        .where(BatchStep.id.in_([int(record_id) for record_id in record_ids if record_id.isdigit()]))
        .options(selectinload(BatchStep.batch))
    )
    return {
        str(step.id): ImpactedRecord(BATCH, str(step.batch_id), f"Batch {step.batch.batch_number}") for step in steps
    }


def raise_impact_deviation(session: Session, batch_key: str, description: str, user: User) -> None:
    deviations.raise_deviation(session, batches.get_batch(session, int(batch_key)), description=description, user=user)


IMPACTED_BATCHES = ImpactedRecords(
    kind=BATCH, use_record_type=BATCH_STEP, find=batches_of_uses, on_impact=raise_impact_deviation
)


def open_assessments_of_uses(session: Session, uses: Sequence[EquipmentUse]) -> list[ImpactAssessment]:
    """The open assessments that list any of a batch's equipment uses."""
    return impact_assessments.open_assessments_listing(session, uses)


def describe_blocker(assessment: ImpactAssessment) -> str:
    return (
        f"The out-of-tolerance impact assessment of {assessment.equipment.asset_tag} ({assessment.equipment.name}) "
        "lists a use in this batch and is open"
    )
