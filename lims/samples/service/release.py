"""QA's release of a submission's results to the client, with an electronic signature, and what the client then
reads of them (page, CSV, API): released results only, its own organization's only.

A submission's results are releasable once no sample is still expected and every accepted sample has its tests,
each with a result in force verified by a second person. Out-of-specification results are released as they are,
judged "does not conform": QA's release is the decision on them. The signature moves the samples to "results
released" (announced to the client), and other areas follow it (the certificates area issues the signed results
report in the same transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from lims import clock
from lims.audit.chain import canonical_json
from lims.db import lock_for_update
from lims.identity.models import RoleName, User
from lims.identity.service.sign_in import reauthenticate
from lims.samples.errors import NotReleasable
from lims.samples.models import ResultRelease, Sample, SampleStatus, SampleTest, Submission, SubmissionStatus
from lims.samples.service import results, submissions
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.testing.models import TestResult

RELEASED = SignatureMeaning.RELEASED
RELEASERS = frozenset({RoleName.QA})
#: the submission statuses from which its results may be released (no sample still expected)
_RELEASABLE = frozenset({SubmissionStatus.RECEIVED, SubmissionStatus.IN_TESTING})


@dataclass(frozen=True)
class ReleaseReview:
    """What QA reviews before releasing a submission's results."""

    submission: Submission
    #: the accepted samples (rejected ones have no results), in manifest order
    samples: list[Sample]
    tests: dict[int, list[SampleTest]]
    #: the signatures on each result in force, by result id
    verifications: dict[int, list[tuple[ElectronicSignature, signatures.SignatureStatus]]]
    release: ResultRelease | None
    #: what stands in the way of the release, in the lab's words (nothing when it may be released)
    problems: list[str]


def review(session: Session, submission: Submission) -> ReleaseReview:
    """The submission's accepted samples, their tests and verifications, and what stops their release."""
    samples = [
        sample
        for sample in submissions.samples_of(session, submission)
        if sample.status in (SampleStatus.RECEIVED, SampleStatus.IN_TESTING, SampleStatus.RESULTS_RELEASED)
    ]
    tests = results.tests_of(session, samples)
    verifications = results.verifications_of(session, [test for found in tests.values() for test in found])
    release = release_of(session, submission)
    return ReleaseReview(
        submission,
        samples,
        tests,
        verifications,
        release,
        _problems(submission, samples, tests, verifications, release),
    )


def _problems(
    submission: Submission,
    samples: list[Sample],
    tests: dict[int, list[SampleTest]],
    verifications: dict[int, list[tuple[ElectronicSignature, signatures.SignatureStatus]]],
    release: ResultRelease | None,
) -> list[str]:
    if release is not None:
        return [f"The results were released on {release.released_at:%Y-%m-%d %H:%M} UTC."]
    if submission.status not in _RELEASABLE:
        return [f"The submission is {submission.status.value}: its results are released once every sample is in."]
    problems = []
    for sample in samples:
        name = sample.accession_number or sample.client_sample_id
        if not tests[sample.id]:
            problems.append(f"{name} has no test assigned.")
        for test in tests[sample.id]:
            if test.result is None:
                problems.append(f"{name}: {test.definition.name} has no result.")
            elif not results.is_verified(verifications[test.result.id]):
                problems.append(f"{name}: the {test.definition.name} result is not verified by a second person.")
    return problems


def release_of(session: Session, submission: Submission) -> ResultRelease | None:
    return session.scalar(select(ResultRelease).where(ResultRelease.submission_id == submission.id))


def release_results(
    session: Session, submission: Submission, *, user: User, password: str, client_address: str | None = None
) -> ResultRelease:
    """Release the submission's results to its client, signed by QA as "released"."""
    if not signatures.role_may_sign(user, ResultRelease, RELEASED):
        raise SignatureRefused("Only QA releases results to the client.")
    lock_for_update(session, submission)
    found = review(session, submission)
    if found.problems:
        raise NotReleasable("The results cannot be released yet: " + " ".join(found.problems))
    # The password is proven before anything is written: a refused signature leaves no release behind.
    reauthenticate(
        session,
        user,
        password=password,
        client_address=client_address,
        purpose=f"signing the release of the results of submission {submission.public_id}",
    )
    release = ResultRelease(
        submission_id=submission.id,
        organization_id=submission.organization_id,
        released_at=clock.now(),
        released_by_id=user.id,
        results=canonical_json(_released_lines(found)),
    )
    release.submission = submission
    session.add(release)
    session.flush()
    signatures.sign(session, release, meaning=RELEASED, user=user, password=password, client_address=client_address)
    return release


def _released_lines(found: ReleaseReview) -> list[dict[str, Any]]:
    return [
        {
            "sample": sample.accession_number,
            "test": test.definition.code,
            "specification": test.specification,
            "result": test.result.reported,
            "conforms": test.result.conforms,
            "result_id": test.result.id,
        }
        for sample in found.samples
        for test in found.tests[sample.id]
        if test.result is not None
    ]


def check_release_signature(session: Session, release: ResultRelease, _meaning: Any, _user: User) -> None:
    """A release is signed once, as it is made."""
    if signatures.signatures_of(session, release):
        raise SignatureRefused("These results are released already.")


def after_release_signed(session: Session, release: ResultRelease, _meaning: Any, _user: User) -> None:
    """The signed release moves the accepted samples to "results released", announced to the client."""
    accepted = [
        sample
        for sample in submissions.samples_of(session, release.submission)
        if sample.status in (SampleStatus.RECEIVED, SampleStatus.IN_TESTING)
    ]
    submissions.move_samples(session, accepted, SampleStatus.RESULTS_RELEASED, reason="Results released by QA")


def release_signature(session: Session, release: ResultRelease) -> ElectronicSignature:
    """QA's release signature (the one that holds)."""
    held = signatures.holding(signatures.signatures_of(session, release), RELEASED)
    if not held:
        raise NotReleasable("These results have no release signature that holds.")
    return held[-1]


# What the client reads


@dataclass(frozen=True)
class ReleasedResult:
    """A released result as the client reads it."""

    sample_id: str
    client_sample_id: str
    accession_number: str | None
    sample_type: str
    test_code: str
    test: str
    method: str
    specification: str
    result: str
    unit: str
    conforms: bool
    recorded_at: datetime
    released_at: datetime

    @property
    def conformance(self) -> str:
        return "conforms" if self.conforms else "does not conform"


def released_results(session: Session, submission: Submission) -> list[ReleasedResult]:
    """The submission's released results in manifest order (one query); none before QA's release.

    Scoping to the client's organization is the caller's ``get_submission``; only samples whose results are
    released are read, whatever else the submission holds.
    """
    rows = session.execute(
        select(SampleTest, Sample, TestResult, ResultRelease.released_at)
        .join(Sample, Sample.id == SampleTest.sample_id)
        .join(TestResult, TestResult.id == SampleTest.result_id)
        .join(ResultRelease, ResultRelease.submission_id == SampleTest.submission_id)
        .options(joinedload(SampleTest.definition))
        .where(SampleTest.submission_id == submission.id, Sample.status == SampleStatus.RESULTS_RELEASED)
        .order_by(Sample.line, SampleTest.id)
    ).all()
    return [
        ReleasedResult(
            sample_id=sample.public_id,
            client_sample_id=sample.client_sample_id,
            accession_number=sample.accession_number,
            sample_type=sample.sample_type,
            test_code=test.definition.code,
            test=test.definition.name,
            method=test.definition.method,
            specification=test.specification,
            result=result.reported,
            unit=test.definition.unit,
            conforms=result.conforms,
            recorded_at=result.recorded_at,
            released_at=released_at,
        )
        for test, sample, result, released_at in rows
    ]


CSV_HEADER = (
    "client_sample_id",
    "accession_number",
    "sample_type",
    "test_code",
    "test",
    "method",
    "specification",
    "result",
    "unit",
    "conformance",
    "released_at",
)


def csv_rows(found: list[ReleasedResult]) -> Iterator[list[Any]]:
    for line in found:
        yield [
            line.client_sample_id,
            line.accession_number,
            line.sample_type,
            line.test_code,
            line.test,
            line.method,
            line.specification,
            line.result,
            line.unit,
            line.conformance,
            line.released_at.isoformat(),
        ]
