"""The batch review summary: for each batch, what QA's review by exception looks at, counted by the database: steps
done, entries out of limits, corrections, late entries, deviations, release tests conforming, and the disposition."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, select
from sqlalchemy.orm import Session

from batch_records.models import (
    Batch,
    BatchEntry,
    BatchParameter,
    BatchReleaseTest,
    BatchStatus,
    BatchStep,
    Deviation,
    DeviationStatus,
    StepStatus,
)
from batch_records.service.impact import BATCH
from lims.identity.models import RoleName
from lims.reports.service.dates import day_range, end_of, start_of
from lims.reports.service.generation import Column, Content, ReportType, Setting
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.testing.models import TestResult

CHUNK = 500
DECISIONS = (SignatureMeaning.RELEASED, SignatureMeaning.REJECTED)


def _count(*conditions: ColumnElement[bool], of: Any) -> Any:
    return select(func.count(of)).where(*conditions).correlate(Batch).scalar_subquery()


def _entries(*conditions: ColumnElement[bool]) -> Any:
    return (
        select(func.count(BatchEntry.id))
        .join(BatchParameter, BatchEntry.parameter_id == BatchParameter.id)
        .join(BatchStep, BatchParameter.step_id == BatchStep.id)
        .where(BatchStep.batch_id == Batch.id, *conditions)
        .correlate(Batch)
        .scalar_subquery()
    )


def prepare(_session: Session, parameters: dict[str, Any], setting: Setting) -> Content:
    status: BatchStatus | None = parameters["status"]
    batch_key = cast(Batch.id, String)
    disposition = ElectronicSignature
    query = select(
        Batch.batch_number,
        Batch.mbr_label,
        Batch.status,
        _count(BatchStep.batch_id == Batch.id, of=BatchStep.id),
        _count(
            BatchStep.batch_id == Batch.id,
            BatchStep.status.in_([StepStatus.COMPLETED, StepStatus.SKIPPED]),
            of=BatchStep.id,
        ),
        _entries(BatchEntry.replaced_by_id.is_(None), BatchEntry.within_limits.is_(False)),
        _entries(BatchEntry.replaces_id.is_not(None)),
        _entries(BatchEntry.late_reason.is_not(None)),
        _count(Deviation.batch_id == Batch.id, Deviation.status == DeviationStatus.OPEN, of=Deviation.id),
        _count(Deviation.batch_id == Batch.id, of=Deviation.id),
        _count(
            TestResult.tested_type == BATCH,
            TestResult.tested_id == batch_key,
            TestResult.replaced.is_(False),
            TestResult.conforms.is_(True),
            of=TestResult.id,
        ),
        _count(BatchReleaseTest.batch_id == Batch.id, of=BatchReleaseTest.id),
        disposition.meaning,
        disposition.printed_name,
        disposition.signed_at,
    ).outerjoin(
        disposition,
        and_(
            disposition.entity_type == Batch.__tablename__,
            disposition.entity_id == batch_key,
            disposition.meaning.in_(DECISIONS),
        ),
    )
    if status is not None:
        query = query.where(Batch.status == status)
    if parameters["batch_number"]:
        query = query.where(Batch.batch_number == parameters["batch_number"])
    if (since := start_of(parameters["date_from"], setting.zone)) is not None:
        query = query.where(Batch.created_at >= since)
    if (until := end_of(parameters["date_to"], setting.zone)) is not None:
        query = query.where(Batch.created_at < until)
    query = query.order_by(Batch.created_at, Batch.id).execution_options(yield_per=CHUNK)

    def rows(reading: Session) -> Iterator[Sequence[str]]:
        for row in reading.execute(query):
            (number, mbr, state, steps, done, out_of_limit, corrections, late, open_deviations, deviations) = row[:10]
            conforming, tests, meaning, signer, signed_at = row[10:]
            yield (
                number,
                mbr,
                state.value,
                f"{done} of {steps}",
                f"{out_of_limit} out of limits\n{corrections} corrected\n{late} late",
                f"{open_deviations} open of {deviations}",
                f"{conforming} of {tests} conforming",
                f"{meaning.value} by {signer}, {setting.times.local(signed_at)}" if meaning else "none yet",
            )

    stated = [
        ("Batch", parameters["batch_number"] or "any"),
        ("Status", status.value if status else "any"),
        ("Started", day_range(parameters["date_from"], parameters["date_to"])),
    ]
    return Content(stated, rows)


REPORT = ReportType(
    key="batch-review",
    title="Batch review summary",
    purpose="For each batch, what review by exception looks at: steps done, entries out of limits, corrections, "
    "late entries, deviations, conforming release tests, and QA's disposition.",
    columns=(
        Column("Batch", 100),
        Column("Master record", 67),
        Column("Status", 58),
        Column("Steps done", 45),
        Column("Entries", 66),
        Column("Deviations", 62),
        Column("Release tests", 60),
        Column("Disposition", 64),
    ),
    roles=frozenset({RoleName.QA, RoleName.MANAGER}),
    prepare=prepare,
)
