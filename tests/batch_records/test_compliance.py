"""The batch records' compliance checks at their boundaries: deviations open beyond their category's days,
batches waiting for QA's review beyond N days, master record versions in review beyond N days; and the signatures'
check over batch records' parts: a master record's step changed after its approval, an entry corrected after its
step was signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from batch_records.models import BatchStatus, DeviationCategory, DeviationStatus, MbrStatus
from batch_records.service import deviations, execution
from lims import clock
from lims.audit import context as audit_context
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_execution import do_receipt, sign
from tests.lims.compliance.checking import found

NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("category", "days", "severity"),
    [
        (DeviationCategory.CRITICAL, 15, "critical"),
        (DeviationCategory.MAJOR, 30, "major"),
        (DeviationCategory.MINOR, 60, "minor"),
        (None, 7, "major"),
    ],
)
@pytest.mark.parametrize(("days_beyond", "is_found"), [(-1, False), (0, False), (1, True)])
def test_a_deviation_open_beyond_its_categorys_days_is_found(
    db_session, batch, line, category, days, severity, days_beyond, is_found
):
    deviation = deviations.raise_deviation(
        db_session, batch, description="Incubator door left ajar", user=line.operator, category=category
    )
    conditions = found(db_session, "batch_records.deviation-open-too-long", at=NOW + timedelta(days=days + days_beyond))
    assert (str(deviation.id) in conditions) is is_found
    if is_found:
        condition = conditions[str(deviation.id)]
        assert condition.severity == severity
        assert condition.detail.startswith(f"{category.value if category else 'unclassified'} deviation open for")
        assert condition.link == f"/deviations/{deviation.id}"


def test_a_closed_deviation_is_not_found(db_session, batch, line):
    deviation = deviations.raise_deviation(
        db_session, batch, description="Label smudged", user=line.operator, category=DeviationCategory.MINOR
    )
    with audit_context.reason_for_change(db_session, "Closed for the test"):
        deviation.status = DeviationStatus.CLOSED
    assert not found(db_session, "batch_records.deviation-open-too-long", at=NOW + timedelta(days=400))


@pytest.mark.parametrize(("days_beyond", "is_found"), [(-1, False), (0, False), (1, True)])
def test_a_batch_waiting_for_review_beyond_the_days_set_is_found(db_session, batch, days_beyond, is_found):
    with audit_context.reason_for_change(db_session, "Every step done for the test"):
        for step in batch.steps:
            step.completed_at = NOW
        batch.status = BatchStatus.AWAITING_REVIEW
    conditions = found(db_session, "batch_records.batch-review-overdue", at=NOW + timedelta(days=14 + days_beyond))
    assert (str(batch.id) in conditions) is is_found
    if is_found:
        assert conditions[str(batch.id)].detail == (
            f"awaiting review for 15 days since its last step was done ({TODAY.isoformat()})"
        )


@pytest.mark.parametrize(("days_beyond", "is_found"), [(-1, False), (0, False), (1, True)])
def test_a_master_version_in_review_beyond_the_days_set_is_found(db_session, line, days_beyond, is_found):
    version = line.version
    with audit_context.reason_for_change(db_session, "Sent back to review for the test"):
        version.status = MbrStatus.IN_REVIEW
    db_session.add(
        ElectronicSignature(
            entity_type="mbr_version",
            entity_id=str(version.id),
            meaning=SignatureMeaning.AUTHORED,
            signer_id=line.author.id,
            printed_name=line.author.full_name,
            signed_at=clock.now(),
            content_hash="0" * 64,
            binding_hash="0" * 64,
        )
    )
    db_session.flush()
    conditions = found(db_session, "batch_records.master-review-overdue", at=NOW + timedelta(days=14 + days_beyond))
    assert (str(version.id) in conditions) is is_found
    if is_found:
        assert (
            conditions[str(version.id)].record_label == f"master batch record {version.master.code} v{version.number}"
        )


def test_a_step_of_an_approved_master_record_changed_after_its_approval_is_found_in_the_labs_words(db_session, line):
    version = line.version
    step = next(step for step in version.steps if step.position > 1 and step.parameters)
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Instruction reworded"):
        step.instruction = "Activate with half the beads."
        step.parameters[0].limit = "≥ 50 %"
    db_session.flush()
    approval = db_session.scalar(
        select(ElectronicSignature).where(
            ElectronicSignature.entity_type == "mbr_version",
            ElectronicSignature.entity_id == str(version.id),
            ElectronicSignature.meaning == SignatureMeaning.APPROVED,
        )
    )
    condition = found(db_session, "signatures.invalidated-not-resigned", at=clock.now())[str(approval.id)]
    assert condition.record_label == f"approved signature of {version.master.code} v{version.number}"
    where = f"step {step.position}. {step.title} of {version.master.code} v{version.number}"
    assert condition.detail == (
        f"{where} changed; parameter {step.parameters[0].name} of {where} changed after Quinn Okafor signed it as "
        f"approved on {TODAY.isoformat()}; it has not been signed again"
    )


def test_an_entry_corrected_after_its_step_was_signed_is_found_until_the_step_is_signed_again(db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    volume = step.parameters[0].current_entry
    clock.advance(timedelta(hours=1))
    correction = execution.correct_entry(db_session, volume, "190", reason="Misread the scale", user=line.operator)
    conditions = found(db_session, "signatures.invalidated-not-resigned", at=clock.now())
    where = f"parameter Volume of step 1. {step.title} of batch {batch.batch_number}"
    assert sorted(condition.detail for condition in conditions.values()) == [
        f"the entry {volume.value} of {where} changed; the entry {correction.value} of {where} added after "
        f"{signer} signed it as {meaning} on {TODAY.isoformat()}; it has not been signed again"
        for signer, meaning in [("Sara Lind", "verified"), ("Tran Nguyen", "performed")]
    ]
    clock.advance(timedelta(minutes=5))
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    sign(db_session, step, SignatureMeaning.VERIFIED, line.second_operator)
    assert not found(db_session, "signatures.invalidated-not-resigned", at=clock.now())
