"""Out-of-tolerance impact: the uses since the last passing calibration, and QA's signed conclusion on them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.db import get_record
from lims.equipment.errors import AssessmentClosed
from lims.equipment.models import Equipment, EquipmentUse, ImpactAssessment
from lims.equipment.service.use import uses_since
from lims.errors import DetailMissing
from lims.identity.models import User
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


def open_impact_assessments(session: Session) -> list[ImpactAssessment]:
    return list(
        session.scalars(
            select(ImpactAssessment).where(ImpactAssessment.closed_at.is_(None)).order_by(ImpactAssessment.opened_at)
        )
    )


def open_impact_assessments_count(session: Session) -> int:
    return session.scalar(select(func.count(ImpactAssessment.id)).where(ImpactAssessment.closed_at.is_(None))) or 0


def affected_uses(session: Session, assessment: ImpactAssessment) -> list[EquipmentUse]:
    """Every recorded use of the equipment since its last passing calibration, up to the failing one."""
    uses = uses_since(session, assessment.equipment, assessment.uses_since)
    return [use for use in uses if use.used_at <= assessment.calibration_record.recorded_at]


def close_impact_assessment(
    session: Session,
    assessment: ImpactAssessment,
    *,
    conclusion: str,
    user: User,
    password: str,
    client_address: str | None = None,
) -> ImpactAssessment:
    """QA's conclusion on the affected uses, closed with an e-signature."""
    if assessment.closed_at is not None:
        raise AssessmentClosed("This impact assessment is already closed.")
    # Who may close it is settled before the password is asked for, as on the signing page.
    signatures.check_may_sign(session, assessment, SignatureMeaning.REVIEWED, user)
    if not conclusion.strip():
        raise DetailMissing("Write the conclusion of the assessment.", field="conclusion")
    # The password is proven before the conclusion is written: a refused signature
    # must leave the assessment open, even though its failed attempt is kept.
    signatures.reauthenticate_to_sign(
        session, assessment, SignatureMeaning.REVIEWED, user, password=password, client_address=client_address
    )
    with audit_context.reason_for_change(session, "Impact assessment concluded"):
        assessment.conclusion = conclusion.strip()
        assessment.closed_at = clock.now()
    signatures.sign(
        session,
        assessment,
        meaning=SignatureMeaning.REVIEWED,
        user=user,
        password=password,
        client_address=client_address,
    )
    return assessment
