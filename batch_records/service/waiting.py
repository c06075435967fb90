"""What holds a batch up on the floor, and who can unblock it: a hold point QA has not reviewed, a material of the
current step with no usable lot, equipment of the current step with no usable item.

Found for the batches a page shows in a fixed number of queries (the batch list, the batch and step pages).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from batch_records.models import Batch, BatchMaterial, BatchStatus, BatchStep, StepStatus
from batch_records.service import execution, step_signatures
from lims import clock
from lims.equipment.models import EquipmentStatus, EquipmentType
from lims.equipment.service import use as equipment_use
from lims.materials import service as materials
from lims.materials.models import LotStatus, MaterialLot

RECEIVE_THEN_RELEASE = "a technician or manager (receive a new lot), then QA (release it)"


@dataclass(frozen=True)
class Waiting:
    """Why a batch cannot go on at ``step``, and who, by role, can unblock it."""

    batch: Batch
    step: BatchStep
    reason: str
    unblocked_by: str

    @property
    def label(self) -> str:
        return f"Batch {self.batch.batch_number}, step {self.step.position}. {self.step.title}"


def waiting_batches(
    session: Session, *, due_soon_days: int, batch_ids: Collection[int] | None = None
) -> dict[int, list[Waiting]]:
    """The batches in progress that cannot go on (of ``batch_ids``, or all), by batch id, with every reason."""
    if batch_ids is not None and not batch_ids:
        return {}
    current = _current_steps(session, batch_ids)
    waits: dict[int, list[Waiting]] = defaultdict(list)
    for hold_point in step_signatures.hold_points_awaiting_review(session, batch_ids):
        step = current.get(hold_point.batch_id)
        if step is not None and hold_point.position < step.position:
            waits[step.batch_id].append(
                Waiting(
                    step.batch,
                    step,
                    f"QA's review of the hold point at step {hold_point.position} ({hold_point.title})",
                    "QA (review the hold point)",
                )
            )
    uses = execution.uses_of_steps(session, list(current.values()))
    for wait in _materials_waiting(session, current.values(), uses) + _equipment_waiting(
        session, current.values(), uses, due_soon_days
    ):
        waits[wait.batch.id].append(wait)
    return dict(waits)


def _current_steps(session: Session, batch_ids: Collection[int] | None) -> dict[int, BatchStep]:
    """The current step of each batch in progress: its first step neither completed nor skipped."""
    open_steps = (
        select(BatchStep.batch_id, func.min(BatchStep.position).label("position"))
        .join(BatchStep.batch)
        .where(Batch.status == BatchStatus.IN_PROGRESS, BatchStep.status.not_in(_DONE))
        .group_by(BatchStep.batch_id)
    )
    if batch_ids is not None:
        open_steps = open_steps.where(BatchStep.batch_id.in_(batch_ids))
    first_open = open_steps.subquery()
    steps = session.scalars(
        select(BatchStep)
        .join(
            first_open,
            (BatchStep.batch_id == first_open.c.batch_id) & (BatchStep.position == first_open.c.position),
        )
        .options(
            selectinload(BatchStep.batch),
            selectinload(BatchStep.materials).selectinload(BatchMaterial.material),
        )
    )
    return {step.batch_id: step for step in steps}


_DONE = (StepStatus.COMPLETED, StepStatus.SKIPPED)


def _materials_waiting(
    session: Session, steps: Collection[BatchStep], uses: dict[int, execution.StepUses]
) -> list[Waiting]:
    """A requirement not yet met whose material has no usable lot."""
    open_requirements = [
        (step, requirement)
        for step in steps
        for requirement in step.materials
        if not any(taken.lot.material_id == requirement.material_id for taken in uses[step.id].consumptions)
    ]
    material_ids = {requirement.material_id for _step, requirement in open_requirements}
    usable = materials.materials_with_a_usable_lot(session, material_ids)
    lacking = material_ids - usable
    lots = materials.lots_to_explain(session, lacking)
    return [
        Waiting(step.batch, step, *_why_no_lot(requirement, lots[requirement.material_id]))
        for step, requirement in open_requirements
        if requirement.material_id in lacking
    ]


def _why_no_lot(requirement: BatchMaterial, lots: list[MaterialLot]) -> tuple[str, str]:
    name = requirement.material.name
    if not lots:
        return f"no lot of {name} received", RECEIVE_THEN_RELEASE
    today = clock.today()
    states = "; ".join(f"lot {lot.lot_number} {materials.usability(lot, today).reason}" for lot in lots)
    releasable = [lot for lot in lots if lot.status == LotStatus.QUARANTINE and lot.expires_on >= today]
    unblocked_by = (
        f"QA (release lot {releasable[0].lot_number}), or {RECEIVE_THEN_RELEASE}"
        if releasable
        else RECEIVE_THEN_RELEASE
    )
    return f"no usable lot of {name} ({states})", unblocked_by


def _equipment_waiting(
    session: Session,
    steps: Collection[BatchStep],
    uses: dict[int, execution.StepUses],
    due_soon_days: int,
) -> list[Waiting]:
    """An equipment type a step needs, not yet recorded, of which no item may be used."""
    open_needs = [
        (step, equipment_type)
        for step in steps
        for equipment_type in step.equipment_types
        if all(use.equipment.equipment_type != equipment_type for use in uses[step.id].equipment)
    ]
    lacking = equipment_use.types_without_usable_item(
        session, {equipment_type for _step, equipment_type in open_needs}, due_soon_days=due_soon_days
    )
    examples = equipment_use.unusable_by_type(session, lacking, due_soon_days=due_soon_days)
    return [
        Waiting(step.batch, step, *_why_no_item(equipment_type, lacking[equipment_type], examples[equipment_type]))
        for step, equipment_type in open_needs
        if equipment_type in lacking
    ]


def _why_no_item(
    equipment_type: EquipmentType, statuses: set[EquipmentStatus], examples: list[equipment_use.EquipmentChoice]
) -> tuple[str, str]:
    if not statuses:
        return f"no {equipment_type.value} registered", "a manager (register one)"
    if statuses <= {EquipmentStatus.RETIRED}:
        unblocked_by = "a manager (register a usable one)"
    elif statuses == {EquipmentStatus.UNDER_MAINTENANCE}:
        unblocked_by = "a technician or manager (close the maintenance)"
    else:
        unblocked_by = "a technician or manager (calibrate it)"
    refusals = "; ".join((example.refusal or "").rstrip(".") for example in examples)
    return f"no usable {equipment_type.value} ({refusals})", unblocked_by
