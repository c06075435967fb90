"""Out-of-tolerance impact: the uses since the last passing calibration, the records they served (batches, found
through the areas' ``ImpactedRecords`` declarations), and QA's signed conclusion with a verdict on each record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lims import clock, registry
from lims.audit import context as audit_context
from lims.db import get_record
from lims.equipment.errors import AssessmentClosed
from lims.equipment.models import Equipment, EquipmentUse, ImpactAssessment, ImpactVerdict, Verdict
from lims.equipment.service.use import uses_since
from lims.errors import DetailMissing
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.registry import ImpactedRecord
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning


def get_impact_assessment(session: Session, assessment_id: int) -> ImpactAssessment:
    return get_record(session, ImpactAssessment, assessment_id, "impact assessment")


def impact_assessments(session: Session, equipment: Equipment) -> list[ImpactAssessment]:
    return list(
        session.scalars(
            select(ImpactAssessment)
            .where(ImpactAssessment.equipment_id == equipment.id)
            .order_by(ImpactAssessment.opened_at.desc())
        )
    )


def open_impact_assessments(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int = 50
) -> KeysetPage[ImpactAssessment]:
    """Assessments waiting for QA's conclusion, oldest first, a page after ``after`` (opened at, id)."""
    query = (
        select(ImpactAssessment)
        .where(ImpactAssessment.closed_at.is_(None))
        .options(selectinload(ImpactAssessment.equipment))
    )
    return page_after(session, query, (ImpactAssessment.opened_at, ImpactAssessment.id), after=after, limit=limit)


def open_impact_assessments_count(session: Session) -> int:
    return session.scalar(select(func.count(ImpactAssessment.id)).where(ImpactAssessment.closed_at.is_(None))) or 0


def affected_uses(session: Session, assessment: ImpactAssessment) -> list[EquipmentUse]:
    """Every recorded use of the equipment since its last passing calibration, up to the failing one."""
    uses = uses_since(session, assessment.equipment, assessment.uses_since)
    return [use for use in uses if lists_use(assessment, use)]


def lists_use(assessment: ImpactAssessment, use: EquipmentUse) -> bool:
    """Whether ``use`` is one of the uses the assessment puts in question."""
    return (
        use.equipment_id == assessment.equipment_id
        and (assessment.uses_since is None or use.used_at >= assessment.uses_since)
        and use.used_at <= assessment.calibration_record.recorded_at
    )


def open_assessments_listing(session: Session, uses: Sequence[EquipmentUse]) -> list[ImpactAssessment]:
    """The open assessments that list any of ``uses``, oldest first (one query whatever the number of uses)."""
    equipment_ids = {use.equipment_id for use in uses}
    if not equipment_ids:
        return []
    candidates = session.scalars(
        select(ImpactAssessment)
        .where(ImpactAssessment.closed_at.is_(None), ImpactAssessment.equipment_id.in_(equipment_ids))
        .options(selectinload(ImpactAssessment.equipment), selectinload(ImpactAssessment.calibration_record))
        .order_by(ImpactAssessment.opened_at, ImpactAssessment.id)
    )
    return [assessment for assessment in candidates if any(lists_use(assessment, use) for use in uses)]


def records_of_uses(session: Session, uses: Sequence[EquipmentUse]) -> list[ImpactedRecord]:
    """The records the uses served, as the areas that recorded them name them, each once, in order of first use."""
    record_ids: dict[str, list[str]] = defaultdict(list)
    for use in uses:
        record_ids[use.record_type].append(use.record_id)
    finders = {
        record_type: find
        for declaration in registry.current().impacted_record_declarations
        for record_type, find in declaration.finders.items()
    }
    by_use: dict[tuple[str, str], ImpactedRecord] = {}
    for record_type, ids in record_ids.items():
        find = finders.get(record_type)
        if find is None:
            continue
        for record_id, served in find(session, sorted(set(ids))).items():
            by_use[(record_type, record_id)] = served
    found: dict[tuple[str, str], ImpactedRecord] = {}
    for use in uses:
        if (record := by_use.get((use.record_type, use.record_id))) is not None:
            found.setdefault((record.kind, record.key), record)
    return list(found.values())


def affected_records(session: Session, assessment: ImpactAssessment) -> list[ImpactedRecord]:
    """The records (batches) the assessment's uses served: each gets QA's verdict when it is closed."""
    return records_of_uses(session, affected_uses(session, assessment))


def verdict_prefix(record: ImpactedRecord) -> str:
    """What the closing form's fields for the verdict on ``record`` are named with (``…verdict``, ``…comment``)."""
    return f"impact-{record.kind}-{record.key}-"


@dataclass(frozen=True)
class VerdictInput:
    verdict: Verdict | None
    comment: str = ""


def close_impact_assessment(
    session: Session,
    assessment: ImpactAssessment,
    *,
    conclusion: str,
    verdicts: Mapping[str, VerdictInput] | None = None,
    user: User,
    password: str,
    client_address: str | None = None,
) -> ImpactAssessment:
    """QA's conclusion on the affected uses, with a verdict on each record they served (keyed by
    ``verdict_prefix``), closed with an e-signature; a verdict of impact is handed to the record's area."""
    if assessment.closed_at is not None:
        raise AssessmentClosed("This impact assessment is already closed.")
    # Who may close it is settled before the password is asked for, as on the signing page.
    signatures.check_may_sign(session, assessment, SignatureMeaning.REVIEWED, user)
    if not conclusion.strip():
        raise DetailMissing("Write the conclusion of the assessment.", field="conclusion")
    judged = _judged_records(affected_records(session, assessment), verdicts or {})
    # The password is proven before the conclusion is written: a refused signature
    # must leave the assessment open, even though its failed attempt is kept.
    signatures.reauthenticate_to_sign(
        session, assessment, SignatureMeaning.REVIEWED, user, password=password, client_address=client_address
    )
    with audit_context.reason_for_change(session, "Impact assessment concluded"):
        assessment.conclusion = conclusion.strip()
        assessment.closed_at = clock.now()
        for record, given in judged:
            assessment.verdicts.append(
                ImpactVerdict(
                    record_kind=record.kind,
                    record_key=record.key,
                    label=record.label,
                    verdict=given.verdict,
                    comment=given.comment.strip() or None,
                )
            )
    session.flush()
    signatures.sign(
        session,
        assessment,
        meaning=SignatureMeaning.REVIEWED,
        user=user,
        password=password,
        client_address=client_address,
    )
    declarations = {item.kind: item for item in registry.current().impacted_record_declarations}
    for record, given in judged:
        if given.verdict == Verdict.IMPACT:
            declarations[record.kind].on_impact(
                session,
                record.key,
                f"Out-of-tolerance impact assessment of {assessment.equipment.asset_tag} "
                f"({assessment.equipment.name}): impact on {record.label}. {given.comment.strip()}",
                user,
            )
    return assessment


def _judged_records(
    records: Sequence[ImpactedRecord], verdicts: Mapping[str, VerdictInput]
) -> list[tuple[ImpactedRecord, VerdictInput]]:
    """Each affected record with its verdict; every record needs one, and a verdict of impact says what it is."""
    judged = []
    for record in records:
        prefix = verdict_prefix(record)
        given = verdicts.get(prefix)
        if given is None or given.verdict is None:
            raise DetailMissing(f"Give the verdict on {record.label}: no impact or impact.", field=f"{prefix}verdict")
        if given.verdict == Verdict.IMPACT and not given.comment.strip():
            raise DetailMissing(f"Say what the impact on {record.label} is.", field=f"{prefix}comment")
        judged.append((record, given))
    return judged
