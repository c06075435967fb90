"""The rules of testing: definitions, judging results, corrections and verification by someone else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.equipment.errors import CalibrationOverdue, EquipmentOutOfTolerance
from lims.equipment.models import EquipmentType, EquipmentUse
from lims.equipment.service import inventory
from lims.errors import AlreadyExists, DetailMissing
from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.signatures.errors import AlreadySigned, SamePersonRefused
from lims.signatures.models import SignatureMeaning
from lims.testing import service
from lims.testing.errors import ResultReplaced, ResultUnreadable, UnknownInstrument, WrongInstrument
from lims.testing.models import ResultKind
from lims.training import service as training
from lims.training.errors import NotTrained
from lims.units.errors import IncompatibleUnits, PhysicallyImpossible, UnitError
from lims.units.kinds import ValueKind
from tests.helpers import PASSWORD
from tests.lims.testing.helpers import trained


@pytest.fixture
def viability(db_session):
    return service.create_definition(
        db_session,
        code="viab",
        name="Viability",
        method="7-AAD flow cytometry",
        result_kind=ResultKind.QUANTITATIVE,
        unit="%",
        specification="≥ 70 %",
    )


@pytest.fixture
def sterility(db_session):
    return service.create_definition(
        db_session,
        code="STER",
        name="Sterility",
        method="Ph. Eur. 2.6.27",
        result_kind=ResultKind.QUALITATIVE,
        unit="mL",
        specification="No growth",
    )


@pytest.fixture
def analyst(db_session, create_user, viability, sterility):
    return trained(db_session, create_user(RoleName.TECHNICIAN, full_name="Tran Nguyen"))


def record(db_session, definition, reported, user, specification=None, instrument_id=None):
    return service.record_result(
        db_session,
        definition,
        tested_type="batch",
        tested_id=7,
        specification=specification or definition.specification,
        reported=reported,
        user=user,
        instrument_id=instrument_id,
    )


def test_a_definition_code_is_unique_whatever_its_case(db_session, viability):
    assert viability.code == "VIAB"
    with pytest.raises(AlreadyExists) as refused:
        service.create_definition(
            db_session,
            code="Viab",
            name="Viability again",
            method="x",
            result_kind=ResultKind.QUANTITATIVE,
            unit="%",
            specification="≥ 80 %",
        )
    assert refused.value.field == "code"


def test_a_quantitative_specification_must_be_a_limit(db_session):
    with pytest.raises(UnitError):
        service.create_definition(
            db_session,
            code="ENDO",
            name="Endotoxin",
            method="LAL",
            result_kind=ResultKind.QUANTITATIVE,
            unit="EU/mL",
            specification="low",
        )


def test_a_quantitative_specification_must_be_in_units_compatible_with_the_result(db_session):
    with pytest.raises(IncompatibleUnits) as refused:
        service.create_definition(
            db_session,
            code="VCC",
            name="Viable cell count",
            method="NC-200",
            result_kind=ResultKind.QUANTITATIVE,
            unit="cells/mL",
            specification="≥ 5 mL",
        )
    assert refused.value.field == "specification"
    converted = service.create_definition(
        db_session,
        code="VOL",
        name="Fill volume",
        method="Gravimetric",
        result_kind=ResultKind.QUANTITATIVE,
        unit="mL",
        specification="0.05–0.1 L",
    )
    assert converted.unit == "mL"


def test_a_specification_is_required(db_session):
    with pytest.raises(DetailMissing) as refused:
        service.create_definition(
            db_session, code="X", name="X", method="X", result_kind=ResultKind.QUALITATIVE, unit="", specification="  "
        )
    assert refused.value.field == "specification"


def test_a_qualitative_result_conforms_only_to_its_one_answer(db_session, sterility, analyst):
    assert sterility.unit == ""
    assert record(db_session, sterility, "no GROWTH", analyst).conforms
    growth = record(db_session, sterility, "Growth of S. aureus", analyst)
    assert not growth.conforms and growth.observation == "Growth of S. aureus" and growth.measured is None


def test_a_quantitative_result_is_judged_in_the_unit_of_its_test(db_session, viability, analyst):
    bare = record(db_session, viability, "82", analyst)
    assert bare.conforms and bare.measured.unit == "%"
    assert not record(db_session, viability, "65 %", analyst).conforms
    with pytest.raises(ResultUnreadable) as refused:
        record(db_session, viability, "82 mL", analyst)
    assert refused.value.field == "result"
    with pytest.raises(DetailMissing):
        record(db_session, viability, " ", analyst)


def test_a_result_is_judged_against_the_specification_it_was_given(db_session, viability, analyst):
    assert not record(db_session, viability, "75", analyst, specification="≥ 80 %").conforms


def test_a_correction_needs_a_reason_and_keeps_the_original(db_session, viability, analyst, create_user):
    original = record(db_session, viability, "65", analyst)
    with pytest.raises(ReasonRequired) as refused:
        service.correct_result(db_session, original, reported="85", reason=" ", user=analyst)
    assert refused.value.field == "reason" and not original.replaced
    corrector = trained(db_session, create_user(RoleName.TECHNICIAN))
    correction = service.correct_result(
        db_session, original, reported="85", reason="Transcription error", user=corrector
    )
    assert original.replaced and not original.conforms
    assert correction.replaces_id == original.id and correction.conforms
    assert correction.correction_reason == "Transcription error" and correction.recorded_by_id == corrector.id
    created = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "test_result", AuditEvent.entity_id == str(correction.id))
    ).one()
    assert created.reason == "Transcription error", "the correction is created with the reason that explains it"
    assert service.current_results(db_session, "batch", [7]) == [correction]
    assert service.all_results(db_session, "batch", 7) == [original, correction]
    with pytest.raises(ResultReplaced):
        service.correct_result(db_session, original, reported="90", reason="Again", user=analyst)


def test_a_result_is_verified_by_someone_other_than_who_recorded_it(db_session, viability, analyst, create_user):
    result = record(db_session, viability, "82", analyst)
    with pytest.raises(SamePersonRefused):
        signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=analyst, password=PASSWORD)
    assert not service.is_verified(db_session, result)
    reviewer = trained(db_session, create_user(RoleName.QA))
    signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=reviewer, password=PASSWORD)
    assert service.is_verified(db_session, result)
    with pytest.raises(AlreadySigned):
        signatures.sign(
            db_session,
            result,
            meaning=SignatureMeaning.VERIFIED,
            user=trained(db_session, create_user(RoleName.MANAGER)),
            password=PASSWORD,
        )


def test_a_replaced_result_cannot_be_verified(db_session, viability, analyst, create_user):
    original = record(db_session, viability, "65", analyst)
    service.correct_result(db_session, original, reported="85", reason="Transcription error", user=analyst)
    with pytest.raises(ResultReplaced):
        signatures.sign(
            db_session, original, meaning=SignatureMeaning.VERIFIED, user=create_user(RoleName.QA), password=PASSWORD
        )


def test_a_fraction_of_a_whole_is_refused_outside_0_to_100_percent(db_session, analyst):
    cd3 = service.create_definition(
        db_session,
        code="CD3",
        name="CD3+ T cells",
        method="Flow cytometry",
        result_kind=ResultKind.QUANTITATIVE,
        unit="%",
        specification="≥ 80 %",
        value_kind=ValueKind.FRACTION,
    )
    trained(db_session, analyst)
    with pytest.raises(PhysicallyImpossible, match=r"CD3\+ T cells: 100\.1 % is not possible") as refused:
        record(db_session, cd3, "100.1", analyst)
    assert refused.value.field == "result"
    with pytest.raises(PhysicallyImpossible):
        record(db_session, cd3, "-1 %", analyst)
    assert record(db_session, cd3, "100 %", analyst).conforms
    original = record(db_session, cd3, "0", analyst)
    with pytest.raises(PhysicallyImpossible):
        service.correct_result(db_session, original, reported="150", reason="Transcribed", user=analyst)
    assert not original.replaced


def test_a_count_cannot_be_negative_and_the_unit_suggests_so(db_session, analyst):
    count = service.create_definition(
        db_session,
        code="TVC",
        name="Total viable cells",
        method="AO/DAPI",
        result_kind=ResultKind.QUANTITATIVE,
        unit="cells",
        specification="≥ 2e8 cells",
    )
    assert count.value_kind == ValueKind.NON_NEGATIVE
    trained(db_session, analyst)
    with pytest.raises(PhysicallyImpossible, match="a cell count cannot be negative"):
        record(db_session, count, "-3e8", analyst)
    assert not record(db_session, count, "0", analyst).conforms


def test_a_fraction_test_reports_a_percentage_and_a_qualitative_test_has_no_kind(db_session, sterility):
    assert sterility.value_kind is None
    with pytest.raises(PhysicallyImpossible) as refused:
        service.create_definition(
            db_session,
            code="VOL",
            name="Volume",
            method="Gravimetric",
            result_kind=ResultKind.QUANTITATIVE,
            unit="mL",
            specification="≤ 10 mL",
            value_kind=ValueKind.FRACTION,
        )
    assert refused.value.field == "value_kind"


def test_only_an_analyst_trained_on_the_method_records_corrects_or_verifies(db_session, viability, create_user):
    untrained = create_user(RoleName.TECHNICIAN, full_name="Noah Berg")
    with pytest.raises(NotTrained, match="Noah Berg has no training on Test method VIAB in force on"):
        record(db_session, viability, "82", untrained)
    assert service.all_results(db_session, "batch", 7) == []
    analyst = trained(db_session, create_user(RoleName.TECHNICIAN))
    result = record(db_session, viability, "82", analyst)
    with pytest.raises(NotTrained):
        service.correct_result(db_session, result, reported="83", reason="Typo", user=untrained)
    assert not result.replaced
    with pytest.raises(NotTrained):
        signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=untrained, password=PASSWORD)
    assert not service.is_verified(db_session, result)


def test_training_on_another_method_or_expired_training_does_not_count(db_session, viability, sterility, create_user):
    analyst = create_user(RoleName.TECHNICIAN)
    today = clock.today()
    training.record_training(
        db_session,
        user=analyst,
        subject=sterility.training_subject,
        trained_on=today,
        expires_on=None,
        recorded_by=analyst,
    )
    with pytest.raises(NotTrained):
        record(db_session, viability, "82", analyst)
    training.record_training(
        db_session,
        user=analyst,
        subject=viability.training_subject,
        trained_on=today - timedelta(days=365),
        expires_on=today - timedelta(days=1),
        recorded_by=analyst,
    )
    with pytest.raises(NotTrained):
        record(db_session, viability, "82", analyst)
    training.record_training(
        db_session,
        user=analyst,
        subject=viability.training_subject,
        trained_on=today - timedelta(days=365),
        expires_on=today,
        recorded_by=analyst,
    )
    assert record(db_session, viability, "82", analyst).conforms, "training in force until the end of its last day"


def test_the_training_form_offers_each_test_method(db_session, viability, sterility):
    assert {"Test method VIAB", "Test method STER"} <= set(training.required_subjects(db_session))


def instrument(db_session, tag, kind=EquipmentType.FLOW_CYTOMETER, *, due_in_days=100, out_of_tolerance=False):
    """An item whose calibration is due in ``due_in_days`` (arranged directly: calibrating is not tested here)."""
    item = inventory.create_equipment(
        db_session,
        asset_tag=tag,
        name=kind.value.capitalize(),
        equipment_type=kind,
        location="QC lab",
        manufacturer="Acme",
        model="X",
        serial_number=tag,
        calibration_interval_days=365,
        owner=None,
    )
    with audit_context.reason_for_change(db_session, "Arranged for the test"):
        item.calibration_due_on = clock.today() + timedelta(days=due_in_days)
        item.out_of_tolerance = out_of_tolerance
    db_session.flush()
    return item


@pytest.fixture
def flow_viability(db_session):
    return service.create_definition(
        db_session,
        code="FVIAB",
        name="Viability",
        method="7-AAD flow cytometry",
        result_kind=ResultKind.QUANTITATIVE,
        unit="%",
        specification="≥ 70 %",
        value_kind=ValueKind.FRACTION,
        instrument_type=EquipmentType.FLOW_CYTOMETER,
    )


def uses_of_results(db_session):
    return list(db_session.scalars(select(EquipmentUse).where(EquipmentUse.record_type == "test_result")))


def test_a_result_names_an_instrument_of_its_tests_kind(db_session, flow_viability, analyst):
    trained(db_session, analyst)
    counter = instrument(db_session, "CNT-01", EquipmentType.CELL_COUNTER)
    with pytest.raises(DetailMissing, match="Choose the flow cytometer Viability was measured on") as missing:
        record(db_session, flow_viability, "91", analyst)
    assert missing.value.field == "instrument_id"
    with pytest.raises(WrongInstrument, match="CNT-01 is a cell counter; Viability is measured on a flow cytometer"):
        record(db_session, flow_viability, "91", analyst, instrument_id=counter.id)
    with pytest.raises(UnknownInstrument) as unknown:
        record(db_session, flow_viability, "91", analyst, instrument_id=counter.id + 1000)
    assert unknown.value.field == "instrument_id"
    assert service.all_results(db_session, "batch", 7) == [] and uses_of_results(db_session) == []


def test_an_overdue_or_out_of_tolerance_instrument_is_refused_with_the_equipment_rule(
    db_session, flow_viability, analyst
):
    trained(db_session, analyst)
    overdue = instrument(db_session, "FCM-OLD", due_in_days=-1)
    with pytest.raises(CalibrationOverdue) as refused:
        record(db_session, flow_viability, "91", analyst, instrument_id=overdue.id)
    assert refused.value.message == (
        f"FCM-OLD (Flow cytometer) cannot be used: its calibration was due on {overdue.calibration_due_on}."
    )
    assert refused.value.field == "instrument_id"
    failed = instrument(db_session, "FCM-OOT", out_of_tolerance=True)
    with pytest.raises(EquipmentOutOfTolerance, match="FCM-OOT \\(Flow cytometer\\) cannot be used"):
        record(db_session, flow_viability, "91", analyst, instrument_id=failed.id)
    assert service.all_results(db_session, "batch", 7) == [] and uses_of_results(db_session) == []


def test_an_instrument_due_today_is_used_and_its_use_recorded(db_session, flow_viability, analyst):
    trained(db_session, analyst)
    due_today = instrument(db_session, "FCM-01", due_in_days=0)
    result = record(db_session, flow_viability, "91", analyst, instrument_id=due_today.id)
    assert result.instrument is due_today
    [use] = uses_of_results(db_session)
    assert (use.equipment_id, use.record_id, use.user_id) == (due_today.id, str(result.id), analyst.id)
    assert use.purpose == "FVIAB Viability"
    assert result.signed_content()["instrument"] == "FCM-01"
    correction = service.correct_result(db_session, result, reported="92", reason="Transcribed", user=analyst)
    assert correction.instrument is due_today, "a correction fixes the writing, not the measurement"
    assert len(uses_of_results(db_session)) == 1


def test_a_test_without_an_instrument_type_may_name_any_usable_instrument(db_session, viability, analyst):
    assert "instrument" not in record(db_session, viability, "91", analyst).signed_content()
    counter = instrument(db_session, "CNT-02", EquipmentType.CELL_COUNTER)
    assert record(db_session, viability, "91", analyst, instrument_id=counter.id).instrument is counter
