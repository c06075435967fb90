"""Calibration: pass or fail through the units, due dates, signatures, corrections, certificates, drift."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.equipment.errors import (
    CertificateRefused,
    CorrectsOtherEquipment,
    ReadingsMismatch,
    ReferenceStandardExpired,
    ReferenceStandardMismatch,
    UnknownReferenceStandard,
)
from lims.equipment.models import CalibrationPerformer, EquipmentStatus, EquipmentType
from lims.equipment.service import calibrations
from lims.errors import DateInFuture, DetailMissing, RecordNotFound
from lims.identity.models import RoleName
from lims.identity.service import users
from lims.signatures import service as signatures
from lims.signatures.errors import RecordSigned, SamePersonRefused, SignatureRefused
from lims.signatures.models import SignatureMeaning
from lims.units.errors import IncompatibleUnits, UnitError
from tests.helpers import PASSWORD
from tests.lims.equipment.service.support import TODAY, at, status


def test_passing_calibration_sets_next_due_date_and_puts_equipment_in_service(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment(interval=180)
    record = calibrate(equipment, "37.3 °C")
    assert record.passed and record.as_found_passed
    assert record.next_due_on == TODAY + timedelta(days=180) == equipment.calibration_due_on
    assert status(db_session, equipment) == EquipmentStatus.IN_SERVICE


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


def test_a_signed_calibration_is_immutable_and_corrected_by_a_new_record(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    record = calibrate(equipment, "37.1 °C")
    signatures.sign(
        db_session, record, meaning=SignatureMeaning.PERFORMED, user=calibrate.technician, password=PASSWORD
    )
    with pytest.raises(RecordSigned, match="record a correction"):
        with audit_context.reason_for_change(db_session, "Typo in notes"):
            record.notes = "edited after signing"
    db_session.expire(record, ["notes"])  # drop the refused edit from memory
    with pytest.raises(ReasonRequired):
        calibrate(equipment, "37.2 °C", corrects=record, correction_reason=" ")
    correction = calibrate(equipment, "37.2 °C", corrects=record, correction_reason="As-found was 37.2, not 37.1")
    assert correction.corrects_id == record.id
    with pytest.raises(CorrectsOtherEquipment):
        calibrate(create_equipment(), "37 °C", corrects=record, correction_reason="Wrong item")


def test_review_needs_the_performer_first_and_a_different_person(db_session, create_equipment, calibrate, create_user):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    record = calibrate(equipment, "37 °C")
    qa = create_user(RoleName.QA)
    with pytest.raises(SignatureRefused, match="performer signs"):
        signatures.sign(db_session, record, meaning=SignatureMeaning.REVIEWED, user=qa, password=PASSWORD)
    other = create_user(RoleName.TECHNICIAN)
    with pytest.raises(SignatureRefused, match="Only the person who recorded"):
        signatures.sign(db_session, record, meaning=SignatureMeaning.PERFORMED, user=other, password=PASSWORD)
    technician = calibrate.technician
    users.update_user(
        db_session,
        technician,
        full_name=technician.full_name,
        email=technician.email,
        roles={RoleName.TECHNICIAN, RoleName.QA},
        actor=qa,
        reason="Dual role for the test",
    )
    signatures.sign(db_session, record, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    with pytest.raises(SamePersonRefused):
        signatures.sign(db_session, record, meaning=SignatureMeaning.REVIEWED, user=technician, password=PASSWORD)
    signatures.sign(db_session, record, meaning=SignatureMeaning.REVIEWED, user=qa, password=PASSWORD)


@pytest.mark.parametrize(
    ("kwargs", "refusal", "field"),
    [
        ({"performed_on": TODAY + timedelta(days=1)}, DateInFuture, "performed_on"),
        ({"reference_standard_id": None}, DetailMissing, "reference_standard_id"),
        (
            {"performed_by": CalibrationPerformer.VENDOR, "vendor_name": "CalibrateCo"},
            DetailMissing,
            "vendor_certificate_number",
        ),
    ],
)
def test_calibration_input_is_checked(db_session, create_equipment, calibrate, kwargs, refusal, field):
    clock.freeze(at(TODAY))
    with pytest.raises(refusal) as refused:
        calibrate(create_equipment(), "37 °C", **kwargs)
    assert refused.value.field == field


def test_an_expired_reference_standard_is_refused(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    expired = calibrations.create_reference_standard(
        db_session,
        identifier="REF-OLD",
        description="Old thermometer",
        certificate_number="X-1",
        valid_until=TODAY - timedelta(days=1),
        measures="°C",
    )
    with pytest.raises(ReferenceStandardExpired, match="REF-OLD was valid until"):
        calibrate(create_equipment(), "37 °C", reference_standard_id=expired.id)


@pytest.mark.parametrize("performed_by", list(CalibrationPerformer))
def test_a_reference_standard_that_is_not_registered_is_refused_and_nothing_recorded(
    db_session, create_equipment, calibrate, reference_standard, performed_by
):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    for unknown_id in (reference_standard.id + 1000, 2**64):
        with pytest.raises(UnknownReferenceStandard) as refused:
            calibrate(
                equipment,
                "37 °C",
                performed_by=performed_by,
                vendor_name="CalibrateCo",
                vendor_certificate_number="C-77",
                reference_standard_id=unknown_id,
            )
        assert refused.value.field == "reference_standard_id"
        assert refused.value.message.startswith(f"The reference standard chosen (id {unknown_id}) is not a registered")
    db_session.flush()
    assert calibrations.calibration_history(db_session, equipment) == []


def test_in_house_needs_a_reference_standard_and_keeps_no_vendor(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    with pytest.raises(DetailMissing, match="Choose the reference standard used") as refused:
        calibrate(
            equipment, "37 °C", reference_standard_id=None, vendor_name="CalibrateCo", vendor_certificate_number="C-77"
        )
    assert refused.value.field == "reference_standard_id"
    record = calibrate(equipment, "37 °C", vendor_name="Left over in the form", vendor_certificate_number="C-1")
    assert record.reference_standard is not None and record.vendor_name is None
    assert record.vendor_certificate_number is None


def test_a_vendor_calibration_needs_the_vendor_and_may_omit_the_standard(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    with pytest.raises(DetailMissing, match="Name the vendor") as refused:
        calibrate(equipment, "37 °C", performed_by=CalibrationPerformer.VENDOR, reference_standard_id=None)
    assert refused.value.field == "vendor_name"
    record = calibrate(
        equipment,
        "37 °C",
        performed_by=CalibrationPerformer.VENDOR,
        reference_standard_id=None,
        vendor_name="CalibrateCo",
        vendor_certificate_number="C-77",
    )
    assert (record.vendor_name, record.vendor_certificate_number, record.reference_standard) == (
        "CalibrateCo",
        "C-77",
        None,
    )


def test_every_point_needs_a_reading_in_a_compatible_unit(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment(points=(("a", "37 °C", "0.5 °C"), ("b", "100 µL", "1 µL")))
    with pytest.raises(ReadingsMismatch, match="missing: b"):
        calibrate(equipment, "37 °C")
    with pytest.raises(IncompatibleUnits, match="b: Cannot compare"):
        calibrate(equipment, "37 °C", "5 g")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"MZ\x90\x00 not a pdf", "PDF, PNG or JPEG"),
        (b"%PDF-" + b"0" * (10 * 1024 * 1024), "larger than 10 MB"),
    ],
)
def test_malformed_certificate_uploads_are_refused(db_session, create_equipment, calibrate, data, message):
    clock.freeze(at(TODAY))
    with pytest.raises(CertificateRefused, match=message):
        calibrate(create_equipment(), "37 °C", certificate=calibrations.Certificate("cert.pdf", data))


def test_certificate_is_stored_with_its_sha256(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    record = calibrate(
        create_equipment(),
        "37 °C",
        performed_by=CalibrationPerformer.VENDOR,
        vendor_name="CalibrateCo",
        vendor_certificate_number="C-77",
        reference_standard_id=None,
        certificate=calibrations.Certificate("cert.pdf", b"%PDF-1.7 certificate"),
    )
    assert record.certificate_media_type == "application/pdf"
    assert record.certificate_sha256 == hashlib.sha256(b"%PDF-1.7 certificate").hexdigest()


def test_exporting_a_certificate_gives_its_file_and_leaves_one_audit_event(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    equipment = create_equipment()
    without = calibrate(equipment, "37 °C")
    with pytest.raises(RecordNotFound, match="This calibration has no certificate file"):
        calibrations.export_certificate(db_session, without)
    record = calibrate(equipment, "37 °C", certificate=calibrations.Certificate("scan.png", b"\x89PNG\r\n\x1a\n.."))
    exported = calibrations.export_certificate(db_session, record)
    assert exported == calibrations.CertificateFile(
        f"calibration-{record.id}-{equipment.asset_tag}-certificate.png", "image/png", b"\x89PNG\r\n\x1a\n.."
    )
    [event] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export.certificate")).all()
    assert (event.entity_type, event.entity_id) == ("calibration_record", str(record.id))


def test_drift_is_the_as_found_error_per_point_over_time(db_session, create_equipment, calibrate):
    equipment = create_equipment()
    for days_ago, reading in ((200, "37.1 °C"), (100, "99.14 °F"), (1, "36.8 °C")):
        clock.freeze(at(TODAY - timedelta(days=days_ago)))
        calibrate(equipment, reading)
    [series] = calibrations.drift(db_session, equipment)
    assert [str(value.error) for value in series.values] == ["0.1", "0.3", "-0.2"]
    assert series.tolerance == 0.5


def test_a_reference_standard_measures_the_quantity_of_every_point(db_session, create_equipment, calibrate):
    clock.freeze(at(TODAY))
    thermometer = calibrations.create_reference_standard(
        db_session,
        identifier="REF-THERM",
        description="PT100 thermometer",
        certificate_number="X-2",
        valid_until=TODAY,
        measures=" degC ",
    )
    assert thermometer.measures == "°C"
    pipette = create_equipment(points=(("100 µL", "100 µL", "1 µL"),), equipment_type=EquipmentType.PIPETTE)
    with pytest.raises(ReferenceStandardMismatch) as refused:
        calibrate(pipette, "100.2 µL", reference_standard_id=thermometer.id)
    assert refused.value.message == (
        "REF-THERM measures temperature; it cannot be the standard for 100 µL (100 µL, volume)."
    )
    assert refused.value.field == "reference_standard_id"
    assert calibrations.calibration_history(db_session, pipette) == []
    incubator = create_equipment(points=(("37 °C", "37 °C", "0.5 °C"), ("CO2", "5 %", "0.3 %")))
    with pytest.raises(ReferenceStandardMismatch, match="cannot be the standard for CO2"):
        calibrate(incubator, "37 °C", "5 %", reference_standard_id=thermometer.id)
    gravimetric = calibrations.create_reference_standard(
        db_session,
        identifier="REF-GRAV",
        description="Gravimetric station",
        certificate_number="X-3",
        valid_until=TODAY,
        measures="mL, °C",
    )
    record = calibrate(pipette, "100.2 µL", reference_standard_id=gravimetric.id)
    assert record.passed and record.reference_standard is gravimetric, "µL is measured in mL's dimension"


@pytest.mark.parametrize(("measures", "refusal"), [(" , ", DetailMissing), ("°C, zorks", UnitError)])
def test_a_reference_standard_says_what_it_measures_in_known_units(db_session, measures, refusal):
    with pytest.raises(refusal) as refused:
        calibrations.create_reference_standard(
            db_session,
            identifier="REF-X",
            description="X",
            certificate_number="X",
            valid_until=TODAY,
            measures=measures,
        )
    assert refused.value.field == "measures"
