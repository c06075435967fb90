"""Out-of-tolerance impact: the affected uses, and QA's signed conclusion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import ImpactAssessment
from lims.equipment.service import impact_assessments, use
from lims.identity.errors import LoginFailed
from lims.identity.models import LoginAttempt, RoleName
from lims.signatures import service as signatures
from lims.signatures.errors import RecordSigned, SignatureRefused
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD
from tests.lims.equipment.conftest import DUE_SOON_DAYS
from tests.lims.equipment.service.support import TODAY, at


def test_out_of_tolerance_lists_uses_since_the_last_passing_calibration(
    db_session, create_equipment, calibrate, create_user
):
    technician = create_user()
    equipment = create_equipment()
    clock.freeze(at(TODAY - timedelta(days=60)))
    calibrate(equipment, "37 °C")
    clock.freeze(at(TODAY - timedelta(days=59)))
    before_pass_window = use.record_use(
        db_session,
        equipment,
        user=technician,
        record_type="batch_step",
        record_id=1,
        purpose="Old batch",
        due_soon_days=DUE_SOON_DAYS,
    )
    clock.freeze(at(TODAY - timedelta(days=30)))
    calibrate(equipment, "37.2 °C")
    uses = []
    for day in (20, 10, 1):
        clock.freeze(at(TODAY - timedelta(days=day)))
        uses.append(
            use.record_use(
                db_session,
                equipment,
                user=technician,
                record_type="batch_step",
                record_id=day,
                purpose=f"Batch {day}",
                due_soon_days=DUE_SOON_DAYS,
            )
        )
    clock.freeze(at(TODAY))
    failing = calibrate(equipment, ("38.2 °C", "37.0 °C"))
    assert not failing.as_found_passed and failing.passed, "adjusted back into tolerance, but found out of it"
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    affected = impact_assessments.affected_uses(db_session, assessment)
    assert affected == uses and before_pass_window not in affected


def test_qa_closes_the_impact_assessment_with_a_signature(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    qa = create_user(RoleName.QA)
    equipment = create_equipment()
    calibrate(equipment, "39 °C")
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    with pytest.raises(LoginFailed):
        impact_assessments.close_impact_assessment(
            db_session, assessment, conclusion="No impact", user=qa, password="wrong-pw-1234"
        )
    assert assessment.conclusion is None and assessment.closed_at is None
    impact_assessments.close_impact_assessment(
        db_session, assessment, conclusion="Batches 12 and 13 reviewed: no impact.", user=qa, password=PASSWORD
    )
    [(signature, state)] = signatures.signatures_of(db_session, assessment)
    assert signature.meaning == SignatureMeaning.REVIEWED and state == signatures.SignatureStatus.VALID
    with pytest.raises(RecordSigned):
        with audit_context.reason_for_change(db_session, "Changed my mind"):
            assessment.conclusion = "Batches 12 and 13 affected."


def test_only_qa_closes_an_impact_assessment_and_is_refused_before_the_password(
    db_session, create_equipment, calibrate, create_user
):
    clock.freeze(at(TODAY))
    technician = create_user(RoleName.TECHNICIAN)
    equipment = create_equipment()
    calibrate(equipment, "39 °C")
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    with pytest.raises(SignatureRefused, match="may not sign"):
        impact_assessments.close_impact_assessment(
            db_session, assessment, conclusion="No impact", user=technician, password="wrong-pw-1234"
        )
    assert assessment.closed_at is None
    assert not db_session.scalars(select(LoginAttempt).where(LoginAttempt.user_id == technician.id)).all(), (
        "a refused signer's password is never checked, so it counts nothing toward lockout"
    )


def test_uses_of_records_no_area_declared_are_listed_but_ask_no_verdict(
    db_session, create_equipment, calibrate, create_user
):
    clock.freeze(at(TODAY - timedelta(days=1)))
    qa, technician = create_user(RoleName.QA), create_user()
    equipment = create_equipment()
    calibrate(equipment, "37 °C")
    served = use.record_use(
        db_session,
        equipment,
        user=technician,
        record_type="development_run",
        record_id="77",
        purpose="Process development",
        due_soon_days=DUE_SOON_DAYS,
    )
    clock.freeze(at(TODAY))
    calibrate(equipment, "39 °C")
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    assert impact_assessments.affected_uses(db_session, assessment) == [served]
    assert impact_assessments.affected_records(db_session, assessment) == []
    assert impact_assessments.open_assessments_listing(db_session, [served]) == [assessment]
    impact_assessments.close_impact_assessment(
        db_session, assessment, conclusion="Development only: no GMP record.", user=qa, password=PASSWORD
    )
    assert assessment.verdicts == []
    assert impact_assessments.open_assessments_listing(db_session, [served]) == []
