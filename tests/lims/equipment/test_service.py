"""Equipment rules: derived status at its boundaries, use-blocking, calibration, impact, immutability."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit import service as audit
from lims.audit.service import ReasonRequired
from lims.equipment import service
from lims.equipment.models import EquipmentStatus, ImpactAssessment, MaintenanceKind
from lims.errors import Conflict, InvalidInput
from lims.identity.models import LoginAttempt, RoleName
from lims.identity.service import sign_in, users
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD
from tests.lims.equipment.conftest import DUE_SOON_DAYS

TODAY = date(2030, 6, 15)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=timezone.utc)


def status(db_session, equipment) -> EquipmentStatus:
    return service.status_of(db_session, equipment, due_soon_days=DUE_SOON_DAYS)


def test_new_equipment_is_overdue_until_calibrated(db_session, create_equipment):
    assert status(db_session, create_equipment()) == EquipmentStatus.OVERDUE


def test_passing_calibration_sets_next_due_date_and_puts_equipment_in_service(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment(interval=180)
    record = calibrate(equipment, "37.3 °C")
    assert record.passed and record.as_found_passed
    assert record.next_due_on == TODAY + timedelta(days=180) == equipment.calibration_due_on
    assert status(db_session, equipment) == EquipmentStatus.IN_SERVICE


@pytest.mark.parametrize(
    ("days_until_due", "expected"),
    [
        (-1, EquipmentStatus.OVERDUE),
        (0, EquipmentStatus.DUE_SOON),
        (1, EquipmentStatus.DUE_SOON),
        (DUE_SOON_DAYS, EquipmentStatus.DUE_SOON),
        (DUE_SOON_DAYS + 1, EquipmentStatus.IN_SERVICE),
    ],
    ids=["due yesterday", "due today", "due tomorrow", "last day of the window", "just outside the window"],
)
def test_status_at_the_boundaries_of_the_due_date(db_session, create_equipment, calibrate, days_until_due, expected):
    clock.freeze(at(TODAY))
    equipment = create_equipment(interval=100)
    calibrate(equipment, "37 °C", performed_on=TODAY - timedelta(days=100 - days_until_due))
    assert equipment.calibration_due_on == TODAY + timedelta(days=days_until_due)
    assert status(db_session, equipment) == expected


def test_readings_pass_or_fail_through_units(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment(points=(("37 °C setpoint", "37 °C", "0.5 °C"), ("100 µL", "100 µL", "1 µL")))
    record = calibrate(equipment, "99.5 °F", "0.1009 mL")
    assert [reading.as_found_passed for reading in record.readings] == [True, True]
    failing = calibrate(equipment, "99.6 °F", "101 µL")
    assert [reading.as_found_passed for reading in failing.readings] == [False, True]
    assert not failing.passed and failing.next_due_on is None


def test_tolerance_in_another_unit_is_converted_as_a_difference(db_session, create_equipment):
    equipment = create_equipment(points=(("setpoint", "37 °C", "0.9 °F"),))
    assert equipment.points[0].tolerance_value == 0.5


def test_a_failing_calibration_marks_out_of_tolerance_until_a_pass(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    calibrate(equipment, "38 °C")
    assert status(db_session, equipment) == EquipmentStatus.OUT_OF_TOLERANCE
    calibrate(equipment, ("38 °C", "37.1 °C"))
    assert status(db_session, equipment) == EquipmentStatus.IN_SERVICE


@pytest.mark.parametrize("blocked", ["overdue", "out of tolerance", "under maintenance", "retired"])
def test_blocked_equipment_cannot_be_used(db_session, create_equipment, calibrate, create_user, blocked):
    clock.freeze(at(TODAY))
    technician = create_user()
    equipment = create_equipment()
    if blocked != "overdue":
        calibrate(equipment, "37 °C")
    if blocked == "out of tolerance":
        calibrate(equipment, "39 °C")
    elif blocked == "under maintenance":
        service.start_maintenance(db_session, equipment, kind=MaintenanceKind.UNPLANNED,
                                  description="Door seal torn", user=technician)
    elif blocked == "retired":
        service.retire_equipment(db_session, equipment, reason="Replaced")
    with pytest.raises(service.EquipmentUnusable, match=f"{equipment.asset_tag}.*cannot be used"):
        service.record_use(db_session, equipment, user=technician, record_type="batch_step", record_id=7,
                           purpose="Expansion", due_soon_days=DUE_SOON_DAYS)


def test_usable_equipment_records_who_used_it_when_for_what(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    technician = create_user()
    equipment = create_equipment()
    calibrate(equipment, "37 °C")
    use = service.record_use(db_session, equipment, user=technician, record_type="batch_step", record_id=42,
                             purpose="Expansion day 5", due_soon_days=DUE_SOON_DAYS)
    assert (use.user_id, use.used_at, use.record_type, use.record_id) == (technician.id, at(TODAY), "batch_step", "42")


def test_closing_maintenance_returns_equipment_to_service(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    technician = create_user()
    equipment = create_equipment()
    calibrate(equipment, "37 °C")
    record = service.start_maintenance(db_session, equipment, kind=MaintenanceKind.PLANNED,
                                       description="HEPA filter change", user=technician)
    assert status(db_session, equipment) == EquipmentStatus.UNDER_MAINTENANCE
    with pytest.raises(Conflict, match="already has open maintenance"):
        service.start_maintenance(db_session, equipment, kind=MaintenanceKind.PLANNED, description="x", user=technician)
    service.close_maintenance(db_session, record, outcome="Filter replaced, airflow verified", user=technician)
    assert status(db_session, equipment) == EquipmentStatus.IN_SERVICE


def test_out_of_tolerance_lists_uses_since_the_last_passing_calibration(db_session, create_equipment, calibrate,
                                                                         create_user):
    technician = create_user()
    equipment = create_equipment()
    clock.freeze(at(TODAY - timedelta(days=60)))
    calibrate(equipment, "37 °C")
    clock.freeze(at(TODAY - timedelta(days=59)))
    before_pass_window = service.record_use(db_session, equipment, user=technician, record_type="batch_step",
                                            record_id=1, purpose="Old batch", due_soon_days=DUE_SOON_DAYS)
    clock.freeze(at(TODAY - timedelta(days=30)))
    calibrate(equipment, "37.2 °C")
    uses = []
    for day in (20, 10, 1):
        clock.freeze(at(TODAY - timedelta(days=day)))
        uses.append(service.record_use(db_session, equipment, user=technician, record_type="batch_step",
                                       record_id=day, purpose=f"Batch {day}", due_soon_days=DUE_SOON_DAYS))
    clock.freeze(at(TODAY))
    failing = calibrate(equipment, ("38.2 °C", "37.0 °C"))
    assert not failing.as_found_passed and failing.passed, "adjusted back into tolerance, but found out of it"
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    affected = service.affected_uses(db_session, assessment)
    assert affected == uses and before_pass_window not in affected


def test_qa_closes_the_impact_assessment_with_a_signature(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    qa = create_user(RoleName.QA)
    equipment = create_equipment()
    calibrate(equipment, "39 °C")
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    with pytest.raises(sign_in.LoginFailed):
        service.close_impact_assessment(db_session, assessment, conclusion="No impact", user=qa, password="wrong-pw-1234")
    assert assessment.conclusion is None and assessment.closed_at is None
    service.close_impact_assessment(db_session, assessment, conclusion="Batches 12 and 13 reviewed: no impact.",
                                    user=qa, password=PASSWORD)
    [(signature, state)] = signatures.signatures_of(db_session, assessment)
    assert signature.meaning == SignatureMeaning.REVIEWED and state == signatures.SignatureStatus.VALID
    with pytest.raises(signatures.RecordSigned):
        with audit.reason_for_change(db_session, "Changed my mind"):
            assessment.conclusion = "Batches 12 and 13 affected."


def test_only_qa_closes_an_impact_assessment_and_is_refused_before_the_password(db_session, create_equipment,
                                                                                calibrate, create_user):
    clock.freeze(at(TODAY))
    technician = create_user(RoleName.TECHNICIAN)
    equipment = create_equipment()
    calibrate(equipment, "39 °C")
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    with pytest.raises(signatures.SignatureRefused, match="may not sign"):
        service.close_impact_assessment(db_session, assessment, conclusion="No impact", user=technician,
                                        password="wrong-pw-1234")
    assert assessment.closed_at is None
    assert not db_session.scalars(select(LoginAttempt).where(LoginAttempt.user_id == technician.id)).all(), \
        "a refused signer's password is never checked, so it counts nothing toward lockout"


def test_a_signed_calibration_is_immutable_and_corrected_by_a_new_record(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    record = calibrate(equipment, "37.1 °C")
    signatures.sign(db_session, record, meaning=SignatureMeaning.PERFORMED, user=calibrate.technician, password=PASSWORD)
    with pytest.raises(signatures.RecordSigned, match="record a correction"):
        with audit.reason_for_change(db_session, "Typo in notes"):
            record.notes = "edited after signing"
    db_session.expire(record, ["notes"])  # drop the refused edit from memory
    with pytest.raises(ReasonRequired):
        calibrate(equipment, "37.2 °C", corrects=record, correction_reason=" ")
    correction = calibrate(equipment, "37.2 °C", corrects=record, correction_reason="As-found was 37.2, not 37.1")
    assert correction.corrects_id == record.id
    with pytest.raises(InvalidInput, match="on the equipment of the calibration it corrects"):
        calibrate(create_equipment(), "37 °C", corrects=record, correction_reason="Wrong item")


def test_review_needs_the_performer_first_and_a_different_person(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    record = calibrate(equipment, "37 °C")
    qa = create_user(RoleName.QA)
    with pytest.raises(signatures.SignatureRefused, match="performer signs"):
        signatures.sign(db_session, record, meaning=SignatureMeaning.REVIEWED, user=qa, password=PASSWORD)
    other = create_user(RoleName.TECHNICIAN)
    with pytest.raises(signatures.SignatureRefused, match="Only the person who recorded"):
        signatures.sign(db_session, record, meaning=SignatureMeaning.PERFORMED, user=other, password=PASSWORD)
    technician = calibrate.technician
    users.update_user(db_session, technician, full_name=technician.full_name, email=technician.email,
                      roles={RoleName.TECHNICIAN, RoleName.QA}, actor=qa, reason="Dual role for the test")
    signatures.sign(db_session, record, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    with pytest.raises(signatures.SamePersonRefused):
        signatures.sign(db_session, record, meaning=SignatureMeaning.REVIEWED, user=technician, password=PASSWORD)
    signatures.sign(db_session, record, meaning=SignatureMeaning.REVIEWED, user=qa, password=PASSWORD)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"performed_on": TODAY + timedelta(days=1)}, "future date"),
        ({"reference_standard": None}, "reference standard used"),
        ({"vendor_name": "CalibrateCo"}, "vendor's certificate number"),
    ],
)
def test_calibration_input_is_checked(db_session, create_equipment, calibrate, kwargs, message):
    clock.freeze(at(TODAY))
    with pytest.raises(InvalidInput, match=message):
        calibrate(create_equipment(), "37 °C", **kwargs)


def test_an_expired_reference_standard_is_refused(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    expired = service.create_reference_standard(db_session, identifier="REF-OLD", description="Old thermometer",
                                                certificate_number="X-1", valid_until=TODAY - timedelta(days=1))
    with pytest.raises(InvalidInput, match="REF-OLD was valid until"):
        calibrate(create_equipment(), "37 °C", reference_standard=expired)


def test_every_point_needs_a_reading_in_a_compatible_unit(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment(points=(("a", "37 °C", "0.5 °C"), ("b", "100 µL", "1 µL")))
    with pytest.raises(InvalidInput, match="missing: b"):
        calibrate(equipment, "37 °C")
    with pytest.raises(InvalidInput, match="b: Cannot compare"):
        calibrate(equipment, "37 °C", "5 g")


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"MZ\x90\x00 not a pdf", "PDF, PNG or JPEG"), (b"%PDF-" + b"0" * (10 * 1024 * 1024), "larger than 10 MB")],
)
def test_malformed_certificate_uploads_are_refused(db_session, create_equipment, calibrate, data, message):
    clock.freeze(at(TODAY))
    with pytest.raises(InvalidInput, match=message):
        calibrate(create_equipment(), "37 °C", certificate=service.Certificate("cert.pdf", data))


def test_certificate_is_stored_with_its_sha256(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    record = calibrate(create_equipment(), "37 °C", vendor_name="CalibrateCo", vendor_certificate_number="C-77",
                       certificate=service.Certificate("cert.pdf", b"%PDF-1.7 certificate"))
    assert record.certificate_media_type == "application/pdf"
    assert record.certificate_sha256 == hashlib.sha256(b"%PDF-1.7 certificate").hexdigest()


def test_drift_is_the_as_found_error_per_point_over_time(db_session, create_equipment, calibrate):
    equipment = create_equipment()
    for days_ago, reading in ((200, "37.1 °C"), (100, "99.14 °F"), (1, "36.8 °C")):
        clock.freeze(at(TODAY - timedelta(days=days_ago)))
        calibrate(equipment, reading)
    [series] = service.drift(db_session, equipment)
    assert [str(value.error) for value in series.values] == ["0.1", "0.3", "-0.2"]
    assert series.tolerance == 0.5
