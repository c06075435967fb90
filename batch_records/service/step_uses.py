"""What a batch step used: the equipment items and the lots it took from, read for several steps in a fixed number of
queries; how much of each required material it took; what it still needs before its performer signs it; and how its
signatures bind what it used."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from batch_records.models import BatchMaterial, BatchStep
from lims.equipment.models import EquipmentUse
from lims.materials import service as materials
from lims.materials.models import LotConsumption, MaterialLot
from lims.signatures import service as signatures
from lims.units.measurement import Measurement

#: the record type of a batch step where equipment uses and lot consumptions name what they were for
BATCH_STEP = "batch_step"


def steps_as_consuming_records(session: Session, record_ids: list[str]) -> dict[str, materials.ConsumingRecord]:
    steps = session.scalars(
        select(BatchStep)
        .where(BatchStep.id.in_([int(record_id) for record_id in record_ids]))
        .options(selectinload(BatchStep.batch))
    )
    return {
        str(step.id): materials.ConsumingRecord(
            "batch",
            f"{step.batch.batch_number}, step {step.position} ({step.title})",
            "batch_records.batch_step",
            (("step_id", step.id),),
        )
        for step in steps
    }


@dataclass(frozen=True)
class StepUses:
    """The equipment and lots a step used."""

    equipment: list[EquipmentUse]
    consumptions: list[LotConsumption]


def uses_of_steps(session: Session, steps: Sequence[BatchStep]) -> dict[int, StepUses]:
    """Equipment uses and lot consumptions of several steps, in two queries."""
    keys = [str(step.id) for step in steps]
    equipment: dict[int, list[EquipmentUse]] = defaultdict(list)
    consumed: dict[int, list[LotConsumption]] = defaultdict(list)
    if keys:
        for use in session.scalars(
            select(EquipmentUse)
            .where(EquipmentUse.record_type == BATCH_STEP, EquipmentUse.record_id.in_(keys))
            .options(selectinload(EquipmentUse.equipment), selectinload(EquipmentUse.user))
            .order_by(EquipmentUse.used_at)
        ):
            equipment[int(use.record_id)].append(use)
        for consumption in session.scalars(
            select(LotConsumption)
            .where(LotConsumption.record_type == BATCH_STEP, LotConsumption.record_id.in_(keys))
            .options(
                selectinload(LotConsumption.lot).selectinload(MaterialLot.material), selectinload(LotConsumption.user)
            )
            .order_by(LotConsumption.used_at)
        ):
            consumed[int(consumption.record_id)].append(consumption)
    return {step.id: StepUses(equipment[step.id], consumed[step.id]) for step in steps}


def taken_for(requirement: BatchMaterial, uses: StepUses) -> Measurement:
    """How much of the requirement's material the step took so far, in the requirement's unit."""
    unit = requirement.quantity.unit
    total = sum(
        (
            consumption.quantity.to(unit).value
            for consumption in uses.consumptions
            if consumption.lot.material_id == requirement.material_id
        ),
        Decimal(0),
    )
    return Measurement(total, unit)


def rest_of(requirement: BatchMaterial, uses: StepUses) -> Measurement:
    """What the step still has to take to meet the requirement (none once met)."""
    rest = requirement.quantity.value - taken_for(requirement, uses).value
    return Measurement(max(rest, Decimal(0)), requirement.quantity.unit)


def bind_uses(session: Session, step: BatchStep) -> None:
    """Make the equipment and lots the step used part of its signed content (and so of its content hash)."""
    step.bound_uses = json.dumps(_described_uses(uses_of_steps(session, [step])[step.id]))
    signatures.refresh_signature_state(session, step)


def _described_uses(uses: StepUses) -> dict[str, list[str]]:
    return {
        "equipment": [
            f"{use.equipment.asset_tag} {use.equipment.name} ({use.equipment.equipment_type.value})"
            for use in uses.equipment
        ],
        "lots": [
            f"{consumption.quantity} of {consumption.lot.material.name} from lot {consumption.lot.lot_number} "
            f"(supplier lot {consumption.lot.supplier_lot}, expires {consumption.lot.expires_on.isoformat()})"
            for consumption in uses.consumptions
        ],
    }


def attested_with_step(session: Session, step: BatchStep) -> dict[str, list[str]]:
    """What the signer of a step made before signatures covered its equipment and lots attests beside its signed
    content: the equipment it used and the lots it took from (a newer step's signed content holds them)."""
    if step.bound_uses is not None:
        return {}
    described = _described_uses(uses_of_steps(session, [step])[step.id])
    return {"Equipment used": described["equipment"], "Lots taken from": described["lots"]}


def missing_for_completion(step: BatchStep, uses: StepUses) -> list[str]:
    """What the step still needs before its performer can sign it complete, given what it used so far."""
    missing = [
        f"a value for {parameter.name}"
        for parameter in step.parameters
        if parameter.required and parameter.current_entry is None
    ]
    used_types = {use.equipment.equipment_type for use in uses.equipment}
    missing += [
        f"the {equipment_type.value} used"
        for equipment_type in step.equipment_types
        if equipment_type not in used_types
    ]
    for requirement in step.materials:
        taken = [
            consumption for consumption in uses.consumptions if consumption.lot.material_id == requirement.material_id
        ]
        if not taken:
            missing.append(f"the lot of {requirement.material.name} used ({requirement.quantity})")
    if step.theoretical_yield is not None and step.actual_yield is None:
        missing.append("the actual yield")
    return missing
