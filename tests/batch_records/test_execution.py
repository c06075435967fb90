"""Executing a batch: the happy path to release, then each refusal the issue names."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from batch_records.cart_line import calibrated
from batch_records.errors import (
    BatchLocked,
    DeviationIncomplete,
    EntryUnreadable,
    HoldPointPending,
    LateEntryWithoutReason,
    NotCalledFor,
    ReleaseRefused,
    StepIncomplete,
    StepNotSkippable,
    StepOutOfOrder,
)
from batch_records.models import (
    BatchEntry,
    BatchParameter,
    BatchStatus,
    DeviationCategory,
    DeviationStatus,
    StepStatus,
)
from batch_records.service import deviations, execution, release, step_signatures, step_uses
from lims import clock
from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.equipment.errors import CalibrationOverdue
from lims.errors import InvalidInput, RecordNotFound
from lims.identity.errors import LoginFailed
from lims.materials import service as materials
from lims.materials.errors import LotExhausted, LotExpired, LotNotReleased
from lims.signatures import service as signatures
from lims.signatures.errors import SamePersonRefused, SignatureRefused
from lims.signatures.models import SignatureMeaning
from lims.training import service as training
from lims.training.errors import NotTrained
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import TODAY
from tests.helpers import PASSWORD

DUE_SOON = 14


def sign(session, record, meaning, user):
    return signatures.sign(session, record, meaning=meaning, user=user, password=PASSWORD)


def enter(session, step, values, user):
    by_name = {parameter.name: parameter for parameter in step.parameters}
    return [execution.record_entry(session, by_name[name], value, user=user) for name, value in values.items()]


def do_receipt(session, batch, line):
    step = batch.steps[0]
    enter(session, step, {"Volume": "180", "Temperature on receipt": "4.5 °C"}, line.operator)
    sign(session, step, SignatureMeaning.PERFORMED, line.operator)
    sign(session, step, SignatureMeaning.VERIFIED, line.second_operator)
    return step


def do_selection(session, batch, line):
    step = batch.steps[1]
    execution.record_equipment_use(session, step, line.cabinet, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_equipment_use(session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_material_use(
        session, step, step.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    enter(session, step, {"CD3+ purity": "92.4"}, line.operator)
    sign(session, step, SignatureMeaning.PERFORMED, line.operator)
    sign(session, step, SignatureMeaning.REVIEWED, line.qa)
    return step


def do_harvest(session, batch, line, *, count: str = "2.4 ×10^6 cells/mL"):
    step = batch.steps[3]
    enter(session, step, {"Viable cell concentration": count}, line.operator)
    execution.record_yield(session, step, parse_measurement("1.9 ×10^9 cells"), user=line.operator)
    sign(session, step, SignatureMeaning.PERFORMED, line.operator)
    sign(session, step, SignatureMeaning.VERIFIED, line.second_operator)
    return step


def execute_all_steps(session, batch, line):
    do_receipt(session, batch, line)
    do_selection(session, batch, line)
    step_signatures.skip_step(
        session, batch.steps[2], reason="Count on target; no top-up needed", user=line.operator, password=PASSWORD
    )
    do_harvest(session, batch, line)


def pass_release_tests(session, batch, line):
    for release_test, reported in zip(batch.release_tests, ("91.5", "No growth"), strict=True):
        result = release.record_release_result(session, release_test, reported, user=line.operator)
        sign(session, result, SignatureMeaning.VERIFIED, line.second_operator)


def review_trail(session, batch, line):
    """QA's review of the batch's audit trail, which its release needs."""
    return release.review_trail(session, batch, comment="Nothing to report.", user=line.qa, password=PASSWORD)


def release_batch(session, batch, line):
    review_trail(session, batch, line)
    return release.dispose(session, batch, SignatureMeaning.RELEASED, user=line.qa, password=PASSWORD)


def test_a_batch_goes_from_its_first_step_to_qa_release(db_session, line, batch):
    assert batch.batch_number == "CART-001-300001"
    assert [step.title for step in batch.steps] == [step.title for step in line.version.steps]
    assert execution.current_step(batch) is batch.steps[0]

    execute_all_steps(db_session, batch, line)
    assert [step.status for step in batch.steps] == [
        StepStatus.COMPLETED,
        StepStatus.COMPLETED,
        StepStatus.SKIPPED,
        StepStatus.COMPLETED,
    ]
    assert batch.status == BatchStatus.AWAITING_REVIEW
    assert line.medium_lot.quantity_remaining == parse_measurement("0.75 L")
    assert execution.yield_percent(batch.steps[3]) == parse_measurement("95.0").value

    with pytest.raises(ReleaseRefused, match="Viability: no result"):
        release_batch(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    review = release.review(db_session, batch.id)
    assert review.blockers == [] and review.exception_count == 1
    assert [record.step for record in review.skipped] == [batch.steps[2]]

    signature = release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.RELEASED and signature.meaning == SignatureMeaning.RELEASED
    assert signatures.signatures_of(db_session, batch)[-1] == (signature, signatures.SignatureStatus.VALID)


def test_steps_are_done_in_order_and_only_a_skippable_step_is_skipped(db_session, line, batch):
    second = batch.steps[1]
    with pytest.raises(StepOutOfOrder):
        enter(db_session, second, {"CD3+ purity": "90"}, line.operator)
    with pytest.raises(StepOutOfOrder):
        step_signatures.skip_step(
            db_session, batch.steps[2], reason="not needed", user=line.operator, password=PASSWORD
        )
    do_receipt(db_session, batch, line)
    with pytest.raises(StepNotSkippable):
        step_signatures.skip_step(db_session, second, reason="in a hurry", user=line.operator, password=PASSWORD)
    assert second.status == StepStatus.PENDING


def test_a_hold_point_stops_the_process_until_qa_reviews_it(db_session, line, batch):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    execution.record_equipment_use(db_session, step, line.cabinet, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("0.25 L"), user=line.operator
    )
    enter(db_session, step, {"CD3+ purity": "92.4"}, line.operator)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    with pytest.raises(HoldPointPending):
        step_signatures.skip_step(
            db_session, batch.steps[2], reason="not needed", user=line.operator, password=PASSWORD
        )
    with pytest.raises(SignatureRefused):
        sign(db_session, step, SignatureMeaning.REVIEWED, line.second_operator)
    sign(db_session, step, SignatureMeaning.REVIEWED, line.qa)
    step_signatures.skip_step(db_session, batch.steps[2], reason="not needed", user=line.operator, password=PASSWORD)


def test_a_step_is_signed_complete_only_with_every_required_value_equipment_lot_and_yield(db_session, line, batch):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    with pytest.raises(
        StepIncomplete,
        match="a value for CD3\\+ purity, the biosafety cabinet used, the centrifuge "
        "used, the lot of TexMACS GMP medium used",
    ):
        sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    assert step.status == StepStatus.PENDING


def test_the_performer_cannot_verify_their_own_step(db_session, line, batch):
    step = batch.steps[0]
    enter(db_session, step, {"Volume": "180 mL", "Temperature on receipt": "5"}, line.operator)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    with pytest.raises(SamePersonRefused):
        sign(db_session, step, SignatureMeaning.VERIFIED, line.operator)
    assert not signatures.signers_with_meaning(db_session, step, SignatureMeaning.VERIFIED)


def test_someone_who_recorded_a_value_cannot_verify_the_step_either(db_session, line, batch):
    step = batch.steps[0]
    enter(db_session, step, {"Volume": "180 mL"}, line.second_operator)
    enter(db_session, step, {"Temperature on receipt": "5"}, line.operator)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    with pytest.raises(SamePersonRefused):
        sign(db_session, step, SignatureMeaning.VERIFIED, line.second_operator)


def test_an_untrained_operator_cannot_perform_a_step(db_session, line, batch):
    step = batch.steps[0]
    with pytest.raises(NotTrained, match="no training on MBR CART-001 v1"):
        enter(db_session, step, {"Volume": "180"}, line.untrained)
    assert step.status == StepStatus.PENDING and not step.parameters[0].entries


def test_training_that_expired_no_longer_counts(db_session, line, batch):
    training.record_training(
        db_session,
        user=line.untrained,
        subject=batch.training_subject,
        trained_on=TODAY - timedelta(days=400),
        expires_on=TODAY - timedelta(days=1),
        recorded_by=line.author,
    )
    with pytest.raises(NotTrained):
        enter(db_session, batch.steps[0], {"Volume": "180"}, line.untrained)


def test_overdue_equipment_is_refused_and_its_use_not_recorded(db_session, line, batch):
    do_receipt(db_session, batch, line)
    calibrated(db_session, line.cabinet, due_on=TODAY - timedelta(days=1))
    step = batch.steps[1]
    with pytest.raises(CalibrationOverdue, match=r"BSC-01 .* calibration was due on 2030-04-09"):
        execution.record_equipment_use(db_session, step, line.cabinet, user=line.operator, due_soon_days=DUE_SOON)
    assert step_uses.uses_of_steps(db_session, [step])[step.id].equipment == []


def test_equipment_of_a_type_the_step_does_not_call_for_is_refused(db_session, line, batch):
    with pytest.raises(NotCalledFor, match="does not call for a biosafety cabinet"):
        execution.record_equipment_use(
            db_session, batch.steps[0], line.cabinet, user=line.operator, due_soon_days=DUE_SOON
        )


def receive_other_lot(db_session, line, *, expires_in_days: int):
    return materials.receive_lot(
        db_session,
        line.medium,
        supplier="Miltenyi Biotec",
        supplier_lot="X",
        received_on=TODAY - timedelta(days=1),
        expires_on=TODAY + timedelta(days=expires_in_days),
        quantity=parse_measurement("500 mL"),
        user=line.operator,
    )


def test_a_quarantined_or_expired_lot_is_refused(db_session, line, batch):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    quarantined = receive_other_lot(db_session, line, expires_in_days=30)
    with pytest.raises(LotNotReleased):
        execution.record_material_use(
            db_session, step, step.materials[0], quarantined, parse_measurement("250 mL"), user=line.operator
        )
    expiring = receive_other_lot(db_session, line, expires_in_days=3)
    sign(db_session, expiring, SignatureMeaning.RELEASED, line.qa)
    clock.advance(timedelta(days=4))
    with pytest.raises(LotExpired):
        execution.record_material_use(
            db_session, step, step.materials[0], expiring, parse_measurement("250 mL"), user=line.operator
        )
    assert expiring.quantity_remaining == parse_measurement("500 mL")


def test_lot_quantities_are_deducted_across_units(db_session, line, batch):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("0.1 L"), user=line.operator
    )
    assert line.medium_lot.quantity_remaining == parse_measurement("0.65 L")
    deductions = db_session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity_type == "material_lot",
            AuditEvent.entity_id == str(line.medium_lot.id),
            AuditEvent.action == "update",
        )
        .order_by(AuditEvent.sequence)
    ).all()
    assert [json.loads(event.changes) for event in deductions[-2:]] == [
        {"quantity_remaining": ["1 L", "0.75 L"]},
        {"quantity_remaining": ["0.75 L", "0.65 L"]},
    ], "a quantity is recorded whole, with its unit"
    with pytest.raises(LotExhausted, match=r"only 0\.65 L left"):
        execution.record_material_use(
            db_session, step, step.materials[0], line.medium_lot, parse_measurement("700 mL"), user=line.operator
        )


def test_an_out_of_limit_entry_is_kept_and_raises_a_deviation_at_once(db_session, line, batch):
    step = batch.steps[0]
    (entry,) = enter(db_session, step, {"Temperature on receipt": "11 °C"}, line.operator)
    assert not entry.within_limits
    (deviation,) = batch.deviations
    assert deviation.status == DeviationStatus.OPEN and deviation.step is step and deviation.entry is entry
    assert "Temperature on receipt recorded as 11 °C, outside its limits 2–8 °C" in deviation.description
    assert deviation.number == "DEV-2030-0001"


def test_a_value_in_another_unit_is_judged_after_conversion(db_session, line, batch):
    step = batch.steps[0]
    (volume,) = enter(db_session, step, {"Volume": "0.2 L"}, line.operator)
    assert volume.within_limits and batch.deviations == []
    with pytest.raises(EntryUnreadable, match="Temperature on receipt: Cannot convert 5 mL to °C"):
        enter(db_session, step, {"Temperature on receipt": "5 mL"}, line.operator)


def test_a_correction_needs_a_reason_keeps_the_original_and_invalidates_signatures(db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    original = step.parameters[0].current_entry
    with pytest.raises(ReasonRequired):
        execution.correct_entry(db_session, original, "190", reason=" ", user=line.operator)
    correction = execution.correct_entry(db_session, original, "190", reason="Misread the scale", user=line.operator)
    assert original.replaced_by_id == correction.id and step.parameters[0].current_entry is correction
    review = release.review(db_session, batch.id)
    assert review.corrections == [correction]
    assert any("performer's signature is missing or invalidated" in gap for gap in review.verification_gaps)
    event = (
        db_session.query(AuditEvent)
        .filter_by(entity_type="batch_entry", entity_id=str(original.id), action="update")
        .one()
    )
    assert event.reason == "Misread the scale"


def test_a_late_entry_states_why_and_is_shown_for_review(db_session, line, batch):
    step = batch.steps[0]
    enter(db_session, step, {"Volume": "180"}, line.operator)
    clock.advance(timedelta(hours=2))
    parameter = step.parameters[1]
    with pytest.raises(LateEntryWithoutReason):
        execution.record_entry(
            db_session, parameter, "5", user=line.operator, observed_at=clock.now() - timedelta(hours=1)
        )
    late = execution.record_entry(
        db_session,
        parameter,
        "5",
        user=line.operator,
        observed_at=clock.now() - timedelta(hours=1),
        late_reason="Tablet battery was flat",
    )
    assert late.entered_at == clock.now()
    assert release.review(db_session, batch.id).late_entries == [late]


def test_several_entries_are_recorded_together_and_an_outside_one_raises_its_deviation(db_session, line, batch):
    step = batch.steps[0]
    volume, temperature, _remarks = step.parameters
    entries = execution.record_entries(
        db_session, step, {volume.id: "180", temperature.id: "11 °C"}, user=line.operator
    )
    assert [(entry.parameter, entry.within_limits) for entry in entries] == [(volume, True), (temperature, False)]
    assert step.status == StepStatus.IN_PROGRESS
    assert [deviation.entry for deviation in batch.deviations] == [entries[1]]


def _entries_of(session, step):
    return session.scalars(select(BatchEntry).join(BatchEntry.parameter).where(BatchParameter.step_id == step.id)).all()


def test_one_refused_entry_records_none_and_names_its_parameter(db_session, line, batch):
    step = batch.steps[0]
    volume, temperature, _remarks = step.parameters
    with pytest.raises(InvalidInput) as refused:
        execution.record_entries(db_session, step, {volume.id: "180", temperature.id: "warm"}, user=line.operator)
    assert refused.value.message.startswith("Temperature on receipt:")
    assert refused.value.field == f"parameter-{temperature.id}"
    db_session.flush()
    assert _entries_of(db_session, step) == [] and step.status == StepStatus.PENDING


def test_every_refused_entry_is_named_and_none_is_recorded(db_session, line, batch):
    step = batch.steps[0]
    volume, temperature, remarks = step.parameters
    enter(db_session, step, {"Remarks count": "0"}, line.operator)
    with pytest.raises(InvalidInput) as refused:
        execution.record_entries(
            db_session, step, {volume.id: "lots", temperature.id: "4 °C", remarks.id: "1"}, user=line.operator
        )
    message = refused.value.message
    assert message.startswith("Nothing is recorded:")
    assert "Volume:" in message and "Remarks count is already recorded" in message
    assert "Temperature" not in message
    db_session.flush()
    assert [entry.parameter for entry in _entries_of(db_session, step)] == [remarks]


def test_an_entry_for_a_parameter_of_another_step_is_refused_as_unknown(db_session, line, batch):
    step = batch.steps[0]
    elsewhere = batch.steps[1].parameters[0]
    with pytest.raises(
        RecordNotFound, match=f"Step 1 \\(Receive apheresis bag\\) has no parameter with id {elsewhere.id}"
    ):
        execution.record_entries(
            db_session, step, {step.parameters[0].id: "180", elsewhere.id: "90"}, user=line.operator
        )
    db_session.flush()
    assert _entries_of(db_session, step) == []


def test_recording_no_value_at_all_is_refused(db_session, line, batch):
    with pytest.raises(InvalidInput, match="Enter at least one value"):
        execution.record_entries(db_session, batch.steps[0], {}, user=line.operator)


def test_a_release_needs_every_deviation_closed(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    deviation = deviations.raise_deviation(
        db_session,
        batch,
        description="Label smudged on receipt",
        user=line.operator,
        category=DeviationCategory.MINOR,
        step=batch.steps[0],
    )
    with pytest.raises(ReleaseRefused, match=f"Deviation {deviation.number} is open"):
        release_batch(db_session, batch, line)
    with pytest.raises(DeviationIncomplete, match="without the investigation, the root cause"):
        sign(db_session, deviation, SignatureMeaning.APPROVED, line.qa)
    deviations.record_investigation(
        db_session,
        deviation,
        deviations.InvestigationInput(
            category=DeviationCategory.MINOR,
            investigation="Label checked against the COI record: legible, matching.",
            root_cause="Condensation during transport",
            other_batches_assessed="None affected",
            conclusion="No impact on identity",
            capa="Transport bags with a moisture barrier",
        ),
        reason="Investigation completed",
    )
    with pytest.raises(SignatureRefused):
        sign(db_session, deviation, SignatureMeaning.APPROVED, line.operator)
    sign(db_session, deviation, SignatureMeaning.APPROVED, line.qa)
    assert deviation.status == DeviationStatus.CLOSED
    release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.RELEASED


def test_an_out_of_specification_result_raises_a_deviation_and_blocks_release(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    viability, sterility = batch.release_tests
    result = release.record_release_result(db_session, viability, "62 %", user=line.operator)
    assert not result.conforms
    (deviation,) = batch.deviations
    assert deviation.test_result is result and "62 % against ≥ 70 %" in deviation.description
    release.record_release_result(db_session, sterility, "no growth", user=line.operator)
    with pytest.raises(ReleaseRefused) as refusal:
        release_batch(db_session, batch, line)
    assert "Viability: 62 % is out of specification" in str(refusal.value)
    assert "Sterility: result not verified by a second person" in str(refusal.value)
    assert f"Deviation {deviation.number} is open" in str(refusal.value)


def test_a_release_test_result_is_verified_by_someone_other_than_who_recorded_it(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    result = release.record_release_result(db_session, batch.release_tests[0], "88", user=line.operator)
    with pytest.raises(SamePersonRefused):
        sign(db_session, result, SignatureMeaning.VERIFIED, line.operator)
    sign(db_session, result, SignatureMeaning.VERIFIED, line.qa)


def test_a_released_batch_is_read_only(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    release_batch(db_session, batch, line)
    entry = batch.steps[0].parameters[0].current_entry
    with pytest.raises(BatchLocked, match="released and can no longer change"):
        execution.correct_entry(db_session, entry, "200", reason="late fix", user=line.operator)
    with pytest.raises(BatchLocked):
        release.record_release_result(db_session, batch.release_tests[0], "90", user=line.operator)
    with pytest.raises(BatchLocked):
        release.dispose(
            db_session, batch, SignatureMeaning.REJECTED, user=line.qa, password=PASSWORD, reason="second thoughts"
        )
    assert entry.replaced_by_id is None and batch.status == BatchStatus.RELEASED


def test_qa_rejects_or_quarantines_a_batch_with_a_reason_and_a_signature(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    with pytest.raises(ReasonRequired):
        release.dispose(db_session, batch, SignatureMeaning.QUARANTINED, user=line.qa, password=PASSWORD)
    with pytest.raises(SignatureRefused):
        release.dispose(
            db_session,
            batch,
            SignatureMeaning.QUARANTINED,
            user=line.operator,
            password=PASSWORD,
            reason="Awaiting sterility retest",
        )
    release.dispose(
        db_session,
        batch,
        SignatureMeaning.QUARANTINED,
        user=line.qa,
        password=PASSWORD,
        reason="Awaiting sterility retest",
    )
    assert batch.status == BatchStatus.QUARANTINED
    with pytest.raises(BatchLocked, match="quarantine"):
        step_signatures.skip_step(db_session, batch.steps[2], reason="x", user=line.operator, password=PASSWORD)
    release.dispose(
        db_session,
        batch,
        SignatureMeaning.REJECTED,
        user=line.qa,
        password=PASSWORD,
        reason="Sterility retest positive",
    )
    assert batch.status == BatchStatus.REJECTED and batch.disposition_reason == "Sterility retest positive"


def test_a_wrong_password_leaves_the_batch_undisposed(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    with pytest.raises(LoginFailed):
        release.dispose(
            db_session, batch, SignatureMeaning.REJECTED, user=line.qa, password="wrong", reason="Contaminated"
        )
    assert batch.status == BatchStatus.AWAITING_REVIEW and batch.disposition_reason is None


def test_steps_waiting_for_a_second_person_or_for_qa_are_listed_for_whoever_may_sign(db_session, line, batch):
    step = batch.steps[0]
    enter(db_session, step, {"Volume": "180", "Temperature on receipt": "5"}, line.operator)
    assert step_signatures.steps_awaiting_signature(db_session, SignatureMeaning.VERIFIED).items == []
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)

    def waiting(*args, **kwargs) -> list:
        return step_signatures.steps_awaiting_signature(*args, **kwargs).items

    assert waiting(db_session, SignatureMeaning.VERIFIED, for_user=line.second_operator) == [step]
    assert waiting(db_session, SignatureMeaning.VERIFIED, for_user=line.operator) == []
    sign(db_session, step, SignatureMeaning.VERIFIED, line.second_operator)
    assert waiting(db_session, SignatureMeaning.VERIFIED) == []

    selection = batch.steps[1]
    execution.record_equipment_use(db_session, selection, line.cabinet, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_equipment_use(db_session, selection, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_material_use(
        db_session, selection, selection.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    enter(db_session, selection, {"CD3+ purity": "92.4"}, line.operator)
    sign(db_session, selection, SignatureMeaning.PERFORMED, line.operator)
    assert waiting(db_session, SignatureMeaning.REVIEWED) == [selection]
    sign(db_session, selection, SignatureMeaning.REVIEWED, line.qa)
    assert waiting(db_session, SignatureMeaning.REVIEWED) == []


def test_the_review_lists_out_of_limit_values_and_a_yield_outside_its_limits_first(db_session, line, batch):
    do_receipt(db_session, batch, line)
    do_selection(db_session, batch, line)
    step_signatures.skip_step(
        db_session, batch.steps[2], reason="Count on target", user=line.operator, password=PASSWORD
    )
    harvest = batch.steps[3]
    (low,) = enter(db_session, harvest, {"Viable cell concentration": "0.8 ×10^6 cells/mL"}, line.operator)
    execution.record_yield(db_session, harvest, parse_measurement("0.9 ×10^9 cells"), user=line.operator)
    review = release.review(db_session, batch.id)
    assert review.out_of_limit == [low]
    assert review.yields_outside == [harvest] and execution.yield_percent(harvest) == parse_measurement("45.0").value
    assert review.verification_gaps == ["Step 4 (Harvest and count) is in progress"]
    # the value, the deviation it raised, the yield, the unfinished step and the skipped one
    assert review.exception_count == 5
