"""The batch records' compliance checks: deviations left open too long for their category, batches waiting too
long for QA's review, and master record versions waiting too long in review. One query each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from batch_records.models import (
    Batch,
    BatchStatus,
    BatchStep,
    Deviation,
    DeviationCategory,
    DeviationStatus,
    MasterBatchRecord,
    MbrStatus,
    MbrVersion,
)
from lims.registry import ComplianceCheck, Condition
from lims.versioning.service import sent_to_review

#: the finding's severity for a deviation of each category; one QA has not classified yet is treated as major
SEVERITY_OF_CATEGORY = {
    DeviationCategory.CRITICAL: "critical",
    DeviationCategory.MAJOR: "major",
    DeviationCategory.MINOR: "minor",
    None: "major",
}


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _age(now: datetime, since: datetime) -> int:
    return (now - since).days


def deviations_open_too_long(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Deviations open longer than their category allows: ``critical_days``, ``major_days``, ``minor_days``, and
    ``unclassified_days`` for one QA has not classified yet."""
    limits = {
        DeviationCategory.CRITICAL: parameters["critical_days"],
        DeviationCategory.MAJOR: parameters["major_days"],
        DeviationCategory.MINOR: parameters["minor_days"],
    }
    too_old = or_(
        *(
            and_(Deviation.category == category, Deviation.raised_at < now - timedelta(days=days))
            for category, days in limits.items()
        ),
        and_(Deviation.category.is_(None), Deviation.raised_at < now - timedelta(days=parameters["unclassified_days"])),
    )
    rows = session.execute(
        select(Deviation.id, Deviation.number, Deviation.category, Deviation.raised_at, Batch.batch_number)
        .join(Batch, Batch.id == Deviation.batch_id)
        .where(Deviation.status == DeviationStatus.OPEN, too_old)
    )
    for row in rows:
        category = row.category.value if row.category else "unclassified"
        yield Condition(
            "deviation",
            str(row.id),
            f"deviation {row.number} of batch {row.batch_number}",
            f"{category} deviation open for {_days(_age(now, row.raised_at))} "
            f"(raised {row.raised_at.date().isoformat()})",
            f"/deviations/{row.id}",
            SEVERITY_OF_CATEGORY[row.category],
        )


def batches_waiting_for_review(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Batches awaiting QA's review (or quarantined, waiting for a disposition) longer than ``days`` since their
    last step was done."""
    done = func.max(BatchStep.completed_at)
    rows = session.execute(
        select(Batch.id, Batch.batch_number, Batch.status, done.label("done"))
        .join(BatchStep, BatchStep.batch_id == Batch.id)
        .where(Batch.status.in_((BatchStatus.AWAITING_REVIEW, BatchStatus.QUARANTINED)))
        .group_by(Batch.id, Batch.batch_number, Batch.status)
        .having(done < now - timedelta(days=parameters["days"]))
    )
    for row in rows:
        yield Condition(
            "batch",
            str(row.id),
            f"batch {row.batch_number}",
            f"{row.status.value} for {_days(_age(now, row.done))} since its last step was done "
            f"({row.done.date().isoformat()})",
            f"/batches/{row.id}",
        )


def master_versions_in_review_too_long(
    session: Session, now: datetime, parameters: Mapping[str, int]
) -> Iterator[Condition]:
    """Master batch record versions in review longer than ``days`` since their author sent them."""
    sent = sent_to_review(MbrVersion)
    rows = session.execute(
        select(MbrVersion.id, MbrVersion.number, MasterBatchRecord.code, sent.c.since)
        .join(MasterBatchRecord, MasterBatchRecord.id == MbrVersion.master_id)
        .join(sent, sent.c.entity_id == cast(MbrVersion.id, String))
        .where(MbrVersion.status == MbrStatus.IN_REVIEW, sent.c.since < now - timedelta(days=parameters["days"]))
    )
    for row in rows:
        yield Condition(
            "mbr_version",
            str(row.id),
            f"master batch record {row.code} v{row.number}",
            f"in review for {_days(_age(now, row.since))} (sent {row.since.date().isoformat()})",
            f"/mbr-versions/{row.id}",
        )


CHECKS = (
    ComplianceCheck(
        "batch_records.deviation-open-too-long",
        "Deviations open beyond N days, by category",
        "batch_records",
        "major",
        "every 1h",
        deviations_open_too_long,
        {"critical_days": 15, "major_days": 30, "minor_days": 60, "unclassified_days": 7},
    ),
    ComplianceCheck(
        "batch_records.batch-review-overdue",
        "Batches awaiting QA review beyond N days",
        "batch_records",
        "major",
        "every 1h",
        batches_waiting_for_review,
        {"days": 14},
    ),
    ComplianceCheck(
        "batch_records.master-review-overdue",
        "Master record versions in review beyond N days",
        "batch_records",
        "minor",
        "every 1h",
        master_versions_in_review_too_long,
        {"days": 14},
    ),
)
