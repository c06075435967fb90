"""Calibration: the points checked, reference standards, recorded calibrations and their signatures, drift.

Pass or fail is decided per point through the units; an as-found failure opens an impact assessment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, String, func, select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.db import STORABLE_IDS, get_record
from lims.equipment.errors import (
    CertificateRefused,
    CorrectsOtherEquipment,
    EquipmentRetired,
    NoCalibrationPoints,
    ReadingsMismatch,
    ReferenceStandardExpired,
    ReferenceStandardMismatch,
    UnknownReferenceStandard,
)
from lims.equipment.models import (
    CalibrationPerformer,
    CalibrationPoint,
    CalibrationReading,
    CalibrationRecord,
    Equipment,
    ImpactAssessment,
    ReferenceStandard,
)
from lims.errors import (
    AlreadyExists,
    DateInFuture,
    DetailMissing,
    OutOfRange,
    RecordNotFound,
)
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.limits import difference_in_unit_of, error_of, limit_with_tolerance
from lims.units.measurement import Measurement
from lims.units.parsing import unit_text
from lims.units.registry import describe_dimension, parse_unit, same_quantity

MAX_CERTIFICATE_BYTES = 10 * 1024 * 1024
#: calibrations listed for QA's review a page at a time
REVIEW_PAGE = 50
#: media type by the bytes a file starts with; the name a user gives it proves nothing
_CERTIFICATE_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
_EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def add_calibration_point(
    session: Session, equipment: Equipment, *, name: str, nominal: Measurement, tolerance: Measurement
) -> CalibrationPoint:
    """Add a point checked at every calibration: ``nominal`` ± ``tolerance``."""
    try:
        tolerance_value = difference_in_unit_of(tolerance, nominal)
    except IncompatibleUnits as error:
        raise IncompatibleUnits(error.message, field="tolerance") from error
    if tolerance_value <= 0:
        raise OutOfRange("The tolerance must be greater than zero.", field="tolerance")
    point = CalibrationPoint(
        equipment=equipment, name=name, nominal=nominal, tolerance_value=tolerance_value, active=True
    )
    session.add(point)
    session.flush()
    return point


def list_reference_standards(session: Session) -> list[ReferenceStandard]:
    return list(session.scalars(select(ReferenceStandard).order_by(ReferenceStandard.identifier)))


def create_reference_standard(
    session: Session, *, identifier: str, description: str, certificate_number: str, valid_until: date, measures: str
) -> ReferenceStandard:
    """Register a traceable standard and the quantities it measures, as units separated by commas ("rpm, °C")."""
    if session.scalar(select(ReferenceStandard.id).where(ReferenceStandard.identifier == identifier)) is not None:
        raise AlreadyExists(f"The reference standard {identifier} is already registered.", field="identifier")
    standard = ReferenceStandard(
        identifier=identifier,
        description=description,
        certificate_number=certificate_number,
        valid_until=valid_until,
        measures=_measured_units(measures),
    )
    session.add(standard)
    session.flush()
    return standard


def _measured_units(measures: str) -> str:
    """The units a standard measures in, as typed ("degC, rpm"), in the LIMS's text ("°C, rpm")."""
    typed = [unit.strip() for unit in measures.split(",") if unit.strip()]
    if not typed:
        raise DetailMissing("Say what the standard measures, as units: e.g. °C, or rpm, °C.", field="measures")
    try:
        return ", ".join(dict.fromkeys(unit_text(unit) for unit in typed))
    except UnitError as error:
        raise UnitError(error.message, field="measures") from error


def _require_standard_measures_points(standard: ReferenceStandard, points: list[CalibrationPoint]) -> None:
    """Refuse a standard that does not measure the quantity of every point checked (a thermometer for µL)."""
    for point in points:
        if not any(same_quantity(point.nominal.unit, unit) for unit in standard.measured_units):
            measured = " and ".join(describe_dimension(parse_unit(unit)) for unit in standard.measured_units)
            raise ReferenceStandardMismatch(
                f"{standard.identifier} measures {measured or 'nothing stated'}; it cannot be the standard for "
                f"{point.name} ({point.nominal}, {describe_dimension(parse_unit(point.nominal.unit))}).",
                field="reference_standard_id",
            )


@dataclass(frozen=True)
class ReadingInput:
    point_id: int
    as_found: Measurement
    as_left: Measurement | None = None


@dataclass(frozen=True)
class Certificate:
    filename: str
    data: bytes


def check_certificate(certificate: Certificate) -> str:
    """Return the certificate's media type, refusing anything but a PDF, PNG or JPEG of at most 10 MB."""
    if not certificate.data:
        raise CertificateRefused("The certificate file is empty.", field="certificate")
    if len(certificate.data) > MAX_CERTIFICATE_BYTES:
        raise CertificateRefused(
            f"The certificate is larger than {MAX_CERTIFICATE_BYTES // (1024 * 1024)} MB.", field="certificate"
        )
    for magic, media_type in _CERTIFICATE_SIGNATURES.items():
        if certificate.data.startswith(magic):
            return media_type
    raise CertificateRefused("The certificate must be a PDF, PNG or JPEG file.", field="certificate")


def record_calibration(
    session: Session,
    equipment: Equipment,
    *,
    performed_on: date,
    recorded_by: User,
    readings: list[ReadingInput],
    performed_by: CalibrationPerformer = CalibrationPerformer.IN_HOUSE,
    reference_standard_id: int | None = None,
    vendor_name: str | None = None,
    vendor_certificate_number: str | None = None,
    certificate: Certificate | None = None,
    notes: str | None = None,
    corrects: CalibrationRecord | None = None,
    correction_reason: str | None = None,
) -> CalibrationRecord:
    """Record a calibration: pass or fail per point through the units, the next due date, and the impact.

    Performed in house, it needs the reference standard used (the vendor's fields are ignored); by a vendor, the
    vendor's name and certificate number, a reference standard optional. A standard named must be registered
    and valid on the day of the calibration.
    """
    today = clock.today()
    if performed_on > today:
        raise DateInFuture("A calibration cannot be recorded for a future date.", field="performed_on")
    if equipment.retired_at is not None:
        raise EquipmentRetired(f"{equipment.asset_tag} is retired.")
    if performed_by == CalibrationPerformer.VENDOR:
        if not vendor_name:
            raise DetailMissing("Name the vendor who calibrated it.", field="vendor_name")
        if not vendor_certificate_number:
            raise DetailMissing("Give the vendor's certificate number.", field="vendor_certificate_number")
    else:
        vendor_name = vendor_certificate_number = None
        if reference_standard_id is None:
            raise DetailMissing("Choose the reference standard used.", field="reference_standard_id")
    reference_standard = (
        _reference_standard_valid_on(session, reference_standard_id, performed_on)
        if reference_standard_id is not None
        else None
    )
    if corrects is not None and corrects.equipment_id != equipment.id:
        raise CorrectsOtherEquipment("A correction must be recorded on the equipment of the calibration it corrects.")
    if corrects is not None and not (correction_reason or "").strip():
        raise ReasonRequired("Give the reason for correcting the earlier calibration.")
    media_type = check_certificate(certificate) if certificate is not None else None
    points = {point.id: point for point in equipment.points if point.active}
    if not points:
        raise NoCalibrationPoints(f"{equipment.asset_tag} has no calibration points; add them first.")
    if reference_standard is not None:
        _require_standard_measures_points(reference_standard, list(points.values()))
    by_point = {reading.point_id: reading for reading in readings}
    missing = [point.name for point_id, point in points.items() if point_id not in by_point]
    if missing:
        raise ReadingsMismatch(f"Enter the as-found reading of every point; missing: {', '.join(missing)}.")
    if set(by_point) - set(points):
        raise ReadingsMismatch("A reading names a point this equipment does not have.")

    previous_pass = _last_passing_calibration(session, equipment)
    record = CalibrationRecord(
        equipment=equipment,
        performed_on=performed_on,
        recorded_at=clock.now(),
        recorded_by=recorded_by,
        vendor_name=vendor_name or None,
        vendor_certificate_number=vendor_certificate_number or None,
        reference_standard=reference_standard,
        notes=notes or None,
        as_found_passed=True,
        passed=True,
        certificate_filename=certificate.filename if certificate else None,
        certificate_media_type=media_type,
        certificate_sha256=hashlib.sha256(certificate.data).hexdigest() if certificate else None,
        certificate=certificate.data if certificate else None,
        corrects_id=corrects.id if corrects else None,
        correction_reason=(correction_reason or "").strip() or None,
    )
    for point_id, point in points.items():
        given = by_point[point_id]
        limit = limit_with_tolerance(point.nominal, point.tolerance_value)
        try:
            found_ok = limit.conforms(given.as_found)
            left_ok = limit.conforms(given.as_left) if given.as_left is not None else None
        except IncompatibleUnits as error:
            raise IncompatibleUnits(f"{point.name}: {error.message}", field=f"as_found_{point_id}") from error
        record.readings.append(
            CalibrationReading(
                point=point,
                nominal=point.nominal,
                tolerance_value=point.tolerance_value,
                as_found=given.as_found,
                as_left=given.as_left,
                as_found_passed=found_ok,
                as_left_passed=left_ok,
            )
        )
        record.as_found_passed = record.as_found_passed and found_ok
        record.passed = record.passed and (left_ok if left_ok is not None else found_ok)
    record.next_due_on = performed_on + timedelta(days=equipment.calibration_interval_days) if record.passed else None
    session.add(record)
    session.flush()
    with audit_context.reason_for_change(session, f"Calibration {record.id} recorded"):
        equipment.out_of_tolerance = not record.passed
        if record.passed:
            equipment.last_calibrated_on = performed_on
            equipment.calibration_due_on = record.next_due_on
    if not record.as_found_passed:
        since = datetime.combine(previous_pass.performed_on, time.min, tzinfo=UTC) if previous_pass else None
        session.add(
            ImpactAssessment(equipment=equipment, calibration_record=record, uses_since=since, opened_at=clock.now())
        )
        session.flush()
    return record


def _reference_standard_valid_on(session: Session, standard_id: int, performed_on: date) -> ReferenceStandard:
    """The registered reference standard chosen, if its certificate was valid on the day of the calibration."""
    standard = session.get(ReferenceStandard, standard_id) if standard_id in STORABLE_IDS else None
    if standard is None:
        raise UnknownReferenceStandard(
            f"The reference standard chosen (id {standard_id}) is not a registered one; choose one from the list.",
            field="reference_standard_id",
        )
    if standard.valid_until < performed_on:
        raise ReferenceStandardExpired(
            f"The reference standard {standard.identifier} was valid until "
            f"{standard.valid_until.isoformat()}, before this calibration.",
            field="reference_standard_id",
        )
    return standard


def _last_passing_calibration(session: Session, equipment: Equipment) -> CalibrationRecord | None:
    return session.scalar(
        select(CalibrationRecord)
        .where(CalibrationRecord.equipment_id == equipment.id, CalibrationRecord.passed.is_(True))
        .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc())
        .limit(1)
    )


def get_calibration(session: Session, record_id: int) -> CalibrationRecord:
    return get_record(session, CalibrationRecord, record_id, "calibration record")


@dataclass(frozen=True)
class CertificateFile:
    filename: str
    media_type: str
    data: bytes


def export_certificate(session: Session, record: CalibrationRecord) -> CertificateFile:
    """The certificate file kept with a calibration, its download recorded in the audit trail."""
    if record.certificate is None or record.certificate_media_type is None:
        raise RecordNotFound("This calibration has no certificate file.")
    audit_chain.record(session, "export.certificate", entity=record, details={"sha256": record.certificate_sha256})
    extension = _EXTENSIONS[record.certificate_media_type]
    return CertificateFile(
        f"calibration-{record.id}-{record.equipment.asset_tag}-certificate.{extension}",
        record.certificate_media_type,
        record.certificate,
    )


def calibration_history(session: Session, equipment: Equipment) -> list[CalibrationRecord]:
    return list(
        session.scalars(
            select(CalibrationRecord)
            .where(CalibrationRecord.equipment_id == equipment.id)
            .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc())
            .options(selectinload(CalibrationRecord.recorded_by))
        )
    )


def _awaiting_review(columns: Any) -> Select[Any]:
    signed = select(ElectronicSignature.entity_id).where(
        ElectronicSignature.entity_type == CalibrationRecord.__tablename__
    )
    performed = signed.where(ElectronicSignature.meaning == SignatureMeaning.PERFORMED)
    reviewed = signed.where(ElectronicSignature.meaning == SignatureMeaning.REVIEWED)
    record_key = func.cast(CalibrationRecord.id, String)
    return select(columns).select_from(CalibrationRecord).where(record_key.in_(performed), record_key.not_in(reviewed))


def calibrations_awaiting_review(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int = REVIEW_PAGE
) -> KeysetPage[CalibrationRecord]:
    """Calibrations signed as performed and not yet reviewed by QA, oldest first, a page after ``after`` (recorded
    at, id)."""
    query = _awaiting_review(CalibrationRecord).options(
        selectinload(CalibrationRecord.equipment), selectinload(CalibrationRecord.recorded_by)
    )
    return page_after(session, query, (CalibrationRecord.recorded_at, CalibrationRecord.id), after=after, limit=limit)


def count_awaiting_review(session: Session) -> int:
    """How many calibrations ``calibrations_awaiting_review`` lists, in one statement."""
    return session.scalar(_awaiting_review(func.count(CalibrationRecord.id))) or 0


@dataclass(frozen=True)
class DriftPoint:
    performed_on: date
    error: Decimal
    passed: bool


@dataclass(frozen=True)
class DriftSeries:
    point: CalibrationPoint
    tolerance: Decimal
    values: list[DriftPoint]


def drift(session: Session, equipment: Equipment) -> list[DriftSeries]:
    """As-found error per point over time, oldest first, in each point's nominal unit."""
    rows = session.execute(
        select(CalibrationReading, CalibrationRecord.performed_on)
        .join(CalibrationRecord, CalibrationReading.record_id == CalibrationRecord.id)
        .where(CalibrationRecord.equipment_id == equipment.id)
        .order_by(CalibrationRecord.performed_on, CalibrationRecord.id)
    ).all()
    series = []
    for point in equipment.points:
        values = [
            DriftPoint(performed_on, error_of(reading.as_found, reading.nominal), reading.as_found_passed)
            for reading, performed_on in rows
            if reading.point_id == point.id
        ]
        series.append(DriftSeries(point, point.tolerance_value, values))
    return series


def check_calibration_signature(
    session: Session, record: CalibrationRecord, meaning: SignatureMeaning, user: User
) -> None:
    """The calibration's signing rule: its recorder signs it as performed, then QA, someone else, reviews it."""
    if meaning == SignatureMeaning.PERFORMED and user.id != record.recorded_by_id:
        raise SignatureRefused("Only the person who recorded this calibration signs it as performed.")
    if meaning == SignatureMeaning.REVIEWED:
        performers = signatures.signers_with_meaning(session, record, SignatureMeaning.PERFORMED)
        if not performers:
            raise SignatureRefused("The performer signs the calibration before QA reviews it.")
        signatures.require_different_person(user, performers, earlier_role="performed")
