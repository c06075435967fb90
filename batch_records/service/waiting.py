"""What holds a batch up on the floor, and who can unblock it: a hold point QA has not reviewed, a material of the
current step with no usable lot, equipment of the current step with no usable item.

Found for the batches a page shows in a fixed number of queries (the batch list, the batch and step pages), and for
the dashboard, which counts the held batches in SQL and names the first few.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, bindparam, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from batch_records.models import Batch, BatchMaterial, BatchStatus, BatchStep
from batch_records.service import execution, step_signatures, step_uses
from lims import clock
from lims.dashboard.service import HeldRecord, HeldSummary
from lims.equipment.models import Equipment, EquipmentStatus, EquipmentType, EquipmentUse
from lims.equipment.service import use as equipment_use
from lims.materials import service as materials
from lims.materials.models import LotConsumption, LotStatus, MaterialLot

RECEIVE_THEN_RELEASE = "a technician or manager (receive a new lot), then QA (release it)"
#: how many held batches the dashboard names (it counts them all)
HELD_SHOWN = 10


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
    session: Session,
    *,
    due_soon_days: int,
    batch_ids: Collection[int] | None = None,
    current_steps: Mapping[int, BatchStep] | None = None,
) -> dict[int, list[Waiting]]:
    """The batches in progress that cannot go on (of ``batch_ids``, or all), by batch id, with every reason.

    ``current_steps`` are the batches' current steps when the caller has them (``execution.current_steps_of``).
    """
    if batch_ids is not None and not batch_ids:
        return {}
    current = (
        execution.current_steps_in_progress(session, batch_ids)
        if current_steps is None
        else {
            batch_id: step for batch_id, step in current_steps.items() if step.batch.status == BatchStatus.IN_PROGRESS
        }
    )
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
    taken = _taken(session, current.values())
    for wait in _materials_waiting(session, current.values(), taken) + _equipment_waiting(
        session, current.values(), taken, due_soon_days
    ):
        waits[wait.batch.id].append(wait)
    return dict(waits)


@dataclass(frozen=True)
class HeldBatches:
    """The first held batches by batch number, each with every reason it waits, and how many are held in all."""

    waits: list[list[Waiting]]
    total: int


def held_batches(session: Session, *, due_soon_days: int, limit: int = HELD_SHOWN) -> HeldBatches:
    """The batches in progress held up: counted in SQL, the first ``limit`` by batch number named with every
    reason, in a fixed number of queries however many batches are open (for the dashboard)."""
    lacking_materials = materials.materials_without_usable_lot(session)
    lacking_types = equipment_use.types_without_usable_item(session, EquipmentType, due_soon_days=due_soon_days)
    rows = session.execute(
        _held_query(bool(lacking_materials), tuple(sorted(lacking_types))),
        {"lacking_materials": lacking_materials, "shown": limit},
    ).all()
    if not rows:
        return HeldBatches([], 0)
    waits = waiting_batches(session, batch_ids=[batch_id for batch_id, _total in rows], due_soon_days=due_soon_days)
    return HeldBatches([waits[batch_id] for batch_id, _total in rows if batch_id in waits], rows[0][1])


def held_for_dashboard(session: Session, settings: Mapping[str, Any]) -> HeldSummary:
    """The batches held up, counted, the first few named with what they wait for and who can unblock them."""
    held = held_batches(session, due_soon_days=settings["CALIBRATION_DUE_SOON_DAYS"])
    return HeldSummary(
        total=held.total,
        what="batch held up" if held.total == 1 else "batches held up",
        records=[
            HeldRecord(
                wait.label, wait.reason, wait.unblocked_by, "batch_records.batch", (("batch_id", wait.batch.id),)
            )
            for batch_waits in held.waits
            for wait in batch_waits
        ],
        shown=len(held.waits),
        endpoint="batch_records.batches",
        arguments=(("status", BatchStatus.IN_PROGRESS.value),),
    )


@functools.lru_cache(maxsize=64)
def _held_query(materials_lacking: bool, types_lacking: tuple[EquipmentType, ...]) -> Select[int, int]:
    """The ids of the first held batches (parameter ``shown``) by batch number, each with the count of all, given
    whether some materials have no usable lot (parameter ``lacking_materials``) and which types of equipment have
    no usable item: built once for each, as building it cost more than running it."""
    held = aliased(Batch)
    current = aliased(BatchStep, name="current_step")
    return (
        select(held.id, func.count().over())
        .join(
            current,
            and_(current.batch_id == held.id, current.position == execution.first_open_position(held.id)),
        )
        .where(held.status == BatchStatus.IN_PROGRESS, or_(*_held_reasons(current, materials_lacking, types_lacking)))
        .order_by(held.batch_number)
        .limit(bindparam("shown"))
    )


def _held_reasons(
    current: Any, materials_lacking: bool, types_lacking: tuple[EquipmentType, ...]
) -> list[ColumnElement[bool]]:
    """The conditions that a batch's ``current`` step (an alias) cannot go on: ``waiting_batches``'s reasons in SQL."""
    reasons: list[ColumnElement[bool]] = [step_signatures.hold_point_unreviewed_before(current)]
    if materials_lacking:
        taken = (
            select(LotConsumption.id)
            .join(LotConsumption.lot)
            .where(
                LotConsumption.record_type == step_uses.BATCH_STEP,
                LotConsumption.record_id == cast(current.id, String),
                MaterialLot.material_id == BatchMaterial.material_id,
            )
            .correlate(current, BatchMaterial)  # two levels up: the current step; one: its requirement
        )
        reasons.append(
            exists(
                select(BatchMaterial.id).where(
                    BatchMaterial.step_id == current.id,
                    BatchMaterial.material_id.in_(bindparam("lacking_materials", expanding=True)),
                    ~exists(taken),
                )
            )
        )
    for equipment_type in types_lacking:
        recorded = (
            select(EquipmentUse.id)
            .join(EquipmentUse.equipment)
            .where(
                EquipmentUse.record_type == step_uses.BATCH_STEP,
                EquipmentUse.record_id == cast(current.id, String),
                Equipment.equipment_type == equipment_type,
            )
        )
        needed = literal(",").concat(current.required_equipment).concat(",").contains(f",{equipment_type.value},")
        reasons.append(and_(needed, ~exists(recorded)))
    return reasons


@dataclass(frozen=True)
class _Taken:
    """What the steps took so far: (step id, material id) of each lot taken from, (step id, type) of each item used."""

    materials: set[tuple[int, int]]
    equipment: set[tuple[int, EquipmentType]]


def _taken(session: Session, steps: Collection[BatchStep]) -> _Taken:
    """The materials and equipment types the steps took, in two queries reading only those columns."""
    keys = [str(step.id) for step in steps]
    if not keys:
        return _Taken(set(), set())
    consumed = session.execute(
        select(LotConsumption.record_id, MaterialLot.material_id)
        .join(LotConsumption.lot)
        .where(LotConsumption.record_type == step_uses.BATCH_STEP, LotConsumption.record_id.in_(keys))
    )
    used = session.execute(
        select(EquipmentUse.record_id, Equipment.equipment_type)
        .join(EquipmentUse.equipment)
        .where(EquipmentUse.record_type == step_uses.BATCH_STEP, EquipmentUse.record_id.in_(keys))
    )
    return _Taken(
        {(int(step_id), material_id) for step_id, material_id in consumed},
        {(int(step_id), equipment_type) for step_id, equipment_type in used},
    )


def _materials_waiting(session: Session, steps: Collection[BatchStep], taken: _Taken) -> list[Waiting]:
    """A requirement not yet met whose material has no usable lot."""
    open_requirements = [
        (step, requirement)
        for step in steps
        for requirement in step.materials
        if (step.id, requirement.material_id) not in taken.materials
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
    session: Session, steps: Collection[BatchStep], taken: _Taken, due_soon_days: int
) -> list[Waiting]:
    """An equipment type a step needs, not yet recorded, of which no item may be used."""
    open_needs = [
        (step, equipment_type)
        for step in steps
        for equipment_type in step.equipment_types
        if (step.id, equipment_type) not in taken.equipment
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
