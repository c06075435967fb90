"""QA's release of a submission's results to the client, with an electronic signature, and what the client then
reads of them (page, CSV, API): released results only, its own organization's only.

A submission's results are releasable once no sample is still expected, every accepted sample on the manifest has
a test on itself or on an aliquot split from it (however many splits deep), and every test in that family has a
result in force verified by a second person. An aliquot without tests is retention material and blocks nothing.
Out-of-specification results are released as they are, judged "does not conform": QA's release is the decision on
them. The signature moves the samples whose results it releases to "results released" (announced to the client):
every manifest sample, and each aliquot that was tested or has a tested aliquot of its own. An untested retention
aliquot has no results: it keeps its status (its place is its chain of custody's), so neither the client nor an
inspector reads "results released" for a tube that was never tested. Other areas follow the signature (the
certificates area issues the signed results report in the same transaction).
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
from lims.samples.storage_models import Aliquot
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
    #: the accepted samples (rejected ones have no results), in manifest order, each followed by its aliquots
    samples: list[Sample]
    #: the manifest sample each accepted aliquot descends from (by id)
    manifest_sample_of: dict[int, Sample]
    tests: dict[int, list[SampleTest]]
    #: the signatures on each result in force, by result id
    verifications: dict[int, list[tuple[ElectronicSignature, signatures.SignatureStatus]]]
    release: ResultRelease | None
    #: what stands in the way of the release, in the lab's words (nothing when it may be released)
    problems: list[str]


@dataclass(frozen=True)
class ManifestSample:
    """The manifest sample a sample descends from, as the client knows it."""

    id: int
    line: int
    accession_number: str | None
    client_sample_id: str


def manifest_roots(session: Session, submission: Submission) -> dict[int, ManifestSample]:
    """Each of the submission's samples (by id): the manifest sample it descends from (itself, for a sample that
    arrived as it is), however many splits deep. One query."""
    rows = session.execute(
        select(Sample.id, Sample.line, Sample.accession_number, Sample.client_sample_id, Aliquot.parent_id)
        .outerjoin(Aliquot, Aliquot.child_id == Sample.id)
        .where(Sample.submission_id == submission.id)
    ).all()
    parent_of = {row.id: row.parent_id for row in rows if row.parent_id is not None}
    found = {row.id: ManifestSample(row.id, row.line, row.accession_number, row.client_sample_id) for row in rows}
    roots = {}
    for sample_id in found:
        root = sample_id
        # A child is made after its parent and never re-parented, so the walk up ends at a sample with no parent.
        while root in parent_of:
            root = parent_of[root]
        roots[sample_id] = found[root]
    return roots


def review(session: Session, submission: Submission) -> ReleaseReview:
    """The submission's accepted samples, their tests and verifications, and what stops their release."""
    roots = manifest_roots(session, submission)
    accepted = [
        sample
        for sample in submissions.samples_of(session, submission)
        if sample.status in (SampleStatus.RECEIVED, SampleStatus.IN_TESTING, SampleStatus.RESULTS_RELEASED)
    ]
    samples = sorted(accepted, key=lambda sample: (roots[sample.id].line, sample.line))
    by_id = {sample.id: sample for sample in samples}
    manifest_sample_of = {
        sample.id: by_id[roots[sample.id].id]
        for sample in samples
        if roots[sample.id].id != sample.id and roots[sample.id].id in by_id
    }
    tests = results.tests_of(session, samples)
    verifications = results.verifications_of(session, [test for found in tests.values() for test in found])
    release = release_of(session, submission)
    return ReleaseReview(
        submission,
        samples,
        manifest_sample_of,
        tests,
        verifications,
        release,
        _problems(submission, samples, manifest_sample_of, tests, verifications, release),
    )


def _name(sample: Sample) -> str:
    return sample.accession_number or sample.client_sample_id


def _problems(
    submission: Submission,
    samples: list[Sample],
    manifest_sample_of: dict[int, Sample],
    tests: dict[int, list[SampleTest]],
    verifications: dict[int, list[tuple[ElectronicSignature, signatures.SignatureStatus]]],
    release: ResultRelease | None,
) -> list[str]:
    if release is not None:
        return [f"The results were released on {release.released_at:%Y-%m-%d %H:%M} UTC."]
    if submission.status not in _RELEASABLE:
        return [f"The submission is {submission.status.value}: its results are released once every sample is in."]
    tested_families = {manifest_sample_of.get(sample.id, sample).id for sample in samples if tests[sample.id]}
    problems = []
    for sample in samples:
        parent = manifest_sample_of.get(sample.id)
        if parent is None and sample.id not in tested_families:
            problems.append(f"{_name(sample)} has no test assigned, neither on itself nor on an aliquot of it.")
        name = _name(sample) if parent is None else f"{_name(sample)} (aliquot of {_name(parent)})"
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
    """The signed release moves the accepted samples whose results it releases to "results released", announced to
    the client; untested retention aliquots keep their status."""
    bearing = _bearing_results(session, release.submission)
    accepted = [
        sample
        for sample in submissions.samples_of(session, release.submission)
        if sample.status in (SampleStatus.RECEIVED, SampleStatus.IN_TESTING) and sample.id in bearing
    ]
    submissions.move_samples(session, accepted, SampleStatus.RESULTS_RELEASED, reason="Results released by QA")


def _bearing_results(session: Session, submission: Submission) -> set[int]:
    """The submission's samples (by id) that have results: tested themselves, or the sample (however many splits
    up) of a tested aliquot; every manifest sample is one once its results are releasable. One query."""
    tested = select(SampleTest.id).where(SampleTest.sample_id == Sample.id).exists()
    rows = session.execute(
        select(Sample.id, Aliquot.parent_id, tested)
        .outerjoin(Aliquot, Aliquot.child_id == Sample.id)
        .where(Sample.submission_id == submission.id)
    ).all()
    parent_of = {sample_id: parent_id for sample_id, parent_id, _tested in rows if parent_id is not None}
    bearing: set[int] = set()
    for sample_id, _parent_id, has_tests in rows:
        walked: int | None = sample_id if has_tests else None
        # The walk up stops at a sample already marked: its ancestors are marked with it.
        while walked is not None and walked not in bearing:
            bearing.add(walked)
            walked = parent_of.get(walked)
    return bearing


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
    #: the manifest sample's, as the client named it (for an aliquot: the sample it was split from)
    client_sample_id: str
    #: the sample tested (for an aliquot: the aliquot's own)
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
    #: the manifest sample's accession number when the sample tested is an aliquot of it
    aliquot_of: str | None = None

    @property
    def conformance(self) -> str:
        return "conforms" if self.conforms else "does not conform"


def released_results(session: Session, submission: Submission) -> list[ReleasedResult]:
    """The submission's released results in manifest order, an aliquot's under the sample it was split from (two
    queries); none before QA's release.

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
    if not rows:
        return []
    roots = manifest_roots(session, submission)
    return [
        ReleasedResult(
            sample_id=sample.public_id,
            client_sample_id=roots[sample.id].client_sample_id,
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
            aliquot_of=roots[sample.id].accession_number if roots[sample.id].id != sample.id else None,
        )
        for test, sample, result, released_at in sorted(rows, key=lambda row: roots[row[1].id].line)
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
    "aliquot_of",
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
            line.aliquot_of,
        ]
