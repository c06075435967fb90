"""Sample results: tests assigned from the shared test definitions, results entered and judged against the
specification by testing's one rule, verified by a second person (testing's signing rule), corrected with a
reason; and the out-of-specification results waiting for QA.

A sample's test keeps its result in force (``SampleTest.result_id``) and whether it is out of specification, so
that every list of results is one join, and QA's queue is one indexed count, whatever their history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from lims import clock
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.db import STORABLE_IDS, lock_for_update
from lims.errors import RecordNotFound
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.samples.errors import AlreadyAssigned, NotTestable, ResultAlreadyRecorded
from lims.samples.models import Sample, SampleStatus, SampleTest, Submission, SubmissionStatus
from lims.samples.service import submissions
from lims.signatures import service as signatures
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import TestDefinition, TestResult

#: the ``tested_type`` of a sample's results in testing's table (its ``tested_id`` is the sample test's id)
TESTED_TYPE = SampleTest.__tablename__
#: the samples whose tests and results the lab still works on
TESTABLE = frozenset({SampleStatus.RECEIVED, SampleStatus.IN_TESTING})


def get_test(session: Session, test_id: int) -> SampleTest:
    test = session.get(SampleTest, test_id) if test_id in STORABLE_IDS else None
    if test is None:
        raise RecordNotFound("There is no such test of a sample.")
    return test


def test_of_result(session: Session, result: TestResult) -> SampleTest:
    """The sample's test a result (in force or replaced) belongs to."""
    if result.tested_type != TESTED_TYPE:
        raise RecordNotFound("There is no such result of a sample.")
    return get_test(session, int(result.tested_id))


def tests_of(session: Session, samples: Sequence[Sample]) -> dict[int, list[SampleTest]]:
    """The tests of each sample with their definitions and results in force, by sample id (one query)."""
    found: dict[int, list[SampleTest]] = {sample.id: [] for sample in samples}
    if not samples:
        return found
    for test in session.scalars(
        select(SampleTest)
        .options(
            joinedload(SampleTest.definition),
            joinedload(SampleTest.result).joinedload(TestResult.recorded_by),
        )
        .where(SampleTest.sample_id.in_(list(found)))
        .order_by(SampleTest.sample_id, SampleTest.id)
    ):
        found[test.sample_id].append(test)
    return found


def is_testable(sample: Sample) -> bool:
    """Whether tests may be assigned to the sample and its results entered: accepted, its results not released."""
    if sample.status == SampleStatus.RECEIVED:
        # An untested retention aliquot keeps "received" through its submission's release, which was its last.
        return sample.submission.status != SubmissionStatus.RESULTS_RELEASED
    return sample.status in TESTABLE


def _require_testable(sample: Sample) -> None:
    if is_testable(sample):
        return
    name = sample.accession_number or sample.client_sample_id
    if sample.status == SampleStatus.RECEIVED:
        raise NotTestable(
            f"Sample {name} was kept untested when its submission's results were released: tests and results are "
            "for accepted samples whose results are not yet released."
        )
    raise NotTestable(
        f"Sample {name} is {sample.status.value}: tests and results are for accepted samples whose results are not "
        "yet released."
    )


def assign_tests(
    session: Session, sample: Sample, definitions: Sequence[TestDefinition], *, user: User, requested: bool
) -> list[SampleTest]:
    """Assign tests to an accepted sample (each once), judged against each definition's specification of today;
    a received sample goes into testing with its first test."""
    _require_testable(sample)
    lock_for_update(session, sample)
    assigned = set(session.scalars(select(SampleTest.definition_id).where(SampleTest.sample_id == sample.id)))
    duplicates = [definition.code for definition in definitions if definition.id in assigned]
    if duplicates:
        raise AlreadyAssigned(
            f"{', '.join(duplicates)} {'is' if len(duplicates) == 1 else 'are'} already assigned to this sample.",
            field="definition_id",
        )
    tests = [
        SampleTest(
            sample_id=sample.id,
            submission_id=sample.submission_id,
            organization_id=sample.organization_id,
            definition_id=definition.id,
            specification=definition.specification,
            requested=requested,
            assigned_at=clock.now(),
            assigned_by_id=user.id,
            out_of_specification=False,
        )
        for definition in definitions
    ]
    session.add_all(tests)
    session.flush()
    if tests and sample.status == SampleStatus.RECEIVED:
        submissions.move_samples(session, [sample], SampleStatus.IN_TESTING, reason="Testing started")
    return tests


def assign_requested_tests(session: Session, sample: Sample, *, user: User) -> list[SampleTest]:
    """Assign the tests the client asked for on the manifest that the sample does not have yet."""
    assigned = select(SampleTest.definition_id).where(SampleTest.sample_id == sample.id)
    definitions = list(
        session.scalars(
            select(TestDefinition)
            .where(TestDefinition.code.in_(sample.requested_test_codes), TestDefinition.id.not_in(assigned))
            .order_by(TestDefinition.code)
        )
    )
    if not definitions:
        raise AlreadyAssigned("Every test the manifest asks for is assigned already.")
    return assign_tests(session, sample, definitions, user=user, requested=True)


def assign_test(session: Session, sample: Sample, definition_id: int, *, user: User) -> SampleTest:
    """Assign one test the lab chose from the shared definitions."""
    definition = session.get(TestDefinition, definition_id) if definition_id in STORABLE_IDS else None
    if definition is None:
        raise RecordNotFound("There is no such test definition; choose one from the list.", field="definition_id")
    (test,) = assign_tests(
        session, sample, [definition], user=user, requested=definition.code in sample.requested_test_codes
    )
    return test


def record_result(
    session: Session, test: SampleTest, reported: str, *, user: User, instrument_id: int | None = None
) -> TestResult:
    """Enter a test's result, judged against the specification the test was assigned with."""
    _require_testable(test.sample)
    lock_for_update(session, test)
    if test.result_id is not None:
        raise ResultAlreadyRecorded(
            f"{test.definition.name} has a result already; correct it, giving the reason.", field="result"
        )
    result = testing.record_result(
        session,
        test.definition,
        tested_type=TESTED_TYPE,
        tested_id=test.id,
        specification=test.specification,
        reported=reported,
        user=user,
        instrument_id=instrument_id,
    )
    with audit_context.reason_for_change(session, f"{test.definition.code} result recorded"):
        _put_in_force(test, result)
    if test.sample.status == SampleStatus.RECEIVED:
        submissions.move_samples(session, [test.sample], SampleStatus.IN_TESTING, reason="Testing started")
    return result


def correct_result(session: Session, test: SampleTest, reported: str, *, reason: str, user: User) -> TestResult:
    """Replace the result in force with a corrected one for the reason given; the original stays on record."""
    reason = reason.strip()
    if not reason:
        raise ReasonRequired("Give the reason for the correction; it is kept in the audit trail.", field="reason")
    _require_testable(test.sample)
    lock_for_update(session, test)
    if test.result is None:
        raise NotTestable(f"{test.definition.name} has no result to correct; enter it instead.")
    correction = testing.correct_result(session, test.result, reported=reported, reason=reason, user=user)
    with audit_context.reason_for_change(session, reason):
        _put_in_force(test, correction)
    return correction


def _put_in_force(test: SampleTest, result: TestResult) -> None:
    test.result = result
    test.result_id = result.id
    test.out_of_specification = not result.conforms


def history_of(session: Session, tests: Sequence[SampleTest]) -> dict[int, list[TestResult]]:
    """Every result of each test, replaced ones included, oldest first, by test id (one query)."""
    found: dict[int, list[TestResult]] = {test.id: [] for test in tests}
    if not tests:
        return found
    for result in session.scalars(
        select(TestResult)
        .options(joinedload(TestResult.recorded_by))
        .where(TestResult.tested_type == TESTED_TYPE, TestResult.tested_id.in_([str(test.id) for test in tests]))
        .order_by(TestResult.recorded_at, TestResult.id)
    ):
        found[int(result.tested_id)].append(result)
    return found


def verifications_of(
    session: Session, tests: Sequence[SampleTest]
) -> dict[int, list[tuple[ElectronicSignature, signatures.SignatureStatus]]]:
    """The signatures on each test's result in force, by result id (one query)."""
    return signatures.signatures_of_many(session, [test.result for test in tests if test.result is not None])


def is_verified(signed: Sequence[tuple[ElectronicSignature, signatures.SignatureStatus]]) -> bool:
    return bool(signatures.holding(signed, SignatureMeaning.VERIFIED))


# QA's queue of results out of specification


def _out_of_specification() -> Any:
    """The tests whose result in force is out of specification, on samples whose results are not yet released."""
    return (
        select(SampleTest)
        .join(Sample, Sample.id == SampleTest.sample_id)
        .where(SampleTest.out_of_specification.is_(True), Sample.status.in_(TESTABLE))
    )


def count_out_of_specification(session: Session) -> int:
    """How many results on QA's queue: one statement."""
    return session.scalar(_out_of_specification().with_only_columns(func.count(SampleTest.id))) or 0


def out_of_specification_after(
    session: Session, *, after: tuple[Any, ...] | None, limit: int
) -> KeysetPage[SampleTest]:
    """The queue oldest first, a page at a time (keyset on the test's id), each with its sample and submission."""
    query = _out_of_specification().options(
        joinedload(SampleTest.definition),
        joinedload(SampleTest.result),
        joinedload(SampleTest.sample).joinedload(Sample.submission).joinedload(Submission.organization),
    )
    return page_after(session, query, (SampleTest.id,), after=after, limit=limit)
