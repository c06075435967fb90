"""The work on a batch's steps: in order, entries and their corrections, equipment used, lots consumed and yields
(what a step used and still needs: ``step_uses``; the signatures themselves: ``step_signatures``)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, ScalarSelect, SQLColumnExpression, and_, func, literal_column, select
from sqlalchemy.orm import Session, aliased, selectinload

from batch_records.errors import (
    AlreadyRecorded,
    EntriesRefused,
    EntryReplaced,
    EntryUnreadable,
    HoldPointPending,
    LateEntryWithoutReason,
    NeedsRotorRadius,
    NotCalledFor,
    StepDone,
    StepOutOfOrder,
)
from batch_records.models import (
    Batch,
    BatchEntry,
    BatchMaterial,
    BatchParameter,
    BatchStatus,
    BatchStep,
    Deviation,
    StepStatus,
)
from batch_records.service import batches, deviations
from batch_records.service.step_uses import BATCH_STEP, bind_uses, uses_of_steps
from lims import clock
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.db import get_record
from lims.equipment.models import Equipment, EquipmentType, EquipmentUse
from lims.equipment.service import use as equipment_service_use
from lims.errors import (
    DateInFuture,
    DatesOutOfOrder,
    DetailMissing,
    LimsError,
    OutOfRange,
    RecordNotFound,
)
from lims.identity.models import User
from lims.materials import service as materials
from lims.materials.models import LotConsumption, MaterialLot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.training import service as training
from lims.units.centrifugation import convert_with_rotor_radius, is_speed_to_force
from lims.units.errors import IncompatibleUnits, PhysicallyImpossible, UnitError
from lims.units.kinds import require_possible
from lims.units.measurement import Measurement
from lims.units.parsing import parse_in_unit, parse_limit

#: an entry whose observation the operator states happened this much earlier than its recording is a late entry
LATE_ENTRY_AFTER = timedelta(minutes=30)


def get_batch_step(session: Session, step_id: int) -> BatchStep:
    return get_record(session, BatchStep, step_id, "batch step")


def get_batch_step_for_page(session: Session, step_id: int) -> BatchStep:
    """A step with what its page shows and its signatures cover, in a fixed number of statements: its parameters
    with every entry and who made it, the materials it takes, its batch and performer."""
    step = session.scalar(
        select(BatchStep)
        .where(BatchStep.id == step_id)
        .options(
            selectinload(BatchStep.parameters).selectinload(BatchParameter.entries).selectinload(BatchEntry.entered_by),
            selectinload(BatchStep.materials).selectinload(BatchMaterial.material),
            selectinload(BatchStep.batch),
            selectinload(BatchStep.performed_by),
        )
    )
    if step is None:
        raise RecordNotFound(f"There is no batch step with id {step_id}.")
    return step


def get_entry(session: Session, entry_id: int) -> BatchEntry:
    return get_record(session, BatchEntry, entry_id, "batch entry")


DONE = (StepStatus.COMPLETED, StepStatus.SKIPPED)


def is_done(step: BatchStep) -> bool:
    return step.status in DONE


def first_open_position(batch_id: SQLColumnExpression[int]) -> ScalarSelect[int]:
    """The position of the first step neither completed nor skipped of the batch ``batch_id`` (a column of the
    enclosing query): one entry of the partial index ``ix_batch_step_open`` however many steps the batch has."""
    step = aliased(BatchStep, name="open_step")
    # In literals, as the index's condition is written: with bound values the planner cannot prove the index applies.
    done: list[ColumnElement[str]] = [literal_column(f"'{status.value}'") for status in DONE]
    return select(func.min(step.position)).where(step.batch_id == batch_id, step.status.not_in(done)).scalar_subquery()


def current_steps_of(session: Session, batch_ids: Collection[int]) -> dict[int, BatchStep]:
    """The current step of each of the batches (none for a batch whose steps are all done), with its batch and the
    materials it takes, in three queries rather than loading every step of every batch (the batch list)."""
    if not batch_ids:
        return {}
    return _current_steps(session, Batch.id.in_(batch_ids))


def current_steps_in_progress(session: Session, batch_ids: Collection[int] | None = None) -> dict[int, BatchStep]:
    """The current step of each batch in progress (of ``batch_ids``, or all), as ``current_steps_of``."""
    condition = Batch.status == BatchStatus.IN_PROGRESS
    return _current_steps(session, condition if batch_ids is None else and_(condition, Batch.id.in_(batch_ids)))


def _current_steps(session: Session, batches_wanted: ColumnElement[bool]) -> dict[int, BatchStep]:
    steps = session.scalars(
        select(BatchStep)
        .join(Batch, and_(BatchStep.batch_id == Batch.id, BatchStep.position == first_open_position(Batch.id)))
        .where(batches_wanted)
        .options(
            selectinload(BatchStep.batch),
            selectinload(BatchStep.materials).selectinload(BatchMaterial.material),
        )
    )
    return {step.batch_id: step for step in steps}


def current_step(batch: Batch) -> BatchStep | None:
    """The step to work on now: the first one not completed or skipped."""
    return next((step for step in batch.steps if not is_done(step)), None)


def hold_step(session: Session, step: BatchStep) -> None:
    """Hold the step's batch for this transaction and read the step as it is now, with its entries (the rules read
    them all: three statements however many there are)."""
    batches.lock_open_batch(session, step.batch)
    session.execute(
        select(BatchStep)
        .where(BatchStep.id == step.id)
        .options(selectinload(BatchStep.parameters).selectinload(BatchParameter.entries))
        .execution_options(populate_existing=True)
    )


def require_workable(session: Session, step: BatchStep, user: User) -> None:
    hold_step(session, step)
    require_current(session, step, user)


def require_current(session: Session, step: BatchStep, user: User) -> None:
    """The step is the batch's current one, its predecessors' hold points are released, the user is trained."""
    if is_done(step):
        raise StepDone(f"Step {step.position} is {step.status.value}; change its entries by correction.")
    for earlier in step.batch.steps[: step.position - 1]:
        if not is_done(earlier):
            raise StepOutOfOrder(f"Step {earlier.position} ({earlier.title}) comes first; steps are done in order.")
        if (
            earlier.hold_point
            and earlier.status == StepStatus.COMPLETED
            and not signatures.signers_with_meaning(session, earlier, SignatureMeaning.REVIEWED)
        ):
            raise HoldPointPending(
                f"Step {earlier.position} ({earlier.title}) is a hold point: QA must review it "
                "before the process goes on."
            )
    training.require_training(session, user, step.batch.training_subject)


def _start(step: BatchStep) -> None:
    if step.status == StepStatus.PENDING:
        with audit_context.reason_for_change(_session_of(step), f"Step {step.position} started"):
            step.status = StepStatus.IN_PROGRESS
            step.started_at = clock.now()


def _centrifuge_used(session: Session, step: BatchStep) -> Equipment | None:
    """The centrifuge the step recorded, whose rotor radius converts its rpm and × g."""
    return next(
        (
            use.equipment
            for use in uses_of_steps(session, [step])[step.id].equipment
            if use.equipment.equipment_type == EquipmentType.CENTRIFUGE
        ),
        None,
    )


def _in_parameter_unit(value: Measurement, parameter: BatchParameter, centrifuge: Equipment | None) -> Measurement:
    """The value in the parameter's unit; rpm and × g convert through the rotor radius of the step's centrifuge."""
    if not is_speed_to_force(value, parameter.unit):
        return value.to(parameter.unit)
    if centrifuge is None:
        raise NeedsRotorRadius(
            f"{value} converts to {parameter.unit} only through the rotor radius of the centrifuge used: record the "
            f"centrifuge first, or enter the value in {parameter.unit}."
        )
    if centrifuge.rotor_radius is None:
        raise NeedsRotorRadius(
            f"{value} converts to {parameter.unit} only through the rotor radius, and the equipment record of "
            f"{centrifuge.asset_tag} states none: enter the value in {parameter.unit}, or have a manager record the "
            "rotor radius on its page."
        )
    return convert_with_rotor_radius(value, parameter.unit, centrifuge.rotor_radius)


def _parse_entry(
    parameter: BatchParameter, reported: str, centrifuge: Equipment | None = None
) -> tuple[Measurement, bool]:
    reported = reported.strip()
    if not reported:
        raise DetailMissing(f"Enter a value for {parameter.name}.", field=f"parameter-{parameter.id}")
    try:
        value = parse_in_unit(reported, parameter.unit)
        comparable = _in_parameter_unit(value, parameter, centrifuge)
        require_possible(value, parameter.value_kind)
        within = parse_limit(parameter.limit).conforms(comparable) if parameter.limit else True
    except NeedsRotorRadius as error:
        raise NeedsRotorRadius(f"{parameter.name}: {error.message}", field=f"parameter-{parameter.id}") from error
    except (UnitError, IncompatibleUnits) as error:
        raise EntryUnreadable(f"{parameter.name}: {error.message}", field=f"parameter-{parameter.id}") from error
    except PhysicallyImpossible as error:
        raise PhysicallyImpossible(f"{parameter.name}: {error.message}", field=f"parameter-{parameter.id}") from error
    return value, within


def _check_observed_at(step: BatchStep, observed_at: datetime | None, late_reason: str | None) -> str | None:
    """A stated earlier observation time makes a late entry, which needs its reason."""
    if observed_at is None:
        return None
    now = clock.now()
    if observed_at > now:
        raise DateInFuture("An observation cannot be stated in the future.", field="observed_at")
    if step.started_at is not None and observed_at < step.started_at:
        raise DatesOutOfOrder("The observation is stated before the step started.", field="observed_at")
    if now - observed_at > LATE_ENTRY_AFTER and not (late_reason or "").strip():
        raise LateEntryWithoutReason("This is a late entry: say why it is recorded only now.", field="late_reason")
    return (late_reason or "").strip() or None


def record_entry(
    session: Session,
    parameter: BatchParameter,
    reported: str,
    *,
    user: User,
    observed_at: datetime | None = None,
    late_reason: str | None = None,
) -> BatchEntry:
    """Record a parameter's value; one outside its limits is kept and raises a deviation at once."""
    (entry,) = _record_all_or_none(
        session, parameter.step, [(parameter, reported)], user=user, observed_at=observed_at, late_reason=late_reason
    )
    return entry


def record_entries(
    session: Session,
    step: BatchStep,
    reported: Mapping[int, str],
    *,
    user: User,
    observed_at: datetime | None = None,
    late_reason: str | None = None,
) -> list[BatchEntry]:
    """Record the values reported for several of the step's parameters (by parameter id) at one time.

    All of them are recorded or, if any is refused, none; each refusal names its parameter. Values outside
    their limits are not refused: they are kept and each raises a deviation at once.
    """
    if not reported:
        raise DetailMissing("Enter at least one value.")
    # The step's parameters are loaded already (the entry form lists them): look the ids up there, not one by one.
    parameters = {parameter.id: parameter for parameter in step.parameters}
    typed = []
    for parameter_id, value in reported.items():
        if parameter_id not in parameters:
            raise RecordNotFound(
                f"Step {step.position} ({step.title}) has no parameter with id {parameter_id}.",
                field=f"parameter-{parameter_id}",
            )
        typed.append((parameters[parameter_id], value))
    return _record_all_or_none(session, step, typed, user=user, observed_at=observed_at, late_reason=late_reason)


def _record_all_or_none(
    session: Session,
    step: BatchStep,
    typed_values: Sequence[tuple[BatchParameter, str]],
    *,
    user: User,
    observed_at: datetime | None,
    late_reason: str | None,
) -> list[BatchEntry]:
    require_workable(session, step, user)
    late_reason = _check_observed_at(step, observed_at, late_reason)
    accepted: list[tuple[BatchParameter, Measurement, bool]] = []
    refusals: list[LimsError] = []
    centrifuge = _centrifuge_used(session, step)
    for parameter, typed in typed_values:
        try:
            accepted.append((parameter, *_accept_entry(session, parameter, typed, centrifuge)))
        except LimsError as refusal:
            refusals.append(refusal)
    if len(refusals) == 1:
        raise refusals[0]
    if refusals:
        raise EntriesRefused(f"Nothing is recorded: {' '.join(refusal.message for refusal in refusals)}")
    _start(step)
    entries = []
    for parameter, value, within in accepted:
        entry = BatchEntry(
            parameter=parameter,
            value=value,
            within_limits=within,
            entered_by_id=user.id,
            entered_at=clock.now(),
            observed_at=observed_at,
            late_reason=late_reason,
        )
        session.add(entry)
        session.flush()
        if not within:
            _raise_for_entry(session, entry, user)
        entries.append(entry)
    signatures.refresh_signature_state(session, step)
    return entries


def _accept_entry(
    session: Session, parameter: BatchParameter, reported: str, centrifuge: Equipment | None
) -> tuple[Measurement, bool]:
    """The value a first entry of ``parameter`` would record, and whether it is within limits; or the refusal."""
    session.expire(parameter, ["entries"])  # as they are now that the batch is held
    if parameter.current_entry is not None:
        raise AlreadyRecorded(
            f"{parameter.name} is already recorded; correct it with a reason instead.",
            field=f"parameter-{parameter.id}",
        )
    return _parse_entry(parameter, reported, centrifuge)


def _raise_for_entry(session: Session, entry: BatchEntry, user: User) -> Deviation:
    parameter = entry.parameter
    return deviations.raise_deviation(
        session,
        parameter.step.batch,
        user=user,
        step=parameter.step,
        entry=entry,
        description=f"Step {parameter.step.position} ({parameter.step.title}): {parameter.name} recorded as "
        f"{entry.value}, outside its limits {parameter.limit}.",
    )


def correct_entry(session: Session, entry: BatchEntry, reported: str, *, reason: str, user: User) -> BatchEntry:
    """Replace an entry with a corrected value; the original stays on the record.

    Correcting a completed step invalidates its performer's and verifier's signatures: they sign again.
    """
    if not reason.strip():
        raise ReasonRequired("Give the reason for the correction.")
    parameter = entry.parameter
    batches.lock_open_batch(session, parameter.step.batch)
    session.refresh(entry)
    training.require_training(session, user, parameter.step.batch.training_subject)
    if entry.replaced_by_id is not None:
        raise EntryReplaced("This entry was already corrected; correct the newest value instead.")
    value, within = _parse_entry(parameter, reported, _centrifuge_used(session, parameter.step))
    correction = BatchEntry(
        parameter=parameter,
        value=value,
        within_limits=within,
        entered_by_id=user.id,
        entered_at=clock.now(),
        replaces_id=entry.id,
        correction_reason=reason.strip(),
    )
    session.add(correction)
    session.flush()
    with audit_context.reason_for_change(session, reason.strip()):
        entry.replaced_by_id = correction.id
    session.flush()
    session.expire(parameter, ["entries"])
    signatures.refresh_signature_state(session, parameter.step)
    if not within:
        _raise_for_entry(session, correction, user)
    return correction


def record_equipment_use(
    session: Session, step: BatchStep, equipment: Equipment, *, user: User, due_soon_days: int
) -> EquipmentUse:
    """Record that the step used an item; the equipment area's one rule refuses unusable equipment."""
    require_workable(session, step, user)
    if equipment.equipment_type not in step.equipment_types:
        raise NotCalledFor(
            f"Step {step.position} does not call for a {equipment.equipment_type.value}.", field="equipment_id"
        )
    recorded = [
        use.equipment
        for use in uses_of_steps(session, [step])[step.id].equipment
        if use.equipment.equipment_type == equipment.equipment_type
    ]
    if recorded:
        raise AlreadyRecorded(
            f"Step {step.position} needs one {equipment.equipment_type.value}, and {recorded[0].asset_tag} is "
            "recorded already.",
            field="equipment_id",
        )
    use = equipment_service_use.record_use(
        session,
        equipment,
        user=user,
        record_type=BATCH_STEP,
        record_id=step.id,
        due_soon_days=due_soon_days,
        purpose=f"Batch {step.batch.batch_number}, step {step.position}: {step.title}",
    )
    _start(step)
    bind_uses(session, step)
    return use


def record_material_use(
    session: Session,
    step: BatchStep,
    requirement: BatchMaterial,
    lot: MaterialLot,
    quantity: Measurement,
    *,
    user: User,
) -> LotConsumption:
    """Take material for the step from a released, unexpired lot of the required material."""
    require_workable(session, step, user)
    if requirement.step_id != step.id:
        raise NotCalledFor("That material is not required by this step.", field="requirement_id")
    if lot.material_id != requirement.material_id:
        raise NotCalledFor(
            f"Lot {lot.lot_number} is {lot.material.name}, not {requirement.material.name}.", field="lot_id"
        )
    consumption = materials.consume(session, lot, quantity, user=user, record_type=BATCH_STEP, record_id=step.id)
    _start(step)
    bind_uses(session, step)
    return consumption


def record_yield(session: Session, step: BatchStep, actual: Measurement, *, user: User) -> BatchStep:
    require_workable(session, step, user)
    if step.theoretical_yield is None:
        raise NotCalledFor(f"Step {step.position} has no expected yield.", field="actual_yield")
    try:
        actual.to(step.theoretical_yield.unit)
    except IncompatibleUnits as error:
        raise IncompatibleUnits(
            f"A yield in {actual.unit} cannot be compared with {step.theoretical_yield}.", field="actual_yield"
        ) from error
    if actual.value < 0:
        raise OutOfRange("A yield cannot be negative.", field="actual_yield")
    reason = "Actual yield recorded" if step.actual_yield is None else "Yield re-entered before the step was completed"
    with audit_context.reason_for_change(session, reason):
        step.actual_yield = actual
        _start(step)
    signatures.refresh_signature_state(session, step)
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
    return (step.yield_minimum_percent is None or percent >= step.yield_minimum_percent) and (
        step.yield_maximum_percent is None or percent <= step.yield_maximum_percent
    )


def advance_batch(batch: Batch) -> None:
    if batch.status == BatchStatus.IN_PROGRESS and all(is_done(step) for step in batch.steps):
        with audit_context.reason_for_change(_session_of(batch), "Every step is done"):
            batch.status = BatchStatus.AWAITING_REVIEW


def _session_of(record: object) -> Session:
    session = Session.object_session(record)
    assert session is not None  # records handled by the service are always attached
    return session
