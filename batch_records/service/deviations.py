"""Deviations of a batch: raised by hand or by the system (an entry outside its limits, a release result out of
specification), classified, investigated, and closed by QA with a signature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from batch_records.errors import DeviationClosed, DeviationIncomplete, NotCalledFor
from batch_records.models import (
    Batch,
    BatchEntry,
    BatchStatus,
    BatchStep,
    Deviation,
    DeviationCategory,
    DeviationStatus,
)
from lims import clock
from lims.audit import context as audit_context
from lims.db import get_record, serialise_numbering
from lims.errors import DetailMissing
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing.models import TestResult

DEVIATIONS_PER_PAGE = 50


def get_deviation(session: Session, deviation_id: int) -> Deviation:
    return get_record(session, Deviation, deviation_id, "deviation")


def deviations_after(
    session: Session,
    *,
    status: DeviationStatus | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = DEVIATIONS_PER_PAGE,
) -> KeysetPage[Deviation]:
    """Deviations newest first, a page older than ``after`` (when raised, id)."""
    query = select(Deviation).options(selectinload(Deviation.batch))
    if status is not None:
        query = query.where(Deviation.status == status)
    return page_after(session, query, (Deviation.raised_at, Deviation.id), after=after, limit=limit, descending=True)


def raise_deviation(
    session: Session,
    batch: Batch,
    *,
    description: str,
    user: User,
    category: DeviationCategory | None = None,
    step: BatchStep | None = None,
    entry: BatchEntry | None = None,
    test_result: TestResult | None = None,
) -> Deviation:
    """Open a deviation on a batch (and step); those raised by the system are classified by QA later."""
    if not description.strip():
        raise DetailMissing("Describe what deviated.", field="description")
    if step is not None and step.batch_id != batch.id:
        raise NotCalledFor("That step is not part of this batch.", field="step_id")
    serialise_numbering(session, "deviation number")
    year = clock.today().year
    raised = session.scalar(select(func.count(Deviation.id)).where(Deviation.number.like(f"DEV-{year}-%"))) or 0
    deviation = Deviation(
        number=f"DEV-{year}-{raised + 1:04d}",
        category=category,
        status=DeviationStatus.OPEN,
        description=description.strip(),
        batch=batch,
        step=step,
        entry=entry,
        test_result=test_result,
        raised_by_id=user.id,
        raised_at=clock.now(),
    )
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


def record_investigation(
    session: Session, deviation: Deviation, findings: InvestigationInput, *, reason: str
) -> Deviation:
    """Record the classification, investigation, root cause, batches assessed, conclusion and CAPA so far."""
    if deviation.status == DeviationStatus.CLOSED:
        raise DeviationClosed(f"Deviation {deviation.number} is closed and can no longer change.")
    with audit_context.reason_for_change(session, reason):
        deviation.category = findings.category
        for name in ("investigation", "root_cause", "other_batches_assessed", "conclusion", "capa"):
            value = getattr(findings, name)
            setattr(deviation, name, value.strip() if value and value.strip() else None)
    return deviation


def missing_for_closure(deviation: Deviation) -> list[str]:
    labels = {
        "category": "the category",
        "investigation": "the investigation",
        "root_cause": "the root cause",
        "other_batches_assessed": "the other batches assessed",
        "conclusion": "the conclusion",
        "capa": "the CAPA",
    }
    return [label for name, label in labels.items() if getattr(deviation, name) is None]


def check_deviation_closure(_session: Session, deviation: Deviation, _meaning: SignatureMeaning, _user: User) -> None:
    if deviation.status == DeviationStatus.CLOSED:
        raise DeviationClosed(f"Deviation {deviation.number} is already closed.")
    missing = missing_for_closure(deviation)
    if missing:
        raise DeviationIncomplete(f"Deviation {deviation.number} cannot be closed without {', '.join(missing)}.")


def close_deviation(session: Session, deviation: Deviation, _meaning: SignatureMeaning, _user: User) -> None:
    with audit_context.reason_for_change(session, f"Deviation {deviation.number} closed by QA"):
        deviation.status = DeviationStatus.CLOSED
        deviation.closed_at = clock.now()


def next_after_closure(
    _session: Session, deviation: Deviation, _meaning: SignatureMeaning, _user: User
) -> signatures.NextStep:
    """After QA closes a deviation: its batch, reviewed once no deviation of it is open."""
    batch = deviation.batch
    if batch.status == BatchStatus.AWAITING_REVIEW:
        return signatures.NextStep(
            f"Deviation {deviation.number} is closed: batch {batch.batch_number} is reviewed once none of its "
            "deviations is open.",
            f"Review batch {batch.batch_number}",
            "batch_records.review",
            (("batch_id", batch.id),),
        )
    return signatures.NextStep(
        f"Deviation {deviation.number} is closed.",
        f"Batch {batch.batch_number}",
        "batch_records.batch",
        (("batch_id", batch.id),),
    )


def open_deviation_count(session: Session) -> int:
    return session.scalar(select(func.count(Deviation.id)).where(Deviation.status == DeviationStatus.OPEN)) or 0
