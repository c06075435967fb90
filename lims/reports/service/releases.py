"""The release register: who released or rejected which batch, when, and under which master record version."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from batch_records.models import Batch
from lims.identity.models import RoleName, User
from lims.reports.service.dates import day_range, end_of, start_of
from lims.reports.service.generation import Column, Content, ReportType, Setting
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from protocols.models import Subject

CHUNK = 1000
DECISIONS = (SignatureMeaning.RELEASED, SignatureMeaning.REJECTED)


def prepare(_session: Session, parameters: dict[str, Any], setting: Setting) -> Content:
    decision: SignatureMeaning | None = parameters["decision"]
    query = (
        select(
            ElectronicSignature.signed_at,
            ElectronicSignature.meaning,
            Batch.batch_number,
            Batch.product,
            Batch.mbr_label,
            Subject.code,
            ElectronicSignature.printed_name,
            User.username,
            Batch.disposition_reason,
        )
        .join(Batch, ElectronicSignature.entity_id == cast(Batch.id, String))
        .join(Subject, Batch.subject_id == Subject.id)
        .join(User, ElectronicSignature.signer_id == User.id)
        .where(
            ElectronicSignature.entity_type == Batch.__tablename__,
            ElectronicSignature.meaning.in_([decision] if decision else DECISIONS),
        )
    )
    if (since := start_of(parameters["date_from"], setting.zone)) is not None:
        query = query.where(ElectronicSignature.signed_at >= since)
    if (until := end_of(parameters["date_to"], setting.zone)) is not None:
        query = query.where(ElectronicSignature.signed_at < until)
    query = query.order_by(ElectronicSignature.signed_at, ElectronicSignature.id).execution_options(yield_per=CHUNK)

    def rows(reading: Session) -> Iterator[Sequence[str]]:
        for signed_at, meaning, batch, product, mbr, subject, signer, username, reason in reading.execute(query):
            yield (
                setting.times.local(signed_at),
                meaning.value,
                f"{batch}\nsubject {subject}",
                product,
                mbr,
                f"{signer} ({username})",
                (reason or "") if meaning == SignatureMeaning.REJECTED else "",
            )

    stated = [
        ("Decisions", decision.value if decision else "released and rejected"),
        ("Signed", day_range(parameters["date_from"], parameters["date_to"])),
    ]
    return Content(stated, rows)


REPORT = ReportType(
    key="release-register",
    title="Release register",
    purpose="Every batch released or rejected by QA: when, by whom, and the master record version it was made to.",
    columns=(
        Column("Signed", 60),
        Column("Decision", 52),
        Column("Batch and subject", 98),
        Column("Product", 80),
        Column("Master record", 65),
        Column("Signed by", 75),
        Column("Reason", 80),
    ),
    roles=frozenset({RoleName.QA, RoleName.MANAGER}),
    prepare=prepare,
)
