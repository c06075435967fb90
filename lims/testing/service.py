"""The rules of testing: a result is judged against the specification of its day and verified by someone else.

The batch record area uses it for QC release testing; the sample area will use it too. What happens when a
result is out of specification (a deviation, an OOS investigation) is the calling area's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.db import STORABLE_IDS, get_record
from lims.equipment.errors import EquipmentUnusable
from lims.equipment.models import Equipment, EquipmentType, EquipmentUse
from lims.equipment.service import use
from lims.errors import AlreadyExists, DetailMissing
from lims.identity.models import User
from lims.signatures import service as signatures
from lims.signatures.errors import AlreadySigned
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.testing.errors import ResultReplaced, ResultUnreadable, UnknownInstrument, WrongInstrument
from lims.testing.models import ResultKind, TestDefinition, TestResult
from lims.training import service as training
from lims.units.errors import IncompatibleUnits, PhysicallyImpossible, UnitError
from lims.units.kinds import ValueKind, default_kind, require_kind_fits_unit, require_possible
from lims.units.limits import Limit
from lims.units.measurement import Measurement
from lims.units.parsing import parse_in_unit, parse_limit, unit_text


def list_definitions(session: Session) -> list[TestDefinition]:
    return list(session.scalars(select(TestDefinition).order_by(TestDefinition.code)))


def get_definition(session: Session, definition_id: int) -> TestDefinition:
    return get_record(session, TestDefinition, definition_id, "test definition")


def get_result(session: Session, result_id: int) -> TestResult:
    return get_record(session, TestResult, result_id, "test result")


def quantitative_limit(definition: TestDefinition | str, unit: str) -> Limit:
    """The limit a quantitative specification states, checked against the unit results are reported in."""
    specification = definition if isinstance(definition, str) else definition.specification
    limit = parse_limit(specification)
    try:
        limit.require_compatible_with(unit)
    except IncompatibleUnits as error:
        raise IncompatibleUnits(
            f"The specification {specification} is not in units compatible with {unit or 'a number'}.",
            field="specification",
        ) from error
    return limit


def create_definition(
    session: Session,
    *,
    code: str,
    name: str,
    method: str,
    result_kind: ResultKind,
    unit: str,
    specification: str,
    value_kind: ValueKind | None = None,
    instrument_type: EquipmentType | None = None,
) -> TestDefinition:
    """Define a test; a quantitative specification must be a limit in units compatible with the result unit, and
    its value kind (by default: non-negative in a unit with a dimension, else signed) says which results are
    physically possible. With an instrument type, every result names an instrument of that type."""
    code = code.strip().upper()
    if session.scalar(select(TestDefinition.id).where(TestDefinition.code == code)) is not None:
        raise AlreadyExists(f"A test with the code {code} is already defined.", field="code")
    specification = specification.strip()
    if not specification:
        raise DetailMissing("State the specification results are judged against.", field="specification")
    if result_kind == ResultKind.QUANTITATIVE:
        unit = unit_text(unit) if unit.strip() else ""
        quantitative_limit(specification, unit)
        value_kind = value_kind or default_kind(unit)
        require_kind_fits_unit(value_kind, unit)
    else:
        unit, value_kind = "", None
    definition = TestDefinition(
        code=code,
        name=name.strip(),
        method=method.strip(),
        result_kind=result_kind,
        unit=unit,
        specification=specification,
        value_kind=value_kind,
        instrument_type=instrument_type,
        created_at=clock.now(),
    )
    session.add(definition)
    session.flush()
    return definition


def judge(definition: TestDefinition, specification: str, reported: str) -> tuple[Measurement | None, str | None, bool]:
    """Parse a reported result and say whether it meets ``specification``: (measured, observation, conforms)."""
    reported = reported.strip()
    if not reported:
        raise DetailMissing("Enter the result.", field="result")
    if definition.result_kind == ResultKind.QUALITATIVE:
        return None, reported, reported.casefold() == specification.strip().casefold()
    try:
        measured = parse_in_unit(reported, definition.unit)
        conforms = quantitative_limit(specification, definition.unit).conforms(measured)
    except (UnitError, IncompatibleUnits) as error:
        raise ResultUnreadable(
            f"{reported} is not a result in {definition.unit or 'a number'}: {error.message}", field="result"
        ) from error
    try:
        require_possible(measured, definition.value_kind or ValueKind.SIGNED)
    except PhysicallyImpossible as error:
        raise PhysicallyImpossible(f"{definition.name}: {error.message}", field="result") from error
    return measured, None, conforms


def record_result(
    session: Session,
    definition: TestDefinition,
    *,
    tested_type: str,
    tested_id: object,
    specification: str,
    reported: str,
    user: User,
    instrument_id: int | None = None,
) -> TestResult:
    """Record a result judged against ``specification`` (the tested item's own copy of the test's spec); the
    analyst has training in force on the test method, and the instrument named is of the test's instrument type
    and usable (its use is recorded through the equipment area's one rule)."""
    training.require_training(session, user, definition.training_subject)
    measured, observation, conforms = judge(definition, specification, reported)
    instrument = _instrument(session, definition, instrument_id)
    result = TestResult(
        definition=definition,
        tested_type=tested_type,
        tested_id=str(tested_id),
        specification=specification,
        measured=measured,
        observation=observation,
        conforms=conforms,
        recorded_by_id=user.id,
        recorded_at=clock.now(),
        instrument=instrument,
    )
    session.add(result)
    session.flush()
    if instrument is not None:
        use.record_use(
            session,
            instrument,
            user=user,
            record_type=INSTRUMENT_USE_RECORD_TYPE,
            record_id=result.id,
            purpose=f"{definition.code} {definition.name}",
            due_soon_days=_DUE_SOON_DOES_NOT_MATTER,
        )
    return result


#: the ``record_type`` of the equipment use a result records for its instrument (its ``record_id`` is the result's id)
INSTRUMENT_USE_RECORD_TYPE = TestResult.__tablename__

#: a use is refused for what blocks it (overdue, out of tolerance...), never for a calibration merely due soon
_DUE_SOON_DOES_NOT_MATTER = 0


def _instrument(session: Session, definition: TestDefinition, instrument_id: int | None) -> Equipment | None:
    """The instrument a result names: registered, of the test's instrument type, and usable now."""
    if instrument_id is None:
        if definition.instrument_type is not None:
            raise DetailMissing(
                f"Choose the {definition.instrument_type.value} {definition.name} was measured on.",
                field="instrument_id",
            )
        return None
    instrument = session.get(Equipment, instrument_id) if instrument_id in STORABLE_IDS else None
    if instrument is None:
        raise UnknownInstrument(
            f"The instrument chosen (id {instrument_id}) is not registered equipment; choose one from the list.",
            field="instrument_id",
        )
    if definition.instrument_type is not None and instrument.equipment_type != definition.instrument_type:
        raise WrongInstrument(
            f"{instrument.asset_tag} is a {instrument.equipment_type.value}; {definition.name} is measured on a "
            f"{definition.instrument_type.value}.",
            field="instrument_id",
        )
    try:
        use.require_usable(session, instrument, due_soon_days=_DUE_SOON_DOES_NOT_MATTER)
    except EquipmentUnusable as error:
        raise type(error)(error.message, field="instrument_id") from error
    return instrument


def correct_result(session: Session, result: TestResult, *, reported: str, reason: str, user: User) -> TestResult:
    """Replace a result with a corrected one; the original stays on the record, marked as replaced."""
    if not reason.strip():
        raise ReasonRequired("Give the reason for the correction.")
    if result.replaced:
        raise ResultReplaced("This result was already corrected; correct the newest result instead.")
    training.require_training(session, user, result.definition.training_subject)
    measured, observation, conforms = judge(result.definition, result.specification, reported)
    correction = TestResult(
        definition=result.definition,
        tested_type=result.tested_type,
        tested_id=result.tested_id,
        specification=result.specification,
        measured=measured,
        observation=observation,
        conforms=conforms,
        recorded_by_id=user.id,
        recorded_at=clock.now(),
        replaces_id=result.id,
        correction_reason=reason.strip(),
        # A correction fixes what was written down; the measurement and its instrument stay as they were.
        instrument_id=result.instrument_id,
    )
    with audit_context.reason_for_change(session, reason.strip()):
        session.add(correction)
        result.replaced = True
    session.flush()
    return correction


def current_results(session: Session, tested_type: str, tested_ids: list[object]) -> list[TestResult]:
    """The results in force (not replaced) for the tested items, oldest first."""
    if not tested_ids:
        return []
    return list(
        session.scalars(
            select(TestResult)
            .where(
                TestResult.tested_type == tested_type,
                TestResult.tested_id.in_([str(i) for i in tested_ids]),
                TestResult.replaced.is_(False),
            )
            .order_by(TestResult.recorded_at, TestResult.id)
        )
    )


def all_results(session: Session, tested_type: str, tested_id: object) -> list[TestResult]:
    """Every result of a tested item, replaced ones included (for the full record)."""
    return list(
        session.scalars(
            select(TestResult)
            .where(TestResult.tested_type == tested_type, TestResult.tested_id == str(tested_id))
            .order_by(TestResult.recorded_at, TestResult.id)
        )
    )


def instrument_uses(session: Session, results: Sequence[TestResult]) -> list[EquipmentUse]:
    """The equipment uses the results recorded for their instruments, oldest first (one query)."""
    if not results:
        return []
    return list(
        session.scalars(
            select(EquipmentUse)
            .where(
                EquipmentUse.record_type == INSTRUMENT_USE_RECORD_TYPE,
                EquipmentUse.record_id.in_([str(result.id) for result in results]),
            )
            .order_by(EquipmentUse.used_at, EquipmentUse.id)
        )
    )


def is_verified(session: Session, result: TestResult) -> bool:
    return bool(signatures.signers_with_meaning(session, result, SignatureMeaning.VERIFIED))


def check_verification(session: Session, result: TestResult, _meaning: SignatureMeaning, user: User) -> None:
    """The result's signing rule: verified once, in its latest form, by someone other than who recorded it and
    trained on the test method."""
    if result.replaced:
        raise ResultReplaced("This result was replaced by a correction; verify the correction.")
    if is_verified(session, result):
        raise AlreadySigned("This result is already verified.")
    signatures.require_different_person(user, [result.recorded_by_id], earlier_role="recorded")
    training.require_training(session, user, result.definition.training_subject)


def verifiable_results(
    session: Session,
    results: Sequence[TestResult],
    user: User,
    signed: Mapping[int, list[tuple[ElectronicSignature, signatures.SignatureStatus]]],
) -> set[int]:
    """The ids of ``results`` that ``user`` may verify now, by ``check_verification``'s rules and the signing roles:
    for a page that offers each result's verification, in one statement however many results it shows. ``signed``
    holds each result's signatures by its id (``signatures.signatures_of_many``)."""
    if user.must_change_password or not signatures.role_may_sign(user, TestResult, SignatureMeaning.VERIFIED):
        return set()
    candidates = [
        result
        for result in results
        if not result.replaced
        and not signatures.holding(signed[result.id], SignatureMeaning.VERIFIED)
        and result.recorded_by_id != user.id
    ]
    trained = training.subjects_in_force(session, user, {result.definition.training_subject for result in candidates})
    return {result.id for result in candidates if result.definition.training_subject in trained}


def definitions_as_training_subjects(session: Session) -> list[str]:
    """The test methods an analyst is trained on to record or verify results (for the training form)."""
    return [definition.training_subject for definition in list_definitions(session)]
