"""Accessioning: the lab receives a submitted manifest's samples one by one, gives each an accession number, and
records its condition on arrival and whether it is accepted; a sample not on the manifest is recorded as such.

Accession numbers are ``S<year>-<number>``, the number counting from 1 each year (the facility's local year)
without gaps, whatever the number of technicians receiving at once: each receipt takes the year's counter row
with ``SELECT … FOR UPDATE`` (on PostgreSQL after the write lock every writer takes; on SQLite writers never
overlap), so the next receipt waits for it and draws the next number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.db import lock_for_update
from lims.errors import DateInFuture, DetailMissing
from lims.identity.models import User
from lims.samples.errors import NotReceivable, ReceiptRefused
from lims.samples.models import AccessionCounter, Sample, SampleStatus, Submission, SubmissionStatus
from lims.samples.service import custody, events, stability
from lims.samples.service.submissions import RECEIVABLE, settle_submission_status
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement, is_amount

ACCESSION_PREFIX = "S"
#: the storage requirement recorded for a sample that arrived without a manifest row to state it
NOT_STATED = "not stated"


def next_accession_number(session: Session) -> str:
    """The year's next accession number, drawn under the counter row's lock (held to the end of the transaction)."""
    year = clock.today().year
    counter = session.scalar(select(AccessionCounter).where(AccessionCounter.year == year).with_for_update())
    if counter is None:
        counter = AccessionCounter(year=year, last_number=0)
        session.add(counter)
    counter.last_number += 1
    session.flush()
    return f"{ACCESSION_PREFIX}{year}-{counter.last_number:06d}"


@dataclass(frozen=True)
class Receipt:
    """What the technician records of a sample on arrival."""

    arrival_temperature: Measurement
    container_intact: bool
    accepted: bool
    received_at: datetime | None = None
    received_volume: Measurement | None = None
    rejection_reason: str | None = None
    note: str | None = None


def receive_sample(session: Session, sample: Sample, receipt: Receipt, *, user: User) -> Sample:
    """Receive one sample of a submitted manifest: its accession number, its condition, accepted or rejected, and
    the deadline of its processing (``stability``)."""
    submission = sample.submission
    _require_receivable(submission)
    lock_for_update(session, submission)
    lock_for_update(session, sample)
    if sample.status != SampleStatus.EXPECTED:
        raise NotReceivable(
            f"Sample {sample.client_sample_id} is {sample.status.value}"
            + (f" as {sample.accession_number}" if sample.accession_number else "")
            + "; a sample is received once."
        )
    return _record_receipt(session, sample, receipt, user=user)


def receive_unexpected_sample(
    session: Session,
    submission: Submission,
    receipt: Receipt,
    *,
    client_sample_id: str,
    sample_type: str,
    container: str,
    user: User,
) -> Sample:
    """Record a sample that arrived with a submission without being on its manifest, and receive it."""
    _require_receivable(submission)
    lock_for_update(session, submission)
    last_line = session.scalar(select(func.max(Sample.line)).where(Sample.submission_id == submission.id)) or 0
    sample = Sample(
        public_id=events.new_public_id(),
        submission_id=submission.id,
        organization_id=submission.organization_id,
        line=last_line + 1,
        client_sample_id=client_sample_id.strip(),
        sample_type=sample_type.strip(),
        container=container.strip(),
        storage_requirement=NOT_STATED,
        requested_tests="",
        status=SampleStatus.EXPECTED,
        on_manifest=False,
    )
    session.add(sample)
    session.flush()
    return _record_receipt(session, sample, receipt, user=user)


def _require_receivable(submission: Submission) -> None:
    if submission.status not in RECEIVABLE:
        state = "still a draft" if submission.status == SubmissionStatus.DRAFT else submission.status.value
        raise NotReceivable(f"This submission is {state}; samples are received against a submitted manifest.")


def _check(receipt: Receipt, received_at: datetime) -> None:
    if received_at > clock.now():
        raise DateInFuture("The time of arrival cannot be in the future.", field="received_at")
    try:
        receipt.arrival_temperature.to("degC")
    except IncompatibleUnits:
        raise ReceiptRefused(
            f"{receipt.arrival_temperature} is not a temperature; enter e.g. -78 °C.", field="arrival_temperature"
        ) from None
    if receipt.received_volume is not None and not is_amount(receipt.received_volume):
        raise ReceiptRefused(
            f"{receipt.received_volume} is not an amount; enter the volume received, e.g. 9.5 mL.",
            field="received_volume",
        )
    if not receipt.accepted and not (receipt.rejection_reason or "").strip():
        raise DetailMissing("Give the reason for rejecting the sample.", field="rejection_reason")


def _record_receipt(session: Session, sample: Sample, receipt: Receipt, *, user: User) -> Sample:
    received_at = receipt.received_at or clock.now()
    _check(receipt, received_at)
    accession_number = next_accession_number(session)
    status = SampleStatus.RECEIVED if receipt.accepted else SampleStatus.REJECTED
    reason = "Received at the lab" if receipt.accepted else f"Rejected at receipt: {receipt.rejection_reason}"
    deadline = stability.deadline_of(session, sample)
    with audit_context.reason_for_change(session, reason):
        sample.accession_number = accession_number
        sample.status = status
        sample.received_at = received_at
        sample.received_by_id = user.id
        sample.arrival_temperature = receipt.arrival_temperature
        sample.container_intact = receipt.container_intact
        sample.received_volume = receipt.received_volume
        sample.rejection_reason = None if receipt.accepted else (receipt.rejection_reason or "").strip()
        sample.receipt_note = receipt.note
        sample.stability_deadline = deadline
    events.record_event(
        session,
        "sample.received" if receipt.accepted else "sample.rejected",
        submission=sample.submission,
        sample=sample,
        status=status.value,
        data={
            "accession_number": accession_number,
            "client_sample_id": sample.client_sample_id,
            "on_manifest": sample.on_manifest,
            **({} if receipt.accepted else {"rejection_reason": sample.rejection_reason}),
        },
    )
    custody.record_receipt(session, sample, user=user)
    settle_submission_status(session, sample.submission)
    return sample


def awaiting_receipt(session: Session, *, limit: int = 100) -> list[Submission]:
    """Submitted manifests whose samples the lab still expects, oldest first: the receiving work list."""
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.status.in_(RECEIVABLE))
            .order_by(Submission.submitted_at, Submission.id)
            .limit(limit)
        )
    )


def count_awaiting_receipt(session: Session) -> int:
    return session.scalar(select(func.count()).where(Submission.status.in_(RECEIVABLE))) or 0
