"""Master batch records: a product's record and its versions, each version's design (steps in stages, their
parameters, materials and equipment, expected yields, the release tests) and its lifecycle.

draft → in review (the author signs) → approved (QA signs, another person) → effective → retired: the lifecycle
of every versioned document (``lims.versioning``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from batch_records.errors import (
    MbrIncomplete,
    ParameterUnitsDisagree,
    YieldDesignRefused,
)
from batch_records.models import (
    BatchStep,
    DonorType,
    MasterBatchRecord,
    MbrMaterial,
    MbrParameter,
    MbrReleaseTest,
    MbrStatus,
    MbrStep,
    MbrVersion,
)
from lims import clock
from lims.audit import context as audit_context
from lims.db import get_record
from lims.equipment.models import EquipmentType
from lims.errors import AlreadyExists, DetailMissing
from lims.materials.errors import NotAnAmount
from lims.materials.models import Material
from lims.pagination import KeysetPage, page_after
from lims.testing.models import TestDefinition
from lims.units.errors import IncompatibleUnits, PhysicallyImpossible, UnitError
from lims.units.kinds import ValueKind, default_kind, require_kind_fits_unit, require_possible
from lims.units.measurement import Measurement, is_amount
from lims.units.parsing import parse_limit, parse_measurement
from lims.versioning import service as versioning

#: versions waiting for QA listed a page at a time
VERSIONS_PER_PAGE = 50


def list_masters(session: Session) -> list[MasterBatchRecord]:
    return list(
        session.scalars(
            select(MasterBatchRecord).order_by(MasterBatchRecord.code).options(selectinload(MasterBatchRecord.versions))
        )
    )


def versions_in_review(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int = VERSIONS_PER_PAGE
) -> KeysetPage[MbrVersion]:
    """Master record versions their author signed, waiting for QA's approval, oldest first, a page after ``after``
    (created at, id)."""
    query = select(MbrVersion).where(MbrVersion.status == MbrStatus.IN_REVIEW).options(selectinload(MbrVersion.master))
    return page_after(session, query, (MbrVersion.created_at, MbrVersion.id), after=after, limit=limit)


def get_master(session: Session, master_id: int) -> MasterBatchRecord:
    return get_record(session, MasterBatchRecord, master_id, "master batch record")


def get_mbr_version(session: Session, version_id: int) -> MbrVersion:
    return get_record(session, MbrVersion, version_id, "master batch record version")


def get_mbr_step(session: Session, step_id: int) -> MbrStep:
    return get_record(session, MbrStep, step_id, "master record step")


def effective_mbr_version(master: MasterBatchRecord) -> MbrVersion | None:
    return versioning.effective_version(master.versions)


def effective_mbr_versions(session: Session) -> list[MbrVersion]:
    """The versions batches can be made to now."""
    return list(
        session.scalars(
            select(MbrVersion)
            .join(MbrVersion.master)
            .where(MbrVersion.status == MbrStatus.EFFECTIVE)
            .order_by(MasterBatchRecord.code)
        )
    )


def create_master(
    session: Session,
    *,
    code: str,
    product: str,
    change_summary: str,
    donor_type: DonorType = DonorType.AUTOLOGOUS,
) -> MbrVersion:
    """Register a master batch record for a product, autologous or allogeneic; its first version is a draft."""
    code = code.strip().upper()
    if session.scalar(select(MasterBatchRecord.id).where(MasterBatchRecord.code == code)) is not None:
        raise AlreadyExists(f"A master batch record {code} already exists.", field="code")
    if not change_summary.strip():
        raise DetailMissing("Say what the first version is for.", field="change_summary")
    master = MasterBatchRecord(code=code, product=product.strip(), created_at=clock.now())
    version = MbrVersion(
        master=master,
        number=1,
        change_summary=change_summary.strip(),
        donor_type=donor_type,
        status=MbrStatus.DRAFT,
        created_at=clock.now(),
    )
    session.add_all([master, version])
    session.flush()
    return version


def set_donor_type(session: Session, version: MbrVersion, donor_type: DonorType, *, reason: str) -> MbrVersion:
    """Say whether a draft version's product is autologous or allogeneic; the version's approval then covers it."""
    versioning.require_draft(version)
    with audit_context.reason_for_change(session, reason):
        version.donor_type = donor_type
    return version


@dataclass(frozen=True)
class StepDesignInput:
    stage: str
    title: str
    instruction: str
    second_person_verification: bool = False
    hold_point: bool = False
    skippable: bool = False
    qc_sampling: bool = False
    equipment_types: Sequence[EquipmentType] = ()
    theoretical_yield: Measurement | None = None
    yield_minimum_percent: Decimal | None = None
    yield_maximum_percent: Decimal | None = None


def _check_step_design(design: StepDesignInput) -> None:
    for name in ("stage", "title", "instruction"):
        if not getattr(design, name).strip():
            raise DetailMissing(f"The step needs its {name}.", field=name)
    bounds = (design.yield_minimum_percent, design.yield_maximum_percent)
    if design.theoretical_yield is None and any(bound is not None for bound in bounds):
        raise YieldDesignRefused(
            "Yield limits need the theoretical yield they are a percentage of.", field="theoretical_yield"
        )
    if design.theoretical_yield is not None:
        if design.theoretical_yield.value <= 0:
            raise YieldDesignRefused("The theoretical yield must be more than zero.", field="theoretical_yield")
        if all(bound is None for bound in bounds):
            raise YieldDesignRefused(
                "Give the acceptable yield as a percentage of the theoretical yield.", field="yield_minimum_percent"
            )
        if None not in bounds and bounds[0] > bounds[1]:  # type: ignore[operator]
            raise YieldDesignRefused("The minimum yield is above the maximum.", field="yield_minimum_percent")


def _apply_step_design(step: MbrStep, design: StepDesignInput) -> None:
    step.stage = design.stage.strip()
    step.title = design.title.strip()
    step.instruction = design.instruction.strip()
    step.second_person_verification = design.second_person_verification
    step.hold_point = design.hold_point
    step.skippable = design.skippable
    step.qc_sampling = design.qc_sampling
    step.required_equipment = ",".join(sorted({equipment_type.value for equipment_type in design.equipment_types}))
    step.theoretical_yield = design.theoretical_yield
    step.yield_minimum_percent = design.yield_minimum_percent
    step.yield_maximum_percent = design.yield_maximum_percent


def add_step(session: Session, version: MbrVersion, design: StepDesignInput) -> MbrStep:
    """Add a step at the end of a draft version."""
    versioning.require_draft(version)
    _check_step_design(design)
    step = MbrStep(version=version, position=len(version.steps) + 1)
    _apply_step_design(step, design)
    session.add(step)
    session.flush()
    return step


def update_step(session: Session, step: MbrStep, design: StepDesignInput, *, reason: str) -> MbrStep:
    versioning.require_draft(step.version)
    _check_step_design(design)
    with audit_context.reason_for_change(session, reason):
        _apply_step_design(step, design)
    return step


def _check_parameter(unit: str, target: Measurement | None, limit: str | None) -> tuple[str, str | None]:
    unit_typed = unit.strip()
    try:
        expected = parse_measurement(f"1 {unit_typed}".strip())
        if target is not None:
            target.to(expected.unit)
        if limit and limit.strip():
            parse_limit(limit).require_compatible_with(expected.unit)
    except (UnitError, IncompatibleUnits) as error:
        raise ParameterUnitsDisagree(
            f"The unit, target and limits must agree: {error.message}", field="limit"
        ) from error
    return expected.unit, limit.strip() if limit and limit.strip() else None


def add_parameter(
    session: Session,
    step: MbrStep,
    *,
    name: str,
    unit: str,
    target: Measurement | None = None,
    limit: str | None = None,
    required: bool = True,
    value_kind: ValueKind | None = None,
) -> MbrParameter:
    """Add a parameter the operator records; the limit is judged in any compatible unit. Its value kind says which
    values are physically possible (by default: non-negative in a unit with a dimension, else signed)."""
    versioning.require_draft(step.version)
    if not name.strip():
        raise DetailMissing("Name the parameter.", field="name")
    if any(parameter.name.casefold() == name.strip().casefold() for parameter in step.parameters):
        raise AlreadyExists(f"Step {step.position} already has a parameter {name.strip()}.", field="name")
    unit, limit = _check_parameter(unit, target, limit)
    value_kind = value_kind or default_kind(unit)
    require_kind_fits_unit(value_kind, unit)
    if target is not None:
        try:
            require_possible(target, value_kind)
        except PhysicallyImpossible as error:
            raise PhysicallyImpossible(error.message, field="target") from error
    parameter = MbrParameter(
        step=step,
        position=len(step.parameters) + 1,
        name=name.strip(),
        unit=unit,
        target=target,
        limit=limit,
        required=required,
        value_kind=value_kind,
    )
    session.add(parameter)
    session.flush()
    return parameter


def add_material_requirement(
    session: Session, step: MbrStep, *, material: Material, quantity: Measurement
) -> MbrMaterial:
    versioning.require_draft(step.version)
    if not is_amount(quantity) or quantity.value <= 0:
        raise NotAnAmount(
            f"{quantity} is not an amount of material: give a volume, a mass or a count.", field="quantity"
        )
    if any(requirement.material_id == material.id for requirement in step.materials):
        raise AlreadyExists(f"Step {step.position} already uses {material.part_number}.", field="material_id")
    requirement = MbrMaterial(step=step, material=material, quantity=quantity)
    session.add(requirement)
    session.flush()
    return requirement


def add_release_test(session: Session, version: MbrVersion, definition: TestDefinition) -> MbrReleaseTest:
    versioning.require_draft(version)
    if any(test.definition_id == definition.id for test in version.release_tests):
        raise AlreadyExists(f"{version.label} already requires {definition.name}.", field="definition_id")
    test = MbrReleaseTest(version=version, definition=definition)
    session.add(test)
    session.flush()
    return test


def new_mbr_version(session: Session, master: MasterBatchRecord, *, change_summary: str) -> MbrVersion:
    """Start a change: a draft copy of the newest version."""
    source = versioning.version_to_amend(master.versions, document=master.code)
    if not change_summary.strip():
        raise DetailMissing("Summarise what the new version changes.", field="change_summary")
    version = MbrVersion(
        master=master,
        number=source.number + 1,
        change_summary=change_summary.strip(),
        donor_type=source.donor_type,
        status=MbrStatus.DRAFT,
        created_at=clock.now(),
    )
    session.add(version)
    for step in source.steps:
        copy = MbrStep(version=version, position=step.position)
        copy_step_design(step, copy)
        session.add(copy)
        for parameter in step.parameters:
            session.add(MbrParameter(step=copy, **parameter_design(parameter)))
        for requirement in step.materials:
            session.add(MbrMaterial(step=copy, material_id=requirement.material_id, quantity=requirement.quantity))
    for test in source.release_tests:
        session.add(MbrReleaseTest(version=version, definition_id=test.definition_id))
    session.flush()
    return version


_STEP_DESIGN_FIELDS = (
    "stage",
    "title",
    "instruction",
    "second_person_verification",
    "hold_point",
    "skippable",
    "qc_sampling",
    "required_equipment",
    "theoretical_yield",
    "yield_minimum_percent",
    "yield_maximum_percent",
)


def copy_step_design(source: MbrStep, target: MbrStep | BatchStep) -> None:
    """Copy a step's design onto the same step of a new version, or onto a batch's frozen copy."""
    for name in _STEP_DESIGN_FIELDS:
        setattr(target, name, getattr(source, name))


def parameter_design(parameter: MbrParameter) -> dict[str, object]:
    """A parameter's design, to make its copy in a new version or a batch from."""
    return {
        "position": parameter.position,
        "name": parameter.name,
        "unit": parameter.unit,
        "target": parameter.target,
        "limit": parameter.limit,
        "required": parameter.required,
        "value_kind": parameter.value_kind,
    }


def check_ready_for_review(version: MbrVersion) -> None:
    versioning.require_draft(version)
    if not version.steps:
        raise MbrIncomplete(f"{version.label} has no steps yet.")
    if not version.release_tests:
        raise MbrIncomplete(f"{version.label} names no release tests; a batch could never be released.")
    if not any(step.qc_sampling for step in version.steps):
        raise MbrIncomplete(
            f"{version.label} names no step where QC samples are taken; release results could never be entered."
        )


def effective_versions_as_training_subjects(session: Session) -> list[str]:
    return [version.training_subject for version in effective_mbr_versions(session)]
