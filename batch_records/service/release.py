"""Release of a batch: its QC release tests (the rules of results live in ``lims.testing``; a result out of
specification raises a deviation), QA's review by exception, and QA's disposition with a signature."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from batch_records.errors import (
    AlreadyInQuarantine,
    AlreadyRecorded,
    BatchLocked,
    DispositionByContributor,
    QcSamplesNotTaken,
    ReleaseRefused,
)
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
    DeviationStatus,
    StepStatus,
)
from batch_records.service import batches, deviations, execution, impact, step_uses
from lims import clock
from lims.audit import context as audit_context
from lims.audit.chain import entity_key
from lims.audit.errors import ReasonRequired
from lims.audit.naming import RecordKey
from lims.audit.trail import record_and_parts
from lims.db import get_record, lock_for_update
from lims.equipment.models import ImpactAssessment
from lims.errors import RecordNotFound
from lims.identity.models import User
from lims.review.models import TrailReview
from lims.review.service import trail as trail_reviews
from lims.signatures import service as signatures
from lims.signatures.errors import MeaningNotAllowed
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import TestResult
from protocols.models import Subject

# QC release tests

#: the kind of record the release results of a batch are recorded against in lims.testing (the kind an impact
#: assessment judges too, so it finds the batch of a result's instrument use)
BATCH = impact.BATCH


def get_release_test(session: Session, release_test_id: int) -> BatchReleaseTest:
    return get_record(session, BatchReleaseTest, release_test_id, "release test")


def record_release_result(
    session: Session, release_test: BatchReleaseTest, reported: str, *, user: User, instrument_id: int | None = None
) -> TestResult:
    """Record a release test result against the batch's copy of the specification, on the instrument named, once
    QC has its samples."""
    batch = release_test.batch
    batches.lock_open_batch(session, batch)
    require_qc_samples(batch)
    if any(not result.replaced for result in results_of_test(session, release_test)):
        raise AlreadyRecorded(f"{release_test.definition.name} already has a result; correct it with a reason instead.")
    result = testing.record_result(
        session,
        release_test.definition,
        tested_type=BATCH,
        tested_id=batch.id,
        specification=release_test.specification,
        reported=reported,
        user=user,
        instrument_id=instrument_id,
    )
    if not result.conforms:
        _raise_for_result(session, batch, result, user)
    return result


def correct_release_result(
    session: Session, result: TestResult, reported: str, *, reason: str, user: User
) -> TestResult:
    batch = batches.get_batch(session, int(result.tested_id))
    batches.lock_open_batch(session, batch)
    session.refresh(result)
    correction = testing.correct_result(session, result, reported=reported, reason=reason, user=user)
    if not correction.conforms:
        _raise_for_result(session, batch, correction, user)
    return correction


def qc_sampling_step(batch: Batch) -> BatchStep | None:
    """The step at which the master record says QC takes the release samples."""
    return next((step for step in batch.steps if step.qc_sampling), None)


def qc_samples_taken(batch: Batch) -> bool:
    step = qc_sampling_step(batch)
    return step is not None and step.status == StepStatus.COMPLETED


def require_qc_samples(batch: Batch) -> None:
    """Release results exist only once QC has samples: from the completion of the master's QC sampling step."""
    step = qc_sampling_step(batch)
    if step is None:
        raise QcSamplesNotTaken(
            f"The master record {batch.mbr_label} names no step where QC samples are taken; "
            "no release result can be entered."
        )
    if step.status != StepStatus.COMPLETED:
        raise QcSamplesNotTaken(
            f"QC samples are taken at step {step.position} ({step.title}), which is {step.status.value}; "
            "release results are entered once it is completed."
        )


def _raise_for_result(session: Session, batch: Batch, result: TestResult, user: User) -> Deviation:
    return deviations.raise_deviation(
        session,
        batch,
        user=user,
        test_result=result,
        description=f"Release test {result.definition.name} out of specification: {result.reported} "
        f"against {result.specification}.",
    )


def results_of_test(session: Session, release_test: BatchReleaseTest) -> list[TestResult]:
    return [
        result
        for result in testing.all_results(session, BATCH, release_test.batch_id)
        if result.definition_id == release_test.definition_id
    ]


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


# Review by exception and disposition


@dataclass(frozen=True)
class StepRecord:
    """A step as the reviewer and the PDF see it: entries, uses and signatures, loaded for the whole batch at once."""

    step: BatchStep
    uses: step_uses.StepUses
    signatures: list[tuple[ElectronicSignature, signatures.SignatureStatus]]

    def valid_signers(self, meaning: SignatureMeaning) -> list[ElectronicSignature]:
        return signatures.holding(self.signatures, meaning)

    @property
    def verification_gap(self) -> str | None:
        step = self.step
        if step.status == StepStatus.SKIPPED:
            if not self.valid_signers(SignatureMeaning.SKIPPED):
                return f"Step {step.position} ({step.title}): the skipping signature is missing or invalidated"
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
    skipped: list[StepRecord] = field(default_factory=list)
    #: open out-of-tolerance impact assessments that list a use of equipment in this batch
    open_impact_assessments: list[ImpactAssessment] = field(default_factory=list)
    disposition: list[tuple[ElectronicSignature, signatures.SignatureStatus]] = field(default_factory=list)
    #: the records besides the batch's parts whose events its audit trail holds, each to the part whose group it
    #: joins (``trail_records``)
    trail: dict[RecordKey, RecordKey] = field(default_factory=dict)
    #: QA's review of the batch's audit trail: the newest signed one, and the events since
    trail_review: trail_reviews.RecordTrailState = field(default_factory=trail_reviews.RecordTrailState)
    #: release results and deviations are left out: a client sees them once QA has released or rejected the batch
    results_withheld: bool = False

    @property
    def open_deviations(self) -> list[Deviation]:
        return [deviation for deviation in self.deviations if deviation.status == DeviationStatus.OPEN]

    @property
    def blockers(self) -> list[str]:
        """Why the batch cannot be released yet; empty when it can."""
        return (
            [*self.verification_gaps]
            + [f"Deviation {deviation.number} is open" for deviation in self.open_deviations]
            + [impact.describe_blocker(assessment) for assessment in self.open_impact_assessments]
            + [problem for state in self.release_tests if (problem := state.problem)]
        )

    @property
    def release_blockers(self) -> list[str]:
        """Why the batch cannot be released yet, its audit trail's review included (QA reviews the trail once the
        record is otherwise ready); empty when it can."""
        trail_problem = self.trail_review.problem(f"batch {self.batch.batch_number}")
        return [*self.blockers, *([trail_problem] if trail_problem else [])]

    @property
    def exception_count(self) -> int:
        return (
            len(self.open_deviations)
            + len(self.out_of_limit)
            + len(self.corrections)
            + len(self.late_entries)
            + len(self.verification_gaps)
            + len(self.yields_outside)
            + len(self.skipped)
            + len(self.open_impact_assessments)
        )

    def work_of(self, user: User) -> list[str]:
        """What ``user`` did on the batch that bars them from signing its disposition: performing, skipping,
        recording on or verifying a step, recording or verifying a release result."""
        done: dict[str, None] = {}
        for record in self.steps:
            step = record.step
            signed = {signature.meaning for signature, _status in record.signatures if signature.signer_id == user.id}
            if SignatureMeaning.SKIPPED in signed or (
                step.status == StepStatus.SKIPPED and step.performed_by_id == user.id
            ):
                done[f"skipped step {step.position}"] = None
            if SignatureMeaning.PERFORMED in signed or (
                step.status == StepStatus.COMPLETED and step.performed_by_id == user.id
            ):
                done[f"performed step {step.position}"] = None
            if any(entry.entered_by_id == user.id for parameter in step.parameters for entry in parameter.entries):
                done[f"recorded a value on step {step.position}"] = None
            if SignatureMeaning.VERIFIED in signed:
                done[f"verified step {step.position}"] = None
        for result in self.results:
            if result.recorded_by_id == user.id:
                done[f"recorded the {result.definition.name} result"] = None
            if any(
                signature.signer_id == user.id and signature.meaning == SignatureMeaning.VERIFIED
                for signature, _status in self.result_signatures[result.id]
            ):
                done[f"verified the {result.definition.name} result"] = None
        return list(done)

    def disposition_barred(self, user: User) -> str | None:
        """Why ``user`` may not release or reject the batch though QA (segregation of duties); None if they may."""
        work = self.work_of(user)
        if not work:
            return None
        return (
            f"You {_listed(work)} of batch {self.batch.batch_number}: its release or rejection is signed by "
            "someone who did not work on it."
        )


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def review(session: Session, batch_id: int) -> BatchReview:
    """Everything about a batch for QA's review, in a bounded number of queries whatever its size."""
    batch = session.scalar(
        select(Batch)
        .where(Batch.id == batch_id)
        .options(
            selectinload(Batch.subject).selectinload(Subject.protocol),
            selectinload(Batch.steps)
            .selectinload(BatchStep.parameters)
            .selectinload(BatchParameter.entries)
            .selectinload(BatchEntry.entered_by),
            selectinload(Batch.steps).selectinload(BatchStep.materials).selectinload(BatchMaterial.material),
            selectinload(Batch.steps).selectinload(BatchStep.performed_by),
            selectinload(Batch.release_tests).selectinload(BatchReleaseTest.definition),
            selectinload(Batch.deviations).selectinload(Deviation.raised_by),
        )
    )
    if batch is None:
        raise RecordNotFound(f"There is no batch with id {batch_id}.")
    signed = signatures.signatures_of_many(session, batch.steps)
    uses = step_uses.uses_of_steps(session, batch.steps)
    steps = [StepRecord(step, uses[step.id], signed[step.id]) for step in batch.steps]
    results = testing.all_results(session, BATCH, batch.id)
    outcome = BatchReview(
        batch=batch,
        steps=steps,
        release_tests=release_test_states(session, batch),
        results=results,
        result_signatures=signatures.signatures_of_many(session, results),
        deviations=sorted(batch.deviations, key=lambda d: (d.status != DeviationStatus.OPEN, d.id)),
        disposition=signatures.signatures_of(session, batch),
    )
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
        if execution.yield_within_limits(record.step) is False:
            outcome.yields_outside.append(record.step)
        if record.step.status == StepStatus.SKIPPED:
            outcome.skipped.append(record)
    outcome.open_impact_assessments = impact.open_assessments_of_uses(
        session,
        [use for record in steps for use in record.uses.equipment] + testing.instrument_uses(session, results),
    )
    outcome.trail = trail_records(outcome)
    outcome.trail_review = trail_reviews.record_trail_state(session, entity_key(batch), trail_of(outcome))
    return outcome


def trail_records(outcome: BatchReview) -> dict[RecordKey, RecordKey]:
    """The records besides the batch's parts whose events its audit trail holds, each to the part whose group it
    joins: a deviation to itself, a QC result to its release test, an equipment use or lot consumption to its step."""
    batch_key = entity_key(outcome.batch)
    release_tests = {test.definition_id: entity_key(test) for test in outcome.batch.release_tests}
    records = {entity_key(deviation): entity_key(deviation) for deviation in outcome.deviations}
    records.update(
        {entity_key(result): release_tests.get(result.definition_id, batch_key) for result in outcome.results}
    )
    for step_record in outcome.steps:
        for use in [*step_record.uses.equipment, *step_record.uses.consumptions]:
            records[entity_key(use)] = entity_key(step_record.step)
    return records


def trail_of(outcome: BatchReview) -> list[RecordKey]:
    """Every record whose events make up the batch's audit trail: the batch, its parts and ``trail_records``."""
    return [*record_and_parts(outcome.batch), *outcome.trail]


def review_trail(
    session: Session,
    batch: Batch,
    *,
    comment: str,
    user: User,
    password: str,
    client_address: str | None = None,
) -> TrailReview:
    """Sign QA's review of the batch's audit trail as it stands; its release needs one that nothing came after."""
    outcome = review(session, batch.id)
    return trail_reviews.review_record(
        session,
        entity_key(batch),
        label=f"batch {batch.batch_number}",
        trail=trail_of(outcome),
        comment=comment,
        user=user,
        password=password,
        client_address=client_address,
    )


def record_for_client(session: Session, batch: Batch) -> BatchReview:
    """A batch's record as its sponsor sees it: release results and deviation numbers only once QA has released
    or rejected the batch, so a client never acts on results QA has not judged."""
    outcome = review(session, batch.id)
    if outcome.batch.status in FINAL_BATCH_STATUSES:
        return outcome
    return replace(
        outcome,
        release_tests=[ReleaseTestState(state.test, None, []) for state in outcome.release_tests],
        results=[],
        result_signatures={},
        deviations=[],
        results_withheld=True,
    )


DISPOSITIONS = {
    SignatureMeaning.RELEASED: BatchStatus.RELEASED,
    SignatureMeaning.REJECTED: BatchStatus.REJECTED,
    SignatureMeaning.QUARANTINED: BatchStatus.QUARANTINED,
}


def dispose(
    session: Session,
    batch: Batch,
    meaning: SignatureMeaning,
    *,
    user: User,
    password: str,
    reason: str | None = None,
    client_address: str | None = None,
) -> ElectronicSignature:
    """QA's disposition of a batch with a signature; rejecting or quarantining states why."""
    if meaning not in DISPOSITIONS:
        raise MeaningNotAllowed(f"{meaning.value} is not a disposition of a batch.", field="meaning")
    reason = (reason or "").strip()
    if meaning != SignatureMeaning.RELEASED and not reason:
        raise ReasonRequired(f"Say why the batch is {meaning.value}.")
    # The password is proven before the reason is written: a refused signature leaves the batch as it was.
    signatures.reauthenticate_to_sign(session, batch, meaning, user, password=password, client_address=client_address)
    if reason:
        _check_disposition_allowed(session, batch, meaning, user)
        with audit_context.reason_for_change(session, f"Disposition reason: {reason}"):
            batch.disposition_reason = reason
    return signatures.sign(session, batch, meaning=meaning, user=user, password=password, client_address=client_address)


#: the dispositions that decide a batch's fate, which nobody who worked on the batch signs
FINAL_DISPOSITIONS = frozenset({SignatureMeaning.RELEASED, SignatureMeaning.REJECTED})


def _check_disposition_allowed(session: Session, batch: Batch, meaning: SignatureMeaning, user: User) -> None:
    lock_for_update(session, batch)
    if batch.status in FINAL_BATCH_STATUSES:
        raise BatchLocked(f"Batch {batch.batch_number} is already {batch.status.value}.")
    if meaning == SignatureMeaning.QUARANTINED and batch.status == BatchStatus.QUARANTINED:
        raise AlreadyInQuarantine(f"Batch {batch.batch_number} is already in quarantine.")
    if meaning not in FINAL_DISPOSITIONS:
        return
    outcome = review(session, batch.id)
    if (barred := outcome.disposition_barred(user)) is not None:
        raise DispositionByContributor(barred)
    if meaning == SignatureMeaning.RELEASED and outcome.release_blockers:
        raise ReleaseRefused(f"Batch {batch.batch_number} cannot be released: {'; '.join(outcome.release_blockers)}.")


def check_batch_signature(session: Session, batch: Batch, meaning: SignatureMeaning, user: User) -> None:
    _check_disposition_allowed(session, batch, meaning, user)
    if meaning != SignatureMeaning.RELEASED and not batch.disposition_reason:
        raise ReasonRequired(f"Say why the batch is {meaning.value}.")


def apply_batch_disposition(session: Session, batch: Batch, meaning: SignatureMeaning, _user: User) -> None:
    with audit_context.reason_for_change(session, f"Batch {meaning.value} by QA"):
        batch.status = DISPOSITIONS[meaning]
        batch.disposition_at = clock.now()


def next_after_disposition(
    _session: Session, batch: Batch, meaning: SignatureMeaning, _user: User
) -> signatures.NextStep:
    """After QA's disposition of a batch: what it means, and the batches still waiting for review."""
    done = {
        SignatureMeaning.RELEASED: f"Batch {batch.batch_number} is released and its certificate issued.",
        SignatureMeaning.REJECTED: f"Batch {batch.batch_number} is rejected.",
        SignatureMeaning.QUARANTINED: f"Batch {batch.batch_number} is held in quarantine until QA decides.",
    }[meaning]
    return signatures.NextStep(
        done, "Batches awaiting review", "batch_records.batches", (("status", BatchStatus.AWAITING_REVIEW.value),)
    )


def count_awaiting_review(session: Session) -> int:
    """How many batches wait for QA's review and disposition: every step done, or held in quarantine."""
    return (
        session.scalar(
            select(func.count(Batch.id)).where(Batch.status.in_([BatchStatus.AWAITING_REVIEW, BatchStatus.QUARANTINED]))
        )
        or 0
    )
