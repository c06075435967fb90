"""The rules of GMP batch records.

Materials and lots (disposition, expiry, units-aware consumption), training, master batch records and their
lifecycle, executed batches (frozen copies, steps in order, entries, equipment and lots used, verification),
QC release testing through ``lims.testing``, deviations, review by exception and QA's disposition.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from batch_records.models import (
    FINAL_BATCH_STATUSES,
    Batch,
    BatchEntry,
    BatchMaterial,
    BatchParameter,
    BatchReleaseTest,
    BatchStatus,
    BatchStep,
    Deviation,
    DeviationCategory,
    DeviationStatus,
    LotConsumption,
    LotStatus,
    MasterBatchRecord,
    Material,
    MaterialLot,
    MbrMaterial,
    MbrParameter,
    MbrReleaseTest,
    MbrStatus,
    MbrStep,
    MbrVersion,
    StepStatus,
    TrainingRecord,
)
from lims import clock
from lims.audit import service as audit
from lims.dashboard.service import WorkQueue, register_work_queue
from lims.db import get_record, lock_for_update, serialise_numbering
from lims.equipment.models import Equipment, EquipmentType, EquipmentUse
from lims.equipment.service import use as equipment_service
from lims.errors import Conflict, InvalidInput, LimsError, RecordNotFound
from lims.identity.models import RoleName, User
from lims.pagination import Page, paginate
from lims.signatures import service as signatures
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import TestDefinition, TestResult
from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.measurement import Measurement, is_amount
from lims.units.parsing import parse_in_unit, parse_limit, parse_measurement
from protocols import service as protocols
from protocols.models import Protocol, Subject


class LotUnusable(LimsError):
    status_code = 409


class NotTrained(LimsError):
    status_code = 403


# Materials


def list_materials(session: Session) -> list[Material]:
    return list(session.scalars(select(Material).order_by(Material.part_number)))


def get_material(session: Session, material_id: int) -> Material:
    return get_record(session, Material, material_id, "material")


def create_material(session: Session, *, part_number: str, name: str, specification: str,
                    storage_condition: str) -> Material:
    """Register a material the lab buys and uses in batches."""
    part_number = part_number.strip().upper()
    if session.scalar(select(Material.id).where(Material.part_number == part_number)) is not None:
        raise Conflict(f"The part number {part_number} is already registered.", field="part_number")
    material = Material(part_number=part_number, name=name, specification=specification,
                        storage_condition=storage_condition, created_at=clock.now())
    session.add(material)
    session.flush()
    return material


# Lots


def get_lot(session: Session, lot_id: int) -> MaterialLot:
    return get_record(session, MaterialLot, lot_id, "lot")


def receive_lot(session: Session, material: Material, *, supplier: str, supplier_lot: str, received_on: date,
                expires_on: date, quantity: Measurement, user: User) -> MaterialLot:
    """Receive a lot into quarantine under a new internal lot number."""
    if received_on > clock.now().date():
        raise InvalidInput("A lot cannot be received on a future date.", field="received_on")
    if expires_on <= received_on:
        raise InvalidInput("The lot expires before or on the day it was received.", field="expires_on")
    if not is_amount(quantity):
        raise InvalidInput(f"{quantity} is not an amount of material: give a volume, a mass or a count, "
                           "e.g. 500 mL, 25 g or 20.", field="quantity")
    if quantity.value <= 0:
        raise InvalidInput("The quantity received must be more than zero.", field="quantity")
    serialise_numbering(session, "lot number")
    sequence = (session.scalar(select(func.count(MaterialLot.id)).where(MaterialLot.material_id == material.id))
                or 0) + 1
    lot = MaterialLot(material=material, lot_number=f"{material.part_number}-{received_on:%y%m%d}-{sequence:03d}",
                      supplier=supplier, supplier_lot=supplier_lot, received_on=received_on, expires_on=expires_on,
                      quantity_received=quantity, quantity_remaining=quantity, status=LotStatus.QUARANTINE,
                      received_by_id=user.id)
    session.add(lot)
    session.flush()
    return lot


@dataclass(frozen=True)
class Usability:
    usable: bool
    reason: str


def usability(lot: MaterialLot, on: date) -> Usability:
    """Whether a lot may be used on ``on``, and why not: expiry overrules whatever the status says."""
    if lot.expires_on < on:
        return Usability(False, f"expired on {lot.expires_on.isoformat()}")
    if lot.status == LotStatus.QUARANTINE:
        return Usability(False, "in quarantine: not released by QA")
    if lot.status == LotStatus.REJECTED:
        return Usability(False, "rejected by QA")
    if lot.quantity_remaining.value <= 0:
        return Usability(False, "used up")
    return Usability(True, "released")


def lot_choices(material: Material) -> list[tuple[MaterialLot, Usability]]:
    """Every lot of a material with whether it may be used today and why not, usable ones first (for pickers)."""
    today = clock.now().date()
    choices = [(lot, usability(lot, today)) for lot in material.lots]
    return sorted(choices, key=lambda choice: (not choice[1].usable, choice[0].expires_on))


def consume(session: Session, lot: MaterialLot, quantity: Measurement, *, user: User, record_type: str,
            record_id: object) -> LotConsumption:
    """Take ``quantity`` from a usable lot, in any compatible unit, for the record it serves."""
    lock_for_update(session, lot)  # two takings from one lot must not both see its old quantity
    state = usability(lot, clock.now().date())
    if not state.usable:
        raise LotUnusable(f"Lot {lot.lot_number} of {lot.material.name} cannot be used: {state.reason}.")
    try:
        taken = quantity.to(lot.quantity_remaining.unit)
    except IncompatibleUnits as error:
        raise InvalidInput(f"{quantity} cannot be taken from a lot counted in {lot.quantity_remaining.unit}.",
                           field="quantity") from error
    if taken.value <= 0:
        raise InvalidInput("The quantity used must be more than zero.", field="quantity")
    if taken.value > lot.quantity_remaining.value:
        raise LotUnusable(f"Lot {lot.lot_number} has only {lot.quantity_remaining} left; {quantity} was asked for.")
    consumption = LotConsumption(lot_id=lot.id, quantity=quantity, used_at=clock.now(), user_id=user.id,
                                 record_type=record_type, record_id=str(record_id))
    with audit.reason_for_change(session, f"{quantity} used for {record_type} {record_id}"):
        session.add(consumption)
        lot.quantity_remaining = Measurement(lot.quantity_remaining.value - taken.value, lot.quantity_remaining.unit)
    return consumption


def consumptions(session: Session, lot: MaterialLot) -> list[tuple[LotConsumption, BatchStep | None]]:
    """What was taken from a lot, with the batch step it went into (for tracing a lot to its batches)."""
    taken = list(session.scalars(select(LotConsumption).where(LotConsumption.lot_id == lot.id)
                                 .order_by(LotConsumption.used_at)))
    step_ids = [int(consumption.record_id) for consumption in taken if consumption.record_type == BATCH_STEP]
    steps = {step.id: step for step in session.scalars(
        select(BatchStep).where(BatchStep.id.in_(step_ids)).options(selectinload(BatchStep.batch)))}
    return [(consumption, steps.get(int(consumption.record_id)) if consumption.record_type == BATCH_STEP else None)
            for consumption in taken]


def reject_lot(session: Session, lot: MaterialLot, *, reason: str, user: User, password: str,
               client_address: str | None = None) -> MaterialLot:
    """QA rejects a lot in quarantine, stating why, with a signature."""
    if not reason.strip():
        raise InvalidInput("Give the reason for rejecting the lot.", field="reason")
    if lot.status != LotStatus.QUARANTINE:
        raise Conflict(f"Lot {lot.lot_number} is {lot.status.value}, not in quarantine.")
    # The password is proven before the reason is written: a refused signature
    # must leave the lot as it was, even though its failed attempt is kept.
    signatures.reauthenticate_to_sign(session, lot, SignatureMeaning.REJECTED, user, password=password,
                                      client_address=client_address)
    with audit.reason_for_change(session, "Rejection reason stated"):
        lot.rejection_reason = reason.strip()
    signatures.sign(session, lot, meaning=SignatureMeaning.REJECTED, user=user, password=password,
                    client_address=client_address)
    return lot


def _check_disposition(_session: Session, lot: MaterialLot, meaning: SignatureMeaning, _user: User) -> None:
    if lot.status != LotStatus.QUARANTINE:
        raise Conflict(f"Lot {lot.lot_number} is {lot.status.value}; only a lot in quarantine gets a disposition.")
    if meaning == SignatureMeaning.RELEASED and lot.expires_on < clock.now().date():
        raise LotUnusable(f"Lot {lot.lot_number} expired on {lot.expires_on.isoformat()} and cannot be released.")
    if meaning == SignatureMeaning.REJECTED and not lot.rejection_reason:
        raise InvalidInput("State the reason for rejecting the lot on its page.", field="reason")


def _apply_disposition(session: Session, lot: MaterialLot, meaning: SignatureMeaning, _user: User) -> None:
    with audit.reason_for_change(session, f"Lot {meaning.value} by QA"):
        lot.status = LotStatus.RELEASED if meaning == SignatureMeaning.RELEASED else LotStatus.REJECTED


signatures.register_signable(
    MaterialLot,
    {SignatureMeaning.RELEASED: frozenset({RoleName.QA}), SignatureMeaning.REJECTED: frozenset({RoleName.QA})},
    before_signing=_check_disposition,
    after_signing=_apply_disposition,
)


def lots_awaiting_release(session: Session) -> list[MaterialLot]:
    return list(session.scalars(select(MaterialLot).where(MaterialLot.status == LotStatus.QUARANTINE)
                                .order_by(MaterialLot.received_on)))


register_work_queue(WorkQueue(
    title="Lots in quarantine",
    description="Received material lots waiting for QA's release or rejection.",
    roles=frozenset({RoleName.QA}),
    count=lambda session, _user, _settings: len(lots_awaiting_release(session)),
    endpoint="batch_records.materials",
))


# Training


def record_training(session: Session, *, user: User, subject: str, trained_on: date, expires_on: date | None,
                    recorded_by: User) -> TrainingRecord:
    """Record that ``user`` is trained on ``subject`` (a master batch record version or an SOP)."""
    if trained_on > clock.now().date():
        raise InvalidInput("Training cannot be recorded for a future date.", field="trained_on")
    if expires_on is not None and expires_on <= trained_on:
        raise InvalidInput("The training expires before or on the day it was given.", field="expires_on")
    record = TrainingRecord(user_id=user.id, subject=subject.strip(), trained_on=trained_on, expires_on=expires_on,
                            recorded_by_id=recorded_by.id)
    session.add(record)
    session.flush()
    return record


def require_training(session: Session, user: User, subject: str, *, on: date | None = None) -> None:
    """Refuse ``user`` unless a training record on ``subject`` is in force on ``on`` (today by default)."""
    on = on or clock.now().date()
    in_force = session.scalar(select(TrainingRecord.id).where(
        TrainingRecord.user_id == user.id, TrainingRecord.subject == subject, TrainingRecord.trained_on <= on,
        or_(TrainingRecord.expires_on.is_(None), TrainingRecord.expires_on >= on)).limit(1))
    if in_force is None:
        raise NotTrained(f"{user.full_name} has no training on {subject} in force on {on.isoformat()}.")


def training_records(session: Session, *, user: User | None = None) -> list[TrainingRecord]:
    query = select(TrainingRecord).order_by(TrainingRecord.subject, TrainingRecord.trained_on.desc())
    if user is not None:
        query = query.where(TrainingRecord.user_id == user.id)
    return list(session.scalars(query))


# Master batch records: draft → in review (author signs) → approved (QA signs, another person) → effective → retired


class MbrLocked(Conflict):
    """Only a draft master record version can change."""


def list_masters(session: Session) -> list[MasterBatchRecord]:
    return list(session.scalars(select(MasterBatchRecord).order_by(MasterBatchRecord.code)))


def get_master(session: Session, master_id: int) -> MasterBatchRecord:
    return get_record(session, MasterBatchRecord, master_id, "master batch record")


def get_mbr_version(session: Session, version_id: int) -> MbrVersion:
    return get_record(session, MbrVersion, version_id, "master batch record version")


def get_mbr_step(session: Session, step_id: int) -> MbrStep:
    return get_record(session, MbrStep, step_id, "master record step")


def effective_mbr_version(master: MasterBatchRecord) -> MbrVersion | None:
    return next((version for version in master.versions if version.status == MbrStatus.EFFECTIVE), None)


def effective_mbr_versions(session: Session) -> list[MbrVersion]:
    """The versions batches can be made to now."""
    return list(session.scalars(select(MbrVersion).join(MbrVersion.master)
                                .where(MbrVersion.status == MbrStatus.EFFECTIVE).order_by(MasterBatchRecord.code)))


def create_master(session: Session, *, code: str, product: str, change_summary: str) -> MbrVersion:
    """Register a master batch record for a product; its first version is a draft."""
    code = code.strip().upper()
    if session.scalar(select(MasterBatchRecord.id).where(MasterBatchRecord.code == code)) is not None:
        raise Conflict(f"A master batch record {code} already exists.", field="code")
    if not change_summary.strip():
        raise InvalidInput("Say what the first version is for.", field="change_summary")
    master = MasterBatchRecord(code=code, product=product.strip(), created_at=clock.now())
    version = MbrVersion(master=master, number=1, change_summary=change_summary.strip(), status=MbrStatus.DRAFT,
                         created_at=clock.now())
    session.add_all([master, version])
    session.flush()
    return version


def _require_draft_mbr(version: MbrVersion) -> None:
    if version.status != MbrStatus.DRAFT:
        raise MbrLocked(f"{version.label} is {version.status.value}; only a draft can change. "
                        "Start a new version to change it.")


@dataclass(frozen=True)
class StepDesignInput:
    stage: str
    title: str
    instruction: str
    second_person_verification: bool = False
    hold_point: bool = False
    skippable: bool = False
    equipment_types: Sequence[EquipmentType] = ()
    theoretical_yield: Measurement | None = None
    yield_minimum_percent: Decimal | None = None
    yield_maximum_percent: Decimal | None = None


def _check_step_design(design: StepDesignInput) -> None:
    for name in ("stage", "title", "instruction"):
        if not getattr(design, name).strip():
            raise InvalidInput(f"The step needs its {name}.", field=name)
    bounds = (design.yield_minimum_percent, design.yield_maximum_percent)
    if design.theoretical_yield is None and any(bound is not None for bound in bounds):
        raise InvalidInput("Yield limits need the theoretical yield they are a percentage of.",
                           field="theoretical_yield")
    if design.theoretical_yield is not None:
        if design.theoretical_yield.value <= 0:
            raise InvalidInput("The theoretical yield must be more than zero.", field="theoretical_yield")
        if all(bound is None for bound in bounds):
            raise InvalidInput("Give the acceptable yield as a percentage of the theoretical yield.",
                               field="yield_minimum_percent")
        if None not in bounds and bounds[0] > bounds[1]:  # type: ignore[operator]
            raise InvalidInput("The minimum yield is above the maximum.", field="yield_minimum_percent")


def _apply_step_design(step: MbrStep, design: StepDesignInput) -> None:
    step.stage = design.stage.strip()
    step.title = design.title.strip()
    step.instruction = design.instruction.strip()
    step.second_person_verification = design.second_person_verification
    step.hold_point = design.hold_point
    step.skippable = design.skippable
    step.required_equipment = ",".join(sorted({equipment_type.value for equipment_type in design.equipment_types}))
    step.theoretical_yield = design.theoretical_yield
    step.yield_minimum_percent = design.yield_minimum_percent
    step.yield_maximum_percent = design.yield_maximum_percent


def add_step(session: Session, version: MbrVersion, design: StepDesignInput) -> MbrStep:
    """Add a step at the end of a draft version."""
    _require_draft_mbr(version)
    _check_step_design(design)
    step = MbrStep(version=version, position=len(version.steps) + 1)
    _apply_step_design(step, design)
    session.add(step)
    session.flush()
    return step


def update_step(session: Session, step: MbrStep, design: StepDesignInput, *, reason: str) -> MbrStep:
    _require_draft_mbr(step.version)
    _check_step_design(design)
    with audit.reason_for_change(session, reason):
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
        raise InvalidInput(f"The unit, target and limits must agree: {error.message}", field="limit") from error
    return expected.unit, limit.strip() if limit and limit.strip() else None


def add_parameter(session: Session, step: MbrStep, *, name: str, unit: str, target: Measurement | None = None,
                  limit: str | None = None, required: bool = True) -> MbrParameter:
    """Add a parameter the operator records; the limit is judged in any compatible unit."""
    _require_draft_mbr(step.version)
    if not name.strip():
        raise InvalidInput("Name the parameter.", field="name")
    if any(parameter.name.casefold() == name.strip().casefold() for parameter in step.parameters):
        raise Conflict(f"Step {step.position} already has a parameter {name.strip()}.", field="name")
    unit, limit = _check_parameter(unit, target, limit)
    parameter = MbrParameter(step=step, position=len(step.parameters) + 1, name=name.strip(), unit=unit,
                             target=target, limit=limit, required=required)
    session.add(parameter)
    session.flush()
    return parameter


def add_material_requirement(session: Session, step: MbrStep, *, material: Material,
                             quantity: Measurement) -> MbrMaterial:
    _require_draft_mbr(step.version)
    if not is_amount(quantity) or quantity.value <= 0:
        raise InvalidInput(f"{quantity} is not an amount of material: give a volume, a mass or a count.",
                           field="quantity")
    if any(requirement.material_id == material.id for requirement in step.materials):
        raise Conflict(f"Step {step.position} already uses {material.part_number}.", field="material_id")
    requirement = MbrMaterial(step=step, material=material, quantity=quantity)
    session.add(requirement)
    session.flush()
    return requirement


def add_release_test(session: Session, version: MbrVersion, definition: TestDefinition) -> MbrReleaseTest:
    _require_draft_mbr(version)
    if any(test.definition_id == definition.id for test in version.release_tests):
        raise Conflict(f"{version.label} already requires {definition.name}.", field="definition_id")
    test = MbrReleaseTest(version=version, definition=definition)
    session.add(test)
    session.flush()
    return test


def new_mbr_version(session: Session, master: MasterBatchRecord, *, change_summary: str) -> MbrVersion:
    """Start a change: a draft copy of the newest version."""
    if any(version.status in {MbrStatus.DRAFT, MbrStatus.IN_REVIEW} for version in master.versions):
        raise Conflict(f"{master.code} already has a version in draft or review; finish it first.")
    if not change_summary.strip():
        raise InvalidInput("Summarise what the new version changes.", field="change_summary")
    source = master.versions[-1]
    version = MbrVersion(master=master, number=source.number + 1, change_summary=change_summary.strip(),
                         status=MbrStatus.DRAFT, created_at=clock.now())
    session.add(version)
    for step in source.steps:
        copy = MbrStep(version=version, position=step.position)
        _copy_step_design(step, copy)
        session.add(copy)
        for parameter in step.parameters:
            session.add(MbrParameter(step=copy, **_parameter_design(parameter)))
        for requirement in step.materials:
            session.add(MbrMaterial(step=copy, material_id=requirement.material_id, quantity=requirement.quantity))
    for test in source.release_tests:
        session.add(MbrReleaseTest(version=version, definition_id=test.definition_id))
    session.flush()
    return version


_STEP_DESIGN_FIELDS = ("stage", "title", "instruction", "second_person_verification", "hold_point", "skippable",
                       "required_equipment", "theoretical_yield", "yield_minimum_percent", "yield_maximum_percent")


def _copy_step_design(source: MbrStep, target: MbrStep | BatchStep) -> None:
    for name in _STEP_DESIGN_FIELDS:
        setattr(target, name, getattr(source, name))


def _parameter_design(parameter: MbrParameter) -> dict[str, object]:
    return {"position": parameter.position, "name": parameter.name, "unit": parameter.unit,
            "target": parameter.target, "limit": parameter.limit, "required": parameter.required}


def _ready_for_review(version: MbrVersion) -> None:
    _require_draft_mbr(version)
    if not version.steps:
        raise InvalidInput(f"{version.label} has no steps yet.")
    if not version.release_tests:
        raise InvalidInput(f"{version.label} names no release tests; a batch could never be released.")


signatures.register_two_person_approval(
    MbrVersion,
    signatures.ApprovalStates(draft=MbrStatus.DRAFT, in_review=MbrStatus.IN_REVIEW, approved=MbrStatus.APPROVED),
    locked=MbrLocked, describe=lambda version: version.label, ready_for_review=_ready_for_review,
)


def make_mbr_effective(session: Session, version: MbrVersion) -> MbrVersion:
    """Put an approved version into effect; the version in effect until now is retired."""
    if version.status != MbrStatus.APPROVED:
        raise MbrLocked(f"Only an approved version becomes effective; {version.label} is {version.status.value}.")
    now = clock.now()
    previous = effective_mbr_version(version.master)
    with audit.reason_for_change(session, f"{version.label} made effective"):
        if previous is not None:
            previous.status = MbrStatus.RETIRED
            previous.retired_at = now
            session.flush()  # the database allows one effective version per master record
        version.status = MbrStatus.EFFECTIVE
        version.effective_at = now
    return version


def retire_mbr_version(session: Session, version: MbrVersion, *, reason: str) -> MbrVersion:
    """Withdraw the effective version without a successor: no new batches can be made to it."""
    if version.status != MbrStatus.EFFECTIVE:
        raise MbrLocked(f"Only the effective version can be retired; {version.label} is {version.status.value}.")
    with audit.reason_for_change(session, reason):
        version.status = MbrStatus.RETIRED
        version.retired_at = clock.now()
    return version


def mbr_versions_in_review(session: Session) -> list[MbrVersion]:
    return list(session.scalars(select(MbrVersion).where(MbrVersion.status == MbrStatus.IN_REVIEW)
                                .order_by(MbrVersion.created_at)))


register_work_queue(WorkQueue(
    title="Master batch records in review",
    description="Master batch record versions waiting for QA's approval.",
    roles=frozenset({RoleName.QA}),
    count=lambda session, _user, _settings: len(mbr_versions_in_review(session)),
    endpoint="batch_records.masters",
))


# Executed batches


class BatchLocked(Conflict):
    """A released or rejected batch is read-only."""


class StepOutOfOrder(Conflict):
    """Steps are executed in the master record's order."""


#: an entry whose observation the operator states happened this much earlier than its recording is a late entry
LATE_ENTRY_AFTER = timedelta(minutes=30)
BATCH_STEP = "batch_step"


def get_batch(session: Session, batch_id: int) -> Batch:
    return get_record(session, Batch, batch_id, "batch")


def get_batch_step(session: Session, step_id: int) -> BatchStep:
    return get_record(session, BatchStep, step_id, "batch step")


def get_entry(session: Session, entry_id: int) -> BatchEntry:
    return get_record(session, BatchEntry, entry_id, "batch entry")


def list_batches(session: Session, *, status: BatchStatus | None = None, sponsor_id: int | None = None,
                 page: int = 1, per_page: int = 50) -> Page[Batch]:
    """Batches newest first, a page at a time; ``sponsor_id`` keeps a client's own."""
    query = select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc()).options(
        selectinload(Batch.subject).selectinload(Subject.protocol), selectinload(Batch.steps))
    if status is not None:
        query = query.where(Batch.status == status)
    if sponsor_id is not None:
        query = query.join(Batch.subject).join(Subject.protocol).where(Protocol.sponsor_id == sponsor_id)
    return paginate(session, query, page=page, per_page=per_page)


def batches_of_subject(session: Session, subject: Subject) -> list[Batch]:
    """Every batch made from a subject's material: the chain of identity read from the subject's side."""
    return list(session.scalars(select(Batch).where(Batch.subject_id == subject.id).order_by(Batch.created_at)))


def _batches_as_subject_records(session: Session, subject: Subject) -> list[protocols.SubjectRecord]:
    return [protocols.SubjectRecord("batch", f"{batch.batch_number} from {batch.starting_material_identity}",
                                    batch.status.value, "batch_records.batch", (("batch_id", batch.id),))
            for batch in batches_of_subject(session, subject)]


protocols.register_subject_records(_batches_as_subject_records)


def _next_batch_number(session: Session, master: MasterBatchRecord) -> str:
    serialise_numbering(session, "batch number")
    year = clock.now().year
    prefix = f"{master.code}-{year % 100:02d}"
    made = session.scalar(select(func.count(Batch.id)).where(Batch.batch_number.like(f"{prefix}%"))) or 0
    return f"{prefix}{made + 1:04d}"


def start_batch(session: Session, version: MbrVersion, *, subject: Subject, starting_material_identity: str,
                user: User) -> Batch:
    """Make a batch to the effective version: its steps, parameters, materials and tests are frozen copies."""
    if version.status != MbrStatus.EFFECTIVE:
        raise MbrLocked(f"Batches are made to the effective version only; {version.label} is "
                        f"{version.status.value}.")
    identity_text = starting_material_identity.strip().upper()
    if not identity_text:
        raise InvalidInput("Enter the identity of the starting material as printed on its label.",
                           field="starting_material_identity")
    existing = session.scalar(select(Batch.batch_number).where(Batch.starting_material_identity == identity_text))
    if existing is not None:
        raise Conflict(f"Starting material {identity_text} is already in batch {existing}; one starting material "
                       "makes one batch.", field="starting_material_identity")
    batch = Batch(batch_number=_next_batch_number(session, version.master), mbr_version=version,
                  mbr_label=version.label, product=version.master.product, training_subject=version.training_subject,
                  subject=subject, starting_material_identity=identity_text, status=BatchStatus.IN_PROGRESS,
                  created_by_id=user.id, created_at=clock.now())
    session.add(batch)
    for source in version.steps:
        step = BatchStep(batch=batch, position=source.position, status=StepStatus.PENDING)
        _copy_step_design(source, step)
        session.add(step)
        for parameter in source.parameters:
            session.add(BatchParameter(step=step, **_parameter_design(parameter)))
        for requirement in source.materials:
            session.add(BatchMaterial(step=step, material_id=requirement.material_id, quantity=requirement.quantity))
    for test in version.release_tests:
        session.add(BatchReleaseTest(batch=batch, definition=test.definition,
                                     specification=test.definition.specification))
    session.flush()
    return batch


def _lock_open_batch(session: Session, batch: Batch) -> None:
    """Hold the batch against concurrent changes for this transaction, then require it open.

    Whoever records on a batch waits for anyone already doing so and then sees what they did, so two
    people cannot both record the same value or complete the same step.
    """
    lock_for_update(session, batch)
    _require_open(batch)


def _require_open(batch: Batch) -> None:
    if batch.status in FINAL_BATCH_STATUSES:
        raise BatchLocked(f"Batch {batch.batch_number} is {batch.status.value} and can no longer change.")
    if batch.status == BatchStatus.QUARANTINED:
        raise BatchLocked(f"Batch {batch.batch_number} is in quarantine; QA must decide on it first.")


def _done(step: BatchStep) -> bool:
    return step.status in {StepStatus.COMPLETED, StepStatus.SKIPPED}


def current_step(batch: Batch) -> BatchStep | None:
    """The step to work on now: the first one not completed or skipped."""
    return next((step for step in batch.steps if not _done(step)), None)


def _hold_step(session: Session, step: BatchStep) -> None:
    """Hold the step's batch for this transaction and read the step as it is now."""
    _lock_open_batch(session, step.batch)
    session.refresh(step)


def _require_workable(session: Session, step: BatchStep, user: User) -> None:
    _hold_step(session, step)
    _require_current(session, step, user)


def _require_current(session: Session, step: BatchStep, user: User) -> None:
    """The step is the batch's current one, its predecessors' hold points are released, the user is trained."""
    if _done(step):
        raise Conflict(f"Step {step.position} is {step.status.value}; change its entries by correction.")
    for earlier in step.batch.steps[:step.position - 1]:
        if not _done(earlier):
            raise StepOutOfOrder(f"Step {earlier.position} ({earlier.title}) comes first; steps are done in order.")
        if earlier.hold_point and earlier.status == StepStatus.COMPLETED and not signatures.signers_with_meaning(
                session, earlier, SignatureMeaning.REVIEWED):
            raise StepOutOfOrder(f"Step {earlier.position} ({earlier.title}) is a hold point: QA must review it "
                                 "before the process goes on.")
    require_training(session, user, step.batch.training_subject)


def _start(step: BatchStep) -> None:
    if step.status == StepStatus.PENDING:
        with audit.reason_for_change(_session_of(step), f"Step {step.position} started"):
            step.status = StepStatus.IN_PROGRESS
            step.started_at = clock.now()


def _parse_entry(parameter: BatchParameter, reported: str) -> tuple[Measurement, bool]:
    reported = reported.strip()
    if not reported:
        raise InvalidInput(f"Enter a value for {parameter.name}.", field=f"parameter-{parameter.id}")
    try:
        value = parse_in_unit(reported, parameter.unit)
        value.to(parameter.unit)
        within = parse_limit(parameter.limit).conforms(value) if parameter.limit else True
    except (UnitError, IncompatibleUnits) as error:
        raise InvalidInput(f"{parameter.name}: {error.message}", field=f"parameter-{parameter.id}") from error
    return value, within


def _check_observed_at(step: BatchStep, observed_at: datetime | None, late_reason: str | None) -> str | None:
    """A stated earlier observation time makes a late entry, which needs its reason."""
    if observed_at is None:
        return None
    now = clock.now()
    if observed_at > now:
        raise InvalidInput("An observation cannot be stated in the future.", field="observed_at")
    if step.started_at is not None and observed_at < step.started_at:
        raise InvalidInput("The observation is stated before the step started.", field="observed_at")
    if now - observed_at > LATE_ENTRY_AFTER and not (late_reason or "").strip():
        raise InvalidInput("This is a late entry: say why it is recorded only now.", field="late_reason")
    return (late_reason or "").strip() or None


def record_entry(session: Session, parameter: BatchParameter, reported: str, *, user: User,
                 observed_at: datetime | None = None, late_reason: str | None = None) -> BatchEntry:
    """Record a parameter's value; one outside its limits is kept and raises a deviation at once."""
    step = parameter.step
    _require_workable(session, step, user)
    session.expire(parameter, ["entries"])  # as they are now that the batch is held
    if parameter.current_entry is not None:
        raise Conflict(f"{parameter.name} is already recorded; correct it with a reason instead.",
                       field=f"parameter-{parameter.id}")
    late_reason = _check_observed_at(step, observed_at, late_reason)
    value, within = _parse_entry(parameter, reported)
    _start(step)
    entry = BatchEntry(parameter=parameter, value=value, within_limits=within, entered_by_id=user.id,
                       entered_at=clock.now(), observed_at=observed_at, late_reason=late_reason)
    session.add(entry)
    session.flush()
    if not within:
        _raise_for_entry(session, entry, user)
    return entry


def _raise_for_entry(session: Session, entry: BatchEntry, user: User) -> Deviation:
    parameter = entry.parameter
    return raise_deviation(
        session, parameter.step.batch, user=user, step=parameter.step, entry=entry,
        description=f"Step {parameter.step.position} ({parameter.step.title}): {parameter.name} recorded as "
                    f"{entry.value}, outside its limits {parameter.limit}.")


def correct_entry(session: Session, entry: BatchEntry, reported: str, *, reason: str, user: User) -> BatchEntry:
    """Replace an entry with a corrected value; the original stays on the record.

    Correcting a completed step invalidates its performer's and verifier's signatures: they sign again.
    """
    if not reason.strip():
        raise InvalidInput("Give the reason for the correction.", field="reason")
    parameter = entry.parameter
    _lock_open_batch(session, parameter.step.batch)
    session.refresh(entry)
    require_training(session, user, parameter.step.batch.training_subject)
    if entry.replaced_by_id is not None:
        raise Conflict("This entry was already corrected; correct the newest value instead.")
    value, within = _parse_entry(parameter, reported)
    correction = BatchEntry(parameter=parameter, value=value, within_limits=within, entered_by_id=user.id,
                            entered_at=clock.now(), replaces_id=entry.id, correction_reason=reason.strip())
    session.add(correction)
    session.flush()
    with audit.reason_for_change(session, reason.strip()):
        entry.replaced_by_id = correction.id
    session.flush()
    session.expire(parameter, ["entries"])
    if not within:
        _raise_for_entry(session, correction, user)
    return correction


def record_equipment_use(session: Session, step: BatchStep, equipment: Equipment, *, user: User,
                         due_soon_days: int) -> EquipmentUse:
    """Record that the step used an item; the equipment area's one rule refuses unusable equipment."""
    _require_workable(session, step, user)
    if equipment.equipment_type not in step.equipment_types:
        raise InvalidInput(f"Step {step.position} does not call for a {equipment.equipment_type.value}.",
                           field="equipment_id")
    use = equipment_service.record_use(
        session, equipment, user=user, record_type=BATCH_STEP, record_id=step.id, due_soon_days=due_soon_days,
        purpose=f"Batch {step.batch.batch_number}, step {step.position}: {step.title}")
    _start(step)
    return use


def record_material_use(session: Session, step: BatchStep, requirement: BatchMaterial, lot: MaterialLot,
                        quantity: Measurement, *, user: User) -> LotConsumption:
    """Take material for the step from a released, unexpired lot of the required material."""
    _require_workable(session, step, user)
    if requirement.step_id != step.id:
        raise InvalidInput("That material is not required by this step.", field="requirement_id")
    if lot.material_id != requirement.material_id:
        raise InvalidInput(f"Lot {lot.lot_number} is {lot.material.name}, not {requirement.material.name}.",
                           field="lot_id")
    consumption = consume(session, lot, quantity, user=user, record_type=BATCH_STEP, record_id=step.id)
    _start(step)
    return consumption


def record_yield(session: Session, step: BatchStep, actual: Measurement, *, user: User) -> BatchStep:
    _require_workable(session, step, user)
    if step.theoretical_yield is None:
        raise InvalidInput(f"Step {step.position} has no expected yield.", field="actual_yield")
    try:
        actual.to(step.theoretical_yield.unit)
    except IncompatibleUnits as error:
        raise InvalidInput(f"A yield in {actual.unit} cannot be compared with {step.theoretical_yield}.",
                           field="actual_yield") from error
    if actual.value < 0:
        raise InvalidInput("A yield cannot be negative.", field="actual_yield")
    reason = "Actual yield recorded" if step.actual_yield is None else "Yield re-entered before the step was completed"
    with audit.reason_for_change(session, reason):
        step.actual_yield = actual
        _start(step)
    return step


def yield_percent(step: BatchStep) -> Decimal | None:
    """Actual yield as a percentage of the theoretical yield."""
    if step.actual_yield is None or step.theoretical_yield is None:
        return None
    actual = step.actual_yield.to(step.theoretical_yield.unit).value
    return (actual * 100 / step.theoretical_yield.value).quantize(Decimal("0.1"))


def yield_within_limits(step: BatchStep) -> bool | None:
    percent = yield_percent(step)
    if percent is None:
        return None
    return ((step.yield_minimum_percent is None or percent >= step.yield_minimum_percent)
            and (step.yield_maximum_percent is None or percent <= step.yield_maximum_percent))


def skip_step(session: Session, step: BatchStep, *, reason: str, user: User) -> BatchStep:
    """Skip a step the master record allows to be skipped, saying why."""
    _require_workable(session, step, user)
    if not step.skippable:
        raise StepOutOfOrder(f"Step {step.position} ({step.title}) cannot be skipped: the master record requires it.")
    if not reason.strip():
        raise InvalidInput("Say why the step is skipped.", field="reason")
    with audit.reason_for_change(session, reason.strip()):
        step.status = StepStatus.SKIPPED
        step.skip_reason = reason.strip()
        step.performed_by_id = user.id
        step.completed_at = clock.now()
    _advance_batch(step.batch)
    return step


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
        for use in session.scalars(select(EquipmentUse).where(EquipmentUse.record_type == BATCH_STEP,
                                                              EquipmentUse.record_id.in_(keys))
                                   .options(selectinload(EquipmentUse.equipment), selectinload(EquipmentUse.user))
                                   .order_by(EquipmentUse.used_at)):
            equipment[int(use.record_id)].append(use)
        for consumption in session.scalars(select(LotConsumption).where(LotConsumption.record_type == BATCH_STEP,
                                                                        LotConsumption.record_id.in_(keys))
                                           .options(selectinload(LotConsumption.lot)
                                                    .selectinload(MaterialLot.material),
                                                    selectinload(LotConsumption.user))
                                           .order_by(LotConsumption.used_at)):
            consumed[int(consumption.record_id)].append(consumption)
    return {step.id: StepUses(equipment[step.id], consumed[step.id]) for step in steps}


def missing_for_completion(step: BatchStep, uses: StepUses) -> list[str]:
    """What the step still needs before its performer can sign it complete, given what it used so far."""
    missing = [f"a value for {parameter.name}" for parameter in step.parameters
               if parameter.required and parameter.current_entry is None]
    used_types = {use.equipment.equipment_type for use in uses.equipment}
    missing += [f"the {equipment_type.value} used" for equipment_type in step.equipment_types
                if equipment_type not in used_types]
    for requirement in step.materials:
        taken = [consumption for consumption in uses.consumptions
                 if consumption.lot.material_id == requirement.material_id]
        if not taken:
            missing.append(f"the lot of {requirement.material.name} used ({requirement.quantity})")
    if step.theoretical_yield is not None and step.actual_yield is None:
        missing.append("the actual yield")
    return missing


def _advance_batch(batch: Batch) -> None:
    if batch.status == BatchStatus.IN_PROGRESS and all(_done(step) for step in batch.steps):
        with audit.reason_for_change(_session_of(batch), "Every step is done"):
            batch.status = BatchStatus.AWAITING_REVIEW


def _session_of(record: object) -> Session:
    session = Session.object_session(record)
    assert session is not None  # records handled by the service are always attached
    return session


def _check_step_signature(session: Session, step: BatchStep, meaning: SignatureMeaning, user: User) -> None:
    _hold_step(session, step)
    valid = signatures.signers_with_meaning(session, step, meaning)
    if meaning == SignatureMeaning.PERFORMED:
        if step.status == StepStatus.COMPLETED and valid:
            raise Conflict(f"Step {step.position} is already signed as performed.")
        if step.status != StepStatus.COMPLETED:
            _require_current(session, step, user)
        else:
            require_training(session, user, step.batch.training_subject)
        missing = missing_for_completion(step, uses_of_steps(session, [step])[step.id])
        if missing:
            raise InvalidInput(f"Step {step.position} still needs {', '.join(missing)}.")
        return
    if step.status != StepStatus.COMPLETED:
        raise Conflict(f"Step {step.position} is {step.status.value}; it is checked once it is completed.")
    if valid:
        raise Conflict(f"Step {step.position} is already signed as {meaning.value}.")
    if meaning == SignatureMeaning.VERIFIED:
        if not step.second_person_verification:
            raise InvalidInput(f"Step {step.position} does not call for a second person's verification.")
        performers = signatures.signers_with_meaning(session, step, SignatureMeaning.PERFORMED)
        if not performers:
            raise Conflict(f"Step {step.position}'s performer must sign again before it is verified.")
        entrants = [entry.entered_by_id for parameter in step.parameters for entry in parameter.entries]
        signatures.require_different_person(user, [*performers, step.performed_by_id, *entrants],
                                            earlier_role="performed or recorded")
    elif meaning == SignatureMeaning.REVIEWED and not step.hold_point:
        raise InvalidInput(f"Step {step.position} is not a hold point.")


def _after_step_signature(session: Session, step: BatchStep, meaning: SignatureMeaning, user: User) -> None:
    if meaning == SignatureMeaning.PERFORMED and step.status != StepStatus.COMPLETED:
        with audit.reason_for_change(session, f"Step {step.position} signed as performed"):
            step.status = StepStatus.COMPLETED
            step.completed_at = clock.now()
            step.performed_by_id = user.id
        _advance_batch(step.batch)


signatures.register_signable(
    BatchStep,
    {SignatureMeaning.PERFORMED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
     SignatureMeaning.VERIFIED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA}),
     SignatureMeaning.REVIEWED: frozenset({RoleName.QA})},
    before_signing=_check_step_signature,
    after_signing=_after_step_signature,
)


# QC release testing (the rules of results live in lims.testing; an out-of-specification result is a deviation)

BATCH = "batch"


def get_release_test(session: Session, release_test_id: int) -> BatchReleaseTest:
    return get_record(session, BatchReleaseTest, release_test_id, "release test")


def record_release_result(session: Session, release_test: BatchReleaseTest, reported: str, *,
                          user: User) -> TestResult:
    """Record a release test result against the batch's copy of the specification."""
    batch = release_test.batch
    _lock_open_batch(session, batch)
    if any(not result.replaced for result in results_of_test(session, release_test)):
        raise Conflict(f"{release_test.definition.name} already has a result; correct it with a reason instead.")
    result = testing.record_result(session, release_test.definition, tested_type=BATCH, tested_id=batch.id,
                                   specification=release_test.specification, reported=reported, user=user)
    if not result.conforms:
        _raise_for_result(session, batch, result, user)
    return result


def correct_release_result(session: Session, result: TestResult, reported: str, *, reason: str,
                           user: User) -> TestResult:
    batch = get_batch(session, int(result.tested_id))
    _lock_open_batch(session, batch)
    session.refresh(result)
    correction = testing.correct_result(session, result, reported=reported, reason=reason, user=user)
    if not correction.conforms:
        _raise_for_result(session, batch, correction, user)
    return correction


def _raise_for_result(session: Session, batch: Batch, result: TestResult, user: User) -> Deviation:
    return raise_deviation(
        session, batch, user=user, test_result=result,
        description=f"Release test {result.definition.name} out of specification: {result.reported} "
                    f"against {result.specification}.")


def results_of_test(session: Session, release_test: BatchReleaseTest) -> list[TestResult]:
    return [result for result in testing.all_results(session, BATCH, release_test.batch_id)
            if result.definition_id == release_test.definition_id]


@dataclass(frozen=True)
class ReleaseTestState:
    test: BatchReleaseTest
    result: TestResult | None
    #: the current result's signatures (a second person's verification), each with whether it still holds
    signatures: list[tuple[ElectronicSignature, signatures.SignatureStatus]]

    @property
    def verified(self) -> bool:
        return bool(signatures.holding(self.signatures, SignatureMeaning.VERIFIED))

    @property
    def problem(self) -> str | None:
        name = self.test.definition.name
        if self.result is None:
            return f"{name}: no result"
        if not self.result.conforms:
            return f"{name}: {self.result.reported} is out of specification ({self.test.specification})"
        if not self.verified:
            return f"{name}: result not verified by a second person"
        return None


def release_test_states(session: Session, batch: Batch) -> list[ReleaseTestState]:
    """Each release test with its current result and that result's signatures (two queries)."""
    current = {result.definition_id: result for result in testing.current_results(session, BATCH, [batch.id])}
    signed = signatures.signatures_of_many(session, list(current.values()))
    states = []
    for test in batch.release_tests:
        result = current.get(test.definition_id)
        states.append(ReleaseTestState(test, result, signed[result.id] if result is not None else []))
    return states


# Deviations


def get_deviation(session: Session, deviation_id: int) -> Deviation:
    return get_record(session, Deviation, deviation_id, "deviation")


def list_deviations(session: Session, *, status: DeviationStatus | None = None) -> list[Deviation]:
    query = select(Deviation).order_by(Deviation.raised_at.desc(), Deviation.id.desc())
    if status is not None:
        query = query.where(Deviation.status == status)
    return list(session.scalars(query.options(selectinload(Deviation.batch))))


def raise_deviation(session: Session, batch: Batch, *, description: str, user: User,
                    category: DeviationCategory | None = None, step: BatchStep | None = None,
                    entry: BatchEntry | None = None, test_result: TestResult | None = None) -> Deviation:
    """Open a deviation on a batch (and step); those raised by the system are classified by QA later."""
    if not description.strip():
        raise InvalidInput("Describe what deviated.", field="description")
    if step is not None and step.batch_id != batch.id:
        raise InvalidInput("That step is not part of this batch.", field="step_id")
    serialise_numbering(session, "deviation number")
    year = clock.now().year
    raised = session.scalar(select(func.count(Deviation.id)).where(Deviation.number.like(f"DEV-{year}-%"))) or 0
    deviation = Deviation(number=f"DEV-{year}-{raised + 1:04d}", category=category, status=DeviationStatus.OPEN,
                          description=description.strip(), batch=batch, step=step, entry=entry,
                          test_result=test_result, raised_by_id=user.id, raised_at=clock.now())
    session.add(deviation)
    session.flush()
    return deviation


@dataclass(frozen=True)
class InvestigationInput:
    category: DeviationCategory | None
    investigation: str | None
    root_cause: str | None
    other_batches_assessed: str | None
    conclusion: str | None
    capa: str | None


def record_investigation(session: Session, deviation: Deviation, findings: InvestigationInput, *,
                         reason: str) -> Deviation:
    """Record the classification, investigation, root cause, batches assessed, conclusion and CAPA so far."""
    if deviation.status == DeviationStatus.CLOSED:
        raise Conflict(f"Deviation {deviation.number} is closed and can no longer change.")
    with audit.reason_for_change(session, reason):
        deviation.category = findings.category
        for name in ("investigation", "root_cause", "other_batches_assessed", "conclusion", "capa"):
            value = getattr(findings, name)
            setattr(deviation, name, value.strip() if value and value.strip() else None)
    return deviation


def missing_for_closure(deviation: Deviation) -> list[str]:
    labels = {"category": "the category", "investigation": "the investigation", "root_cause": "the root cause",
              "other_batches_assessed": "the other batches assessed", "conclusion": "the conclusion",
              "capa": "the CAPA"}
    return [label for name, label in labels.items() if getattr(deviation, name) is None]


def _check_deviation_closure(_session: Session, deviation: Deviation, _meaning: SignatureMeaning,
                             _user: User) -> None:
    if deviation.status == DeviationStatus.CLOSED:
        raise Conflict(f"Deviation {deviation.number} is already closed.")
    missing = missing_for_closure(deviation)
    if missing:
        raise InvalidInput(f"Deviation {deviation.number} cannot be closed without {', '.join(missing)}.")


def _close_deviation(session: Session, deviation: Deviation, _meaning: SignatureMeaning, _user: User) -> None:
    with audit.reason_for_change(session, f"Deviation {deviation.number} closed by QA"):
        deviation.status = DeviationStatus.CLOSED
        deviation.closed_at = clock.now()


signatures.register_signable(
    Deviation,
    {SignatureMeaning.APPROVED: frozenset({RoleName.QA})},
    before_signing=_check_deviation_closure,
    after_signing=_close_deviation,
)


# Review by exception and disposition


@dataclass(frozen=True)
class StepRecord:
    """A step as the reviewer and the PDF see it: entries, uses and signatures, loaded for the whole batch at once."""

    step: BatchStep
    uses: StepUses
    signatures: list[tuple[ElectronicSignature, signatures.SignatureStatus]]

    def valid_signers(self, meaning: SignatureMeaning) -> list[ElectronicSignature]:
        return signatures.holding(self.signatures, meaning)

    @property
    def verification_gap(self) -> str | None:
        step = self.step
        if step.status == StepStatus.SKIPPED:
            return None
        if step.status != StepStatus.COMPLETED:
            return f"Step {step.position} ({step.title}) is {step.status.value}"
        if not self.valid_signers(SignatureMeaning.PERFORMED):
            return f"Step {step.position} ({step.title}): the performer's signature is missing or invalidated"
        if step.second_person_verification and not self.valid_signers(SignatureMeaning.VERIFIED):
            return f"Step {step.position} ({step.title}): second-person verification missing or invalidated"
        if step.hold_point and not self.valid_signers(SignatureMeaning.REVIEWED):
            return f"Step {step.position} ({step.title}): hold point not reviewed by QA"
        return None


@dataclass
class BatchReview:
    """What QA must judge first, then the full record."""

    batch: Batch
    steps: list[StepRecord]
    release_tests: list[ReleaseTestState]
    #: every result, replaced ones included, oldest first
    results: list[TestResult]
    #: the signatures of each of ``results``, by result id
    result_signatures: dict[int, list[tuple[ElectronicSignature, signatures.SignatureStatus]]]
    deviations: list[Deviation]
    out_of_limit: list[BatchEntry] = field(default_factory=list)
    corrections: list[BatchEntry] = field(default_factory=list)
    late_entries: list[BatchEntry] = field(default_factory=list)
    verification_gaps: list[str] = field(default_factory=list)
    yields_outside: list[BatchStep] = field(default_factory=list)
    disposition: list[tuple[ElectronicSignature, signatures.SignatureStatus]] = field(default_factory=list)

    @property
    def open_deviations(self) -> list[Deviation]:
        return [deviation for deviation in self.deviations if deviation.status == DeviationStatus.OPEN]

    @property
    def blockers(self) -> list[str]:
        """Why the batch cannot be released yet; empty when it can."""
        return ([*self.verification_gaps]
                + [f"Deviation {deviation.number} is open" for deviation in self.open_deviations]
                + [problem for state in self.release_tests if (problem := state.problem)])

    @property
    def exception_count(self) -> int:
        return (len(self.open_deviations) + len(self.out_of_limit) + len(self.corrections) + len(self.late_entries)
                + len(self.verification_gaps) + len(self.yields_outside))


def review(session: Session, batch_id: int) -> BatchReview:
    """Everything about a batch for QA's review, in a bounded number of queries whatever its size."""
    batch = session.scalar(select(Batch).where(Batch.id == batch_id).options(
        selectinload(Batch.subject).selectinload(Subject.protocol),
        selectinload(Batch.steps).selectinload(BatchStep.parameters).selectinload(BatchParameter.entries)
        .selectinload(BatchEntry.entered_by),
        selectinload(Batch.steps).selectinload(BatchStep.materials).selectinload(BatchMaterial.material),
        selectinload(Batch.steps).selectinload(BatchStep.performed_by),
        selectinload(Batch.release_tests).selectinload(BatchReleaseTest.definition),
        selectinload(Batch.deviations).selectinload(Deviation.raised_by),
    ))
    if batch is None:
        raise RecordNotFound(f"There is no batch with id {batch_id}.")
    signed = signatures.signatures_of_many(session, batch.steps)
    uses = uses_of_steps(session, batch.steps)
    steps = [StepRecord(step, uses[step.id], signed[step.id]) for step in batch.steps]
    results = testing.all_results(session, BATCH, batch.id)
    outcome = BatchReview(batch=batch, steps=steps, release_tests=release_test_states(session, batch),
                          results=results, result_signatures=signatures.signatures_of_many(session, results),
                          deviations=sorted(batch.deviations, key=lambda d: (d.status != DeviationStatus.OPEN, d.id)),
                          disposition=signatures.signatures_of(session, batch))
    for record in steps:
        for parameter in record.step.parameters:
            for entry in parameter.entries:
                if entry.replaced_by_id is None and not entry.within_limits:
                    outcome.out_of_limit.append(entry)
                if entry.replaces_id is not None:
                    outcome.corrections.append(entry)
                if entry.late_reason is not None:
                    outcome.late_entries.append(entry)
        if (gap := record.verification_gap) is not None:
            outcome.verification_gaps.append(gap)
        if yield_within_limits(record.step) is False:
            outcome.yields_outside.append(record.step)
    return outcome


class ReleaseRefused(Conflict):
    pass


DISPOSITIONS = {SignatureMeaning.RELEASED: BatchStatus.RELEASED, SignatureMeaning.REJECTED: BatchStatus.REJECTED,
                SignatureMeaning.QUARANTINED: BatchStatus.QUARANTINED}


def dispose(session: Session, batch: Batch, meaning: SignatureMeaning, *, user: User, password: str,
            reason: str | None = None, client_address: str | None = None) -> ElectronicSignature:
    """QA's disposition of a batch with a signature; rejecting or quarantining states why."""
    if meaning not in DISPOSITIONS:
        raise InvalidInput(f"{meaning.value} is not a disposition of a batch.", field="meaning")
    reason = (reason or "").strip()
    if meaning != SignatureMeaning.RELEASED and not reason:
        raise InvalidInput(f"Say why the batch is {meaning.value}.", field="reason")
    # The password is proven before the reason is written: a refused signature leaves the batch as it was.
    signatures.reauthenticate_to_sign(session, batch, meaning, user, password=password, client_address=client_address)
    if reason:
        _check_disposition_allowed(session, batch, meaning)
        with audit.reason_for_change(session, f"Disposition reason: {reason}"):
            batch.disposition_reason = reason
    return signatures.sign(session, batch, meaning=meaning, user=user, password=password,
                           client_address=client_address)


def _check_disposition_allowed(session: Session, batch: Batch, meaning: SignatureMeaning) -> None:
    lock_for_update(session, batch)
    if batch.status in FINAL_BATCH_STATUSES:
        raise BatchLocked(f"Batch {batch.batch_number} is already {batch.status.value}.")
    if meaning == SignatureMeaning.QUARANTINED and batch.status == BatchStatus.QUARANTINED:
        raise Conflict(f"Batch {batch.batch_number} is already in quarantine.")
    if meaning == SignatureMeaning.RELEASED:
        blockers = review(session, batch.id).blockers
        if blockers:
            raise ReleaseRefused(f"Batch {batch.batch_number} cannot be released: {'; '.join(blockers)}.")


def _check_batch_signature(session: Session, batch: Batch, meaning: SignatureMeaning, _user: User) -> None:
    _check_disposition_allowed(session, batch, meaning)
    if meaning != SignatureMeaning.RELEASED and not batch.disposition_reason:
        raise InvalidInput(f"Say why the batch is {meaning.value}.", field="reason")


def _apply_batch_disposition(session: Session, batch: Batch, meaning: SignatureMeaning, _user: User) -> None:
    with audit.reason_for_change(session, f"Batch {meaning.value} by QA"):
        batch.status = DISPOSITIONS[meaning]
        batch.disposition_at = clock.now()


signatures.register_signable(
    Batch,
    {meaning: frozenset({RoleName.QA}) for meaning in DISPOSITIONS},
    before_signing=_check_batch_signature,
    after_signing=_apply_batch_disposition,
)


def batches_awaiting_review(session: Session) -> list[Batch]:
    return list(session.scalars(select(Batch).where(Batch.status.in_([BatchStatus.AWAITING_REVIEW,
                                                                      BatchStatus.QUARANTINED]))
                                .order_by(Batch.created_at)))


def open_deviation_count(session: Session) -> int:
    return session.scalar(select(func.count(Deviation.id)).where(Deviation.status == DeviationStatus.OPEN)) or 0


register_work_queue(WorkQueue(
    title="Batches awaiting QA disposition",
    description="Batches with every step done, or held in quarantine, waiting for QA's review and disposition.",
    roles=frozenset({RoleName.QA}),
    count=lambda session, _user, _settings: len(batches_awaiting_review(session)),
    endpoint="batch_records.batches",
    arguments=(("status", BatchStatus.AWAITING_REVIEW.value),),
))
register_work_queue(WorkQueue(
    title="Open deviations",
    description="Deviations to investigate and close before their batches can be released.",
    roles=frozenset({RoleName.QA, RoleName.MANAGER}),
    count=lambda session, _user, _settings: open_deviation_count(session),
    endpoint="batch_records.deviations",
))
def steps_awaiting_signature(session: Session, meaning: SignatureMeaning, *,
                             for_user: User | None = None) -> list[BatchStep]:
    """Completed steps of open batches still waiting for a second person's verification or QA's hold-point review.

    With ``for_user``, only the steps that user may sign: not those they performed or recorded values on.
    """
    needs = BatchStep.second_person_verification if meaning == SignatureMeaning.VERIFIED else BatchStep.hold_point
    steps = list(session.scalars(
        select(BatchStep).join(BatchStep.batch)
        .where(BatchStep.status == StepStatus.COMPLETED, needs.is_(True),
               Batch.status.in_([BatchStatus.IN_PROGRESS, BatchStatus.AWAITING_REVIEW]))
        .order_by(BatchStep.completed_at)
        .options(selectinload(BatchStep.batch).selectinload(Batch.subject).selectinload(Subject.protocol),
                 selectinload(BatchStep.parameters).selectinload(BatchParameter.entries))))
    signed = signatures.signatures_of_many(session, steps)
    waiting = [step for step in steps if not signatures.holding(signed[step.id], meaning)]
    if for_user is not None:
        waiting = [step for step in waiting if for_user.id != step.performed_by_id and all(
            entry.entered_by_id != for_user.id for parameter in step.parameters for entry in parameter.entries)]
    return waiting


register_work_queue(WorkQueue(
    title="Steps to verify",
    description="Completed steps waiting for a second person's verification, other than your own.",
    roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA}),
    count=lambda session, user, _settings: len(steps_awaiting_signature(session, SignatureMeaning.VERIFIED,
                                                                        for_user=user)),
    endpoint="batch_records.steps_to_sign",
    arguments=(("meaning", SignatureMeaning.VERIFIED.value),),
))
register_work_queue(WorkQueue(
    title="Hold points to review",
    description="Batches stopped at a hold point until QA has reviewed the step.",
    roles=frozenset({RoleName.QA}),
    count=lambda session, _user, _settings: len(steps_awaiting_signature(session, SignatureMeaning.REVIEWED)),
    endpoint="batch_records.steps_to_sign",
    arguments=(("meaning", SignatureMeaning.REVIEWED.value),),
))
register_work_queue(WorkQueue(
    title="Batches in progress",
    description="Batches on the floor, with their current step.",
    roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
    count=lambda session, _user, _settings: session.scalar(
        select(func.count(Batch.id)).where(Batch.status == BatchStatus.IN_PROGRESS)) or 0,
    endpoint="batch_records.batches",
    arguments=(("status", BatchStatus.IN_PROGRESS.value),),
))
