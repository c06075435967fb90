"""Submissions: a client drafts a manifest, adds its rows (checked whole), submits or cancels it; the lifecycle
from submitted through received to results released; and what a client or the lab may see of them.

Every query a client's request makes is scoped to its organization here (``organization_id``; None is staff, who
see every organization's): another organization's submission or sample is answered as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import count
from typing import Any, overload

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.hooks import creation_changes_many
from lims.db import lock_for_update
from lims.errors import RecordNotFound
from lims.identity.errors import ClientOrganizationRequired, OrganizationDeactivated
from lims.identity.models import Organization, User
from lims.pagination import KeysetPage, page_after
from lims.samples.errors import EmptyManifest, NotADraft, NotCancellable, NotInLifecycle
from lims.samples.models import ARRIVED, Sample, SampleStatus, Submission, SubmissionStatus
from lims.samples.service import events, manifests

#: the statuses in which the lab receives a submission's samples
RECEIVABLE = frozenset({SubmissionStatus.SUBMITTED, SubmissionStatus.PARTLY_RECEIVED})


def scoped(query: Select[Any], model: type[Submission] | type[Sample], organization_id: int | None) -> Select[Any]:
    """``query`` kept to one organization's rows (the one rule of tenancy here); None is staff, who see all."""
    return query if organization_id is None else query.where(model.organization_id == organization_id)


def get_submission(session: Session, public_id: str, *, organization_id: int | None) -> Submission:
    submission = session.scalar(
        scoped(select(Submission).where(Submission.public_id == public_id), Submission, organization_id)
    )
    if submission is None:
        raise RecordNotFound("There is no such submission.")
    return submission


def get_sample(session: Session, public_id: str, *, organization_id: int | None) -> Sample:
    sample = session.scalar(scoped(select(Sample).where(Sample.public_id == public_id), Sample, organization_id))
    if sample is None:
        raise RecordNotFound("There is no such sample.")
    return sample


def submissions_after(
    session: Session,
    *,
    organization_id: int | None,
    after: tuple[Any, ...] | None,
    limit: int,
    statuses: Sequence[SubmissionStatus] = (),
) -> KeysetPage[Submission]:
    """Submissions newest first, a page at a time (keyset on creation time and id)."""
    query = scoped(select(Submission).options(selectinload(Submission.organization)), Submission, organization_id)
    if statuses:
        query = query.where(Submission.status.in_(statuses))
    return page_after(session, query, (Submission.created_at, Submission.id), after=after, limit=limit, descending=True)


def samples_after(
    session: Session,
    *,
    organization_id: int | None,
    after: tuple[Any, ...] | None,
    limit: int,
    status: SampleStatus | None = None,
) -> KeysetPage[Sample]:
    """Samples newest first, a page at a time, each with its submission."""
    query = scoped(select(Sample).options(selectinload(Sample.submission)), Sample, organization_id)
    if status is not None:
        query = query.where(Sample.status == status)
    return page_after(session, query, (Sample.id,), after=after, limit=limit, descending=True)


def samples_of(session: Session, submission: Submission) -> list[Sample]:
    """A submission's samples in manifest order, with what they refer to, in a fixed number of queries."""
    return list(
        session.scalars(
            select(Sample)
            .options(
                selectinload(Sample.protocol),
                selectinload(Sample.subject),
                selectinload(Sample.visit),
                selectinload(Sample.received_by),
            )
            .where(Sample.submission_id == submission.id)
            .order_by(Sample.line)
        )
    )


def status_counts(session: Session, submission: Submission) -> dict[SampleStatus, int]:
    rows = session.execute(
        select(Sample.status, func.count()).where(Sample.submission_id == submission.id).group_by(Sample.status)
    )
    return {status: count for status, count in rows}


# A client's manifest


def create_draft(session: Session, organization: Organization, *, reference: str, user: User | None) -> Submission:
    """Start a manifest for a client organization; rows are added to it until it is submitted."""
    if organization.is_facility:
        raise ClientOrganizationRequired("Submissions are made by client organizations.")
    if not organization.active:
        raise OrganizationDeactivated(f"{organization.name} is deactivated.")
    submission = Submission(
        public_id=events.new_public_id(),
        organization_id=organization.id,
        reference=reference.strip(),
        status=SubmissionStatus.DRAFT,
        created_at=clock.now(),
        created_by_id=None if user is None else user.id,
    )
    session.add(submission)
    session.flush()
    return submission


def add_rows(session: Session, submission: Submission, raw_rows: Sequence[dict[str, Any]]) -> Sequence[Sample]:
    """Add rows to a draft, all of them or none: ManifestRefused lists every error by row and column."""
    _require_draft(submission)
    lock_for_update(session, submission)
    lines = session.scalar(select(func.count()).where(Sample.submission_id == submission.id)) or 0
    with manifests.collector_paused():
        rows = manifests.check_rows(session, submission.organization_id, raw_rows, first_row=1)
        return insert_samples(session, submission, rows, first_line=lines + 1)


def insert_samples(
    session: Session, submission: Submission, rows: Sequence[manifests.ManifestRow], *, first_line: int
) -> Sequence[Sample]:
    """Put checked rows on a manifest, from ``first_line``, each sample's creation audited as the flush hook would;
    the samples added, read when first looked at.

    A manifest may hold 10,000 rows: they go in as one executemany (no RETURNING, which some drivers can only
    answer a row at a time), their ids are read back in one query, and their audit events are appended together
    from the very values inserted (``lims.audit.hooks.creation_changes_many``, ``lims.audit.chain.append_creations``),
    not through an object each in the unit of work, which would cost several times as much.
    """
    public_ids = events.new_public_ids(len(rows))
    values = [
        {
            "public_id": public_id,
            "submission_id": submission.id,
            "organization_id": submission.organization_id,
            "line": line,
            "client_sample_id": row.values["client_sample_id"],
            "sample_type": row.values["sample_type"],
            "protocol_id": row.protocol_id,
            "subject_id": row.subject_id,
            "visit_id": row.visit_id,
            "collected_at": row.values["collected_at"],
            "quantity": row.values["quantity"],
            "container": row.values["container"],
            "storage_requirement": row.storage.text,
            "storage_minimum": row.storage.minimum,
            "storage_maximum": row.storage.maximum,
            "requested_tests": ", ".join(row.values["requested_tests"]),
            "status": SampleStatus.EXPECTED,
            "on_manifest": True,
        }
        for line, row, public_id in zip(count(first_line), rows, public_ids, strict=False)
    ]
    table = Sample.__table__
    session.execute(insert(table), [_columns(sample) for sample in values])
    ids = dict(
        session.execute(
            select(Sample.line, Sample.id).where(Sample.submission_id == submission.id, Sample.line >= first_line)
        ).all()
    )
    created = [{**sample, "id": ids[sample["line"]]} for sample in values]
    audit_chain.append_creations(
        session,
        Sample.__tablename__,
        zip((sample["id"] for sample in created), creation_changes_many(Sample, created), strict=True),
    )
    return _AddedSamples(session, submission.id, range(first_line, first_line + len(values)))


class _AddedSamples(Sequence[Sample]):
    """The samples a manifest's rows added, in line order, read on first use: an import through the API or a
    file never looks at them, and reading 10,000 records back would cost a third as much as the import."""

    def __init__(self, session: Session, submission_id: int, lines: range) -> None:
        self._query = (
            select(Sample)
            .where(Sample.submission_id == submission_id, Sample.line.between(lines.start, lines.stop - 1))
            .order_by(Sample.line)
        )
        self._session = session
        self._samples: list[Sample] | None = None

    def _read(self) -> list[Sample]:
        if self._samples is None:
            self._samples = list(self._session.scalars(self._query))
        return self._samples

    @overload
    def __getitem__(self, index: int) -> Sample: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Sample]: ...
    def __getitem__(self, index: int | slice) -> Sample | Sequence[Sample]:
        return self._read()[index]

    def __len__(self) -> int:
        return len(self._read())

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._read())


def _columns(sample: dict[str, Any]) -> dict[str, Any]:
    """A sample's attribute values as its table's columns: each quantity as its value and unit columns."""
    columns = {key: value for key, value in sample.items() if key not in _QUANTITIES}
    for key in _QUANTITIES:
        quantity = sample.get(key)
        columns[f"{key}_value"] = None if quantity is None else quantity.value
        columns[f"{key}_unit"] = None if quantity is None else quantity.unit
    return columns


#: the sample's quantities a manifest row sets, each kept in a value and a unit column
_QUANTITIES = ("quantity", "storage_minimum", "storage_maximum")


def submit(session: Session, submission: Submission) -> Submission:
    """Send a draft manifest to the lab: from now on its samples are expected and it no longer changes."""
    _require_draft(submission)
    lock_for_update(session, submission)
    if not session.scalar(select(func.count()).where(Sample.submission_id == submission.id)):
        raise EmptyManifest("Add at least one sample before submitting the manifest.")
    with audit_context.reason_for_change(session, "Manifest submitted to the lab"):
        submission.status = SubmissionStatus.SUBMITTED
        submission.submitted_at = clock.now()
    events.record_event(session, "submission.submitted", submission=submission, status=submission.status.value)
    return submission


def cancel(session: Session, submission: Submission, *, reason: str) -> Submission:
    """Cancel a draft or submitted manifest for the reason given; once a sample has arrived, the lab handles it."""
    if submission.status not in (SubmissionStatus.DRAFT, SubmissionStatus.SUBMITTED):
        raise NotCancellable(
            f"This submission is {submission.status.value}: only a draft or a submitted manifest is cancelled. "
            "Contact the lab about samples it has received."
        )
    lock_for_update(session, submission)
    with audit_context.reason_for_change(session, reason):
        submission.status = SubmissionStatus.CANCELLED
        submission.cancelled_at = clock.now()
        submission.cancellation_reason = reason.strip()
        for sample in session.scalars(
            select(Sample).where(Sample.submission_id == submission.id, Sample.status == SampleStatus.EXPECTED)
        ):
            sample.status = SampleStatus.CANCELLED
    events.record_event(
        session, "submission.cancelled", submission=submission, status=submission.status.value, data={"reason": reason}
    )
    return submission


def _require_draft(submission: Submission) -> None:
    if submission.status != SubmissionStatus.DRAFT:
        raise NotADraft(f"This manifest is {submission.status.value}; only a draft changes.")


# The lifecycle after receipt


def settle_submission_status(session: Session, submission: Submission) -> None:
    """Derive the submission's status from its samples' after one of them changed, announcing a change.

    Partly received while samples on the manifest are still expected, received when none is; in testing once
    one is; results released once QA released them. QA releases a submission's results once, all together, so a
    sample with results released says the release happened; the untested retention aliquots it leaves as they were
    do not hold the submission back.
    """
    counts = status_counts(session, submission)
    arrived = sum(counts.get(status, 0) for status in ARRIVED)
    if not arrived:
        return
    expected = counts.get(SampleStatus.EXPECTED, 0)
    if not expected and counts.get(SampleStatus.RESULTS_RELEASED, 0):
        status = SubmissionStatus.RESULTS_RELEASED
    elif counts.get(SampleStatus.IN_TESTING, 0) or counts.get(SampleStatus.RESULTS_RELEASED, 0):
        status = SubmissionStatus.IN_TESTING
    elif expected:
        status = SubmissionStatus.PARTLY_RECEIVED
    else:
        status = SubmissionStatus.RECEIVED
    if status == submission.status:
        return
    with audit_context.reason_for_change(session, f"Its samples are {status.value}"):
        submission.status = status
        if submission.received_at is None:
            submission.received_at = clock.now()
    events.record_event(
        session, f"submission.{status.value.replace(' ', '_')}", submission=submission, status=status.value
    )


#: what an accepted sample moves on to, from where
_MOVES = {
    SampleStatus.IN_TESTING: frozenset({SampleStatus.RECEIVED}),
    SampleStatus.RESULTS_RELEASED: frozenset({SampleStatus.RECEIVED, SampleStatus.IN_TESTING}),
}


def move_samples(session: Session, samples: Sequence[Sample], status: SampleStatus, *, reason: str) -> None:
    """Move accepted samples on in their lifecycle (in testing, results released) and their submissions with them.

    The results area calls this as testing starts and QA releases results; each move is announced to the client.
    """
    for sample in samples:
        if sample.status not in _MOVES.get(status, frozenset()):
            raise NotInLifecycle(
                f"Sample {sample.accession_number or sample.client_sample_id} is "
                f"{sample.status.value}; it cannot become {status.value}."
            )
    submissions: dict[int, Submission] = {}
    with audit_context.reason_for_change(session, reason):
        for sample in samples:
            sample.status = status
            if status == SampleStatus.IN_TESTING and sample.processed_at is None:
                sample.processed_at = clock.now()
            submissions[sample.submission_id] = sample.submission
    for sample in samples:
        events.record_event(
            session,
            f"sample.{status.value.replace(' ', '_')}",
            submission=sample.submission,
            sample=sample,
            status=status.value,
            data={"accession_number": sample.accession_number},
        )
    for submission in submissions.values():
        settle_submission_status(session, submission)
