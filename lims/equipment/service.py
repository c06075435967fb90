"""The rules of equipment: derived status, use-blocking, calibration, maintenance, impact assessment."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import ColumnElement, String, case, func, or_, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import service as audit
from lims.db import get_record
from lims.equipment.models import (
    CalibrationPoint,
    CalibrationReading,
    CalibrationRecord,
    Equipment,
    EquipmentStatus,
    EquipmentType,
    EquipmentUse,
    ImpactAssessment,
    MaintenanceKind,
    MaintenanceRecord,
    ReferenceStandard,
)
from lims.errors import Conflict, InvalidInput, LimsError
from lims.identity.models import RoleName, User
from lims.signatures import service as signatures
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.units.errors import IncompatibleUnits
from lims.units.limits import difference_in_unit_of, error_of, limit_with_tolerance
from lims.units.measurement import Measurement

MAX_CERTIFICATE_BYTES = 10 * 1024 * 1024
#: media type by the bytes a file starts with; the name a user gives it proves nothing
_CERTIFICATE_SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
#: statuses in which equipment must not be used
BLOCKING_STATUSES = frozenset({EquipmentStatus.OVERDUE, EquipmentStatus.OUT_OF_TOLERANCE,
                               EquipmentStatus.UNDER_MAINTENANCE, EquipmentStatus.RETIRED})


class EquipmentUnusable(LimsError):
    status_code = 409


# Status, derived in SQL so lists filter by it without loading rows


def status_expression(today: date, due_soon_days: int) -> ColumnElement[str]:
    """The SQL expression of an equipment's status on ``today``: the one definition of status.

    It reads the equipment row alone, so a filtered page costs the same at any registry size.
    """
    return case(
        (Equipment.retired_at.is_not(None), EquipmentStatus.RETIRED.value),
        (Equipment.under_maintenance.is_(True), EquipmentStatus.UNDER_MAINTENANCE.value),
        (Equipment.out_of_tolerance.is_(True), EquipmentStatus.OUT_OF_TOLERANCE.value),
        (or_(Equipment.calibration_due_on.is_(None), Equipment.calibration_due_on < today),
         EquipmentStatus.OVERDUE.value),
        (Equipment.calibration_due_on <= today + timedelta(days=due_soon_days), EquipmentStatus.DUE_SOON.value),
        else_=EquipmentStatus.IN_SERVICE.value,
    )


def status_of(session: Session, equipment: Equipment, *, due_soon_days: int) -> EquipmentStatus:
    value = session.scalar(select(status_expression(clock.now().date(), due_soon_days))
                           .where(Equipment.id == equipment.id))
    return EquipmentStatus(value)


@dataclass(frozen=True)
class EquipmentFilter:
    status: EquipmentStatus | None = None
    equipment_type: EquipmentType | None = None
    location: str = ""
    text: str = ""


@dataclass(frozen=True)
class EquipmentPage:
    rows: list[tuple[Equipment, EquipmentStatus]]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def list_equipment(session: Session, criteria: EquipmentFilter, *, due_soon_days: int, page: int = 1,
                   per_page: int = 25) -> EquipmentPage:
    """A page of equipment with its status, filtered (status included) by the database."""
    status = status_expression(clock.now().date(), due_soon_days)
    query = select(Equipment, status).order_by(Equipment.asset_tag)
    if criteria.status is not None:
        query = query.where(status == criteria.status.value)
    if criteria.equipment_type is not None:
        query = query.where(Equipment.equipment_type == criteria.equipment_type)
    if criteria.location:
        query = query.where(func.lower(Equipment.location).like(f"%{criteria.location.lower()}%"))
    if criteria.text:
        pattern = f"%{criteria.text.lower()}%"
        query = query.where(or_(func.lower(Equipment.asset_tag).like(pattern), func.lower(Equipment.name).like(pattern),
                                func.lower(Equipment.serial_number).like(pattern)))
    # One row more than a page tells whether a next page exists, without counting every match.
    rows = session.execute(query.limit(per_page + 1).offset((max(page, 1) - 1) * per_page)).all()
    return EquipmentPage([(row[0], EquipmentStatus(row[1])) for row in rows[:per_page]], max(page, 1),
                         len(rows) > per_page)


def count_with_status(session: Session, statuses: frozenset[EquipmentStatus], *, due_soon_days: int) -> int:
    status = status_expression(clock.now().date(), due_soon_days)
    return session.scalar(select(func.count(Equipment.id)).where(status.in_([s.value for s in statuses]))) or 0


# Registry


def get_equipment(session: Session, equipment_id: int) -> Equipment:
    return get_record(session, Equipment, equipment_id, "equipment")


def create_equipment(session: Session, *, asset_tag: str, name: str, equipment_type: EquipmentType, location: str,
                     manufacturer: str, model: str, serial_number: str, calibration_interval_days: int,
                     owner: User | None) -> Equipment:
    """Register a piece of equipment; it is overdue until its first calibration."""
    asset_tag = asset_tag.strip().upper()
    if session.scalar(select(Equipment.id).where(Equipment.asset_tag == asset_tag)) is not None:
        raise Conflict(f"The asset tag {asset_tag} is already registered.", field="asset_tag")
    if calibration_interval_days <= 0:
        raise InvalidInput("The calibration interval must be at least one day.", field="calibration_interval_days")
    equipment = Equipment(
        asset_tag=asset_tag, name=name, equipment_type=equipment_type, location=location,
        manufacturer=manufacturer, model=model, serial_number=serial_number,
        calibration_interval_days=calibration_interval_days, owner=owner, created_at=clock.now(),
        out_of_tolerance=False,
    )
    session.add(equipment)
    session.flush()
    return equipment


def update_equipment(session: Session, equipment: Equipment, *, name: str, location: str,
                     calibration_interval_days: int, reason: str) -> Equipment:
    """Change an item's name, location or interval; a new interval moves the due date with it."""
    if calibration_interval_days <= 0:
        raise InvalidInput("The calibration interval must be at least one day.", field="calibration_interval_days")
    with audit.reason_for_change(session, reason):
        equipment.name = name
        equipment.location = location
        equipment.calibration_interval_days = calibration_interval_days
        if equipment.last_calibrated_on is not None and not equipment.out_of_tolerance:
            equipment.calibration_due_on = equipment.last_calibrated_on + timedelta(days=calibration_interval_days)
    return equipment


def retire_equipment(session: Session, equipment: Equipment, *, reason: str) -> Equipment:
    """Take equipment out of use for good (it stays in the registry with its history)."""
    if equipment.retired_at is not None:
        raise Conflict(f"{equipment.asset_tag} is already retired.")
    with audit.reason_for_change(session, reason):
        equipment.retired_at = clock.now()
        equipment.retirement_reason = reason.strip()
    return equipment


def add_calibration_point(session: Session, equipment: Equipment, *, name: str, nominal: Measurement,
                          tolerance: Measurement) -> CalibrationPoint:
    """Add a point checked at every calibration: ``nominal`` ± ``tolerance``."""
    try:
        tolerance_value = difference_in_unit_of(tolerance, nominal)
    except IncompatibleUnits as error:
        raise InvalidInput(error.message, field="tolerance") from error
    if tolerance_value <= 0:
        raise InvalidInput("The tolerance must be greater than zero.", field="tolerance")
    point = CalibrationPoint(equipment=equipment, name=name, nominal=nominal, tolerance_value=tolerance_value,
                             active=True)
    session.add(point)
    session.flush()
    return point


def list_reference_standards(session: Session) -> list[ReferenceStandard]:
    return list(session.scalars(select(ReferenceStandard).order_by(ReferenceStandard.identifier)))


def create_reference_standard(session: Session, *, identifier: str, description: str, certificate_number: str,
                              valid_until: date) -> ReferenceStandard:
    if session.scalar(select(ReferenceStandard.id).where(ReferenceStandard.identifier == identifier)) is not None:
        raise Conflict(f"The reference standard {identifier} is already registered.", field="identifier")
    standard = ReferenceStandard(identifier=identifier, description=description,
                                 certificate_number=certificate_number, valid_until=valid_until)
    session.add(standard)
    session.flush()
    return standard


# Use


def record_use(session: Session, equipment: Equipment, *, user: User, record_type: str, record_id: object,
               purpose: str, due_soon_days: int) -> EquipmentUse:
    """Record that ``user`` used ``equipment`` for a record; refuse equipment that must not be used.

    Every area that records equipment use calls this one rule.
    """
    refusal = _refusal(equipment, status_of(session, equipment, due_soon_days=due_soon_days))
    if refusal is not None:
        raise EquipmentUnusable(refusal)
    use = EquipmentUse(equipment_id=equipment.id, used_at=clock.now(), user_id=user.id, record_type=record_type,
                       record_id=str(record_id), purpose=purpose)
    session.add(use)
    session.flush()
    return use


@dataclass(frozen=True)
class EquipmentChoice:
    equipment: Equipment
    status: EquipmentStatus
    #: why the item cannot be used, or None when it can
    refusal: str | None


def equipment_choices(session: Session, equipment_type: EquipmentType, *, due_soon_days: int) -> list[EquipmentChoice]:
    """Every item of a type with whether the use-blocking rule lets it be used now, and why not (for pickers)."""
    status = status_expression(clock.now().date(), due_soon_days)
    rows = session.execute(select(Equipment, status).where(Equipment.equipment_type == equipment_type)
                           .order_by(Equipment.asset_tag))
    choices = [EquipmentChoice(item, EquipmentStatus(value), _refusal(item, EquipmentStatus(value)))
               for item, value in rows]
    return sorted(choices, key=lambda choice: choice.refusal is not None)


def _refusal(equipment: Equipment, status: EquipmentStatus) -> str | None:
    """Why an item in ``status`` must not be used, or None when it may: the one use-blocking rule."""
    if status not in BLOCKING_STATUSES:
        return None
    label = f"{equipment.asset_tag} ({equipment.name})"
    if status == EquipmentStatus.OVERDUE:
        due = f"was due on {equipment.calibration_due_on.isoformat()}" if equipment.calibration_due_on \
            else "has never been calibrated"
        return f"{label} cannot be used: its calibration {due}."
    if status == EquipmentStatus.OUT_OF_TOLERANCE:
        return f"{label} cannot be used: its last calibration found it out of tolerance."
    if status == EquipmentStatus.UNDER_MAINTENANCE:
        return f"{label} cannot be used: it is under maintenance."
    return f"{label} cannot be used: it is retired."


def uses_since(session: Session, equipment: Equipment, since: datetime | None) -> list[EquipmentUse]:
    query = select(EquipmentUse).where(EquipmentUse.equipment_id == equipment.id).order_by(EquipmentUse.used_at)
    if since is not None:
        query = query.where(EquipmentUse.used_at >= since)
    return list(session.scalars(query))


def recent_uses(session: Session, equipment: Equipment, *, limit: int = 20) -> list[EquipmentUse]:
    return list(session.scalars(select(EquipmentUse).where(EquipmentUse.equipment_id == equipment.id)
                                .order_by(EquipmentUse.used_at.desc()).limit(limit)))


# Calibration


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
        raise InvalidInput("The certificate file is empty.", field="certificate")
    if len(certificate.data) > MAX_CERTIFICATE_BYTES:
        raise InvalidInput(f"The certificate is larger than {MAX_CERTIFICATE_BYTES // (1024 * 1024)} MB.",
                           field="certificate")
    for magic, media_type in _CERTIFICATE_SIGNATURES.items():
        if certificate.data.startswith(magic):
            return media_type
    raise InvalidInput("The certificate must be a PDF, PNG or JPEG file.", field="certificate")


def record_calibration(
    session: Session,
    equipment: Equipment,
    *,
    performed_on: date,
    recorded_by: User,
    readings: list[ReadingInput],
    reference_standard: ReferenceStandard | None,
    vendor_name: str | None = None,
    vendor_certificate_number: str | None = None,
    certificate: Certificate | None = None,
    notes: str | None = None,
    corrects: CalibrationRecord | None = None,
    correction_reason: str | None = None,
) -> CalibrationRecord:
    """Record a calibration: pass or fail per point through the units, the next due date, and the impact."""
    today = clock.now().date()
    if performed_on > today:
        raise InvalidInput("A calibration cannot be recorded for a future date.", field="performed_on")
    if equipment.retired_at is not None:
        raise InvalidInput(f"{equipment.asset_tag} is retired.")
    if vendor_name and not vendor_certificate_number:
        raise InvalidInput("Give the vendor's certificate number.", field="vendor_certificate_number")
    if reference_standard is None and not vendor_name:
        raise InvalidInput("Choose the reference standard used.", field="reference_standard_id")
    if reference_standard is not None and reference_standard.valid_until < performed_on:
        raise InvalidInput(
            f"The reference standard {reference_standard.identifier} was valid until "
            f"{reference_standard.valid_until.isoformat()}, before this calibration.", field="reference_standard_id")
    if corrects is not None and corrects.equipment_id != equipment.id:
        raise InvalidInput("A correction must be recorded on the equipment of the calibration it corrects.")
    if corrects is not None and not (correction_reason or "").strip():
        raise audit.ReasonRequired("Give the reason for correcting the earlier calibration.")
    media_type = check_certificate(certificate) if certificate is not None else None
    points = {point.id: point for point in equipment.points if point.active}
    if not points:
        raise InvalidInput(f"{equipment.asset_tag} has no calibration points; add them first.")
    by_point = {reading.point_id: reading for reading in readings}
    missing = [point.name for point_id, point in points.items() if point_id not in by_point]
    if missing:
        raise InvalidInput(f"Enter the as-found reading of every point; missing: {', '.join(missing)}.")
    if set(by_point) - set(points):
        raise InvalidInput("A reading names a point this equipment does not have.")

    previous_pass = _last_passing_calibration(session, equipment)
    record = CalibrationRecord(
        equipment=equipment, performed_on=performed_on, recorded_at=clock.now(), recorded_by=recorded_by,
        vendor_name=vendor_name or None, vendor_certificate_number=vendor_certificate_number or None,
        reference_standard=reference_standard, notes=notes or None, as_found_passed=True, passed=True,
        certificate_filename=certificate.filename if certificate else None, certificate_media_type=media_type,
        certificate_sha256=hashlib.sha256(certificate.data).hexdigest() if certificate else None,
        certificate=certificate.data if certificate else None,
        corrects_id=corrects.id if corrects else None, correction_reason=(correction_reason or "").strip() or None,
    )
    for point_id, point in points.items():
        given = by_point[point_id]
        limit = limit_with_tolerance(point.nominal, point.tolerance_value)
        try:
            found_ok = limit.conforms(given.as_found)
            left_ok = limit.conforms(given.as_left) if given.as_left is not None else None
        except IncompatibleUnits as error:
            raise InvalidInput(f"{point.name}: {error.message}", field=f"as_found_{point_id}") from error
        record.readings.append(CalibrationReading(
            point=point, nominal=point.nominal, tolerance_value=point.tolerance_value, as_found=given.as_found,
            as_left=given.as_left, as_found_passed=found_ok, as_left_passed=left_ok,
        ))
        record.as_found_passed = record.as_found_passed and found_ok
        record.passed = record.passed and (left_ok if left_ok is not None else found_ok)
    record.next_due_on = performed_on + timedelta(days=equipment.calibration_interval_days) if record.passed else None
    session.add(record)
    session.flush()
    with audit.reason_for_change(session, f"Calibration {record.id} recorded"):
        equipment.out_of_tolerance = not record.passed
        if record.passed:
            equipment.last_calibrated_on = performed_on
            equipment.calibration_due_on = record.next_due_on
    if not record.as_found_passed:
        since = datetime.combine(previous_pass.performed_on, time.min, tzinfo=timezone.utc) if previous_pass else None
        session.add(ImpactAssessment(equipment=equipment, calibration_record=record, uses_since=since,
                                     opened_at=clock.now()))
        session.flush()
    return record


def _last_passing_calibration(session: Session, equipment: Equipment) -> CalibrationRecord | None:
    return session.scalar(select(CalibrationRecord)
                          .where(CalibrationRecord.equipment_id == equipment.id, CalibrationRecord.passed.is_(True))
                          .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc()).limit(1))


def get_calibration(session: Session, record_id: int) -> CalibrationRecord:
    return get_record(session, CalibrationRecord, record_id, "calibration record")


def calibration_history(session: Session, equipment: Equipment) -> list[CalibrationRecord]:
    return list(session.scalars(select(CalibrationRecord).where(CalibrationRecord.equipment_id == equipment.id)
                                .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc())))


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
        values = [DriftPoint(performed_on, error_of(reading.as_found, reading.nominal), reading.as_found_passed)
                  for reading, performed_on in rows if reading.point_id == point.id]
        series.append(DriftSeries(point, point.tolerance_value, values))
    return series


def _check_calibration_signature(session: Session, record: CalibrationRecord, meaning: SignatureMeaning,
                                 user: User) -> None:
    if meaning == SignatureMeaning.PERFORMED and user.id != record.recorded_by_id:
        raise signatures.SignatureRefused("Only the person who recorded this calibration signs it as performed.")
    if meaning == SignatureMeaning.REVIEWED:
        performers = signatures.signers_with_meaning(session, record, SignatureMeaning.PERFORMED)
        if not performers:
            raise signatures.SignatureRefused("The performer signs the calibration before QA reviews it.")
        signatures.require_different_person(user, performers, earlier_role="performed")


# Maintenance


def start_maintenance(session: Session, equipment: Equipment, *, kind: MaintenanceKind, description: str,
                      user: User) -> MaintenanceRecord:
    """Open a maintenance record; the equipment is out of service until it is closed."""
    if equipment.under_maintenance:
        raise Conflict(f"{equipment.asset_tag} already has open maintenance.")
    record = MaintenanceRecord(equipment_id=equipment.id, kind=kind, description=description,
                               started_at=clock.now(), started_by_id=user.id)
    session.add(record)
    session.flush()
    with audit.reason_for_change(session, f"Maintenance {record.id} started: {description.strip()}"):
        equipment.under_maintenance = True
    return record


def close_maintenance(session: Session, record: MaintenanceRecord, *, outcome: str, user: User) -> MaintenanceRecord:
    """Close maintenance with its outcome; the equipment returns to its calibration status."""
    if record.closed_at is not None:
        raise Conflict("This maintenance is already closed.")
    with audit.reason_for_change(session, f"Maintenance closed: {outcome.strip()}"):
        record.closed_at = clock.now()
        record.closed_by_id = user.id
        record.outcome = outcome.strip()
        get_equipment(session, record.equipment_id).under_maintenance = False
    return record


def get_maintenance(session: Session, record_id: int) -> MaintenanceRecord:
    return get_record(session, MaintenanceRecord, record_id, "maintenance record")


def maintenance_history(session: Session, equipment: Equipment) -> list[MaintenanceRecord]:
    return list(session.scalars(select(MaintenanceRecord).where(MaintenanceRecord.equipment_id == equipment.id)
                                .order_by(MaintenanceRecord.started_at.desc())))


# Out-of-tolerance impact


def get_impact_assessment(session: Session, assessment_id: int) -> ImpactAssessment:
    return get_record(session, ImpactAssessment, assessment_id, "impact assessment")


def impact_assessments(session: Session, equipment: Equipment) -> list[ImpactAssessment]:
    return list(session.scalars(select(ImpactAssessment).where(ImpactAssessment.equipment_id == equipment.id)
                                .order_by(ImpactAssessment.opened_at.desc())))


def open_impact_assessments(session: Session) -> list[ImpactAssessment]:
    return list(session.scalars(select(ImpactAssessment).where(ImpactAssessment.closed_at.is_(None))
                                .order_by(ImpactAssessment.opened_at)))


def calibrations_awaiting_review(session: Session) -> list[CalibrationRecord]:
    """Calibrations signed as performed and not yet reviewed by QA, oldest first."""
    signed = select(ElectronicSignature.entity_id).where(ElectronicSignature.entity_type == CalibrationRecord.__tablename__)
    performed = signed.where(ElectronicSignature.meaning == SignatureMeaning.PERFORMED)
    reviewed = signed.where(ElectronicSignature.meaning == SignatureMeaning.REVIEWED)
    record_key = func.cast(CalibrationRecord.id, String)
    return list(session.scalars(select(CalibrationRecord)
                                .where(record_key.in_(performed), record_key.not_in(reviewed))
                                .order_by(CalibrationRecord.recorded_at)))


def open_impact_assessments_count(session: Session) -> int:
    return session.scalar(select(func.count(ImpactAssessment.id)).where(ImpactAssessment.closed_at.is_(None))) or 0


def affected_uses(session: Session, assessment: ImpactAssessment) -> list[EquipmentUse]:
    """Every recorded use of the equipment since its last passing calibration, up to the failing one."""
    uses = uses_since(session, assessment.equipment, assessment.uses_since)
    return [use for use in uses if use.used_at <= assessment.calibration_record.recorded_at]


def close_impact_assessment(session: Session, assessment: ImpactAssessment, *, conclusion: str, user: User,
                            password: str, client_address: str | None = None) -> ImpactAssessment:
    """QA's conclusion on the affected uses, closed with an e-signature."""
    if assessment.closed_at is not None:
        raise Conflict("This impact assessment is already closed.")
    # Who may close it is settled before the password is asked for, as on the signing page.
    signatures.check_may_sign(session, assessment, SignatureMeaning.REVIEWED, user)
    if not conclusion.strip():
        raise InvalidInput("Write the conclusion of the assessment.", field="conclusion")
    # The password is proven before the conclusion is written: a refused signature
    # must leave the assessment open, even though its failed attempt is kept.
    signatures.reauthenticate_to_sign(session, assessment, SignatureMeaning.REVIEWED, user, password=password,
                                      client_address=client_address)
    with audit.reason_for_change(session, "Impact assessment concluded"):
        assessment.conclusion = conclusion.strip()
        assessment.closed_at = clock.now()
    signatures.sign(session, assessment, meaning=SignatureMeaning.REVIEWED, user=user, password=password,
                    client_address=client_address)
    return assessment


signatures.register_signable(
    CalibrationRecord,
    {SignatureMeaning.PERFORMED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
     SignatureMeaning.REVIEWED: frozenset({RoleName.QA})},
    before_signing=_check_calibration_signature,
)
signatures.register_signable(ImpactAssessment, {SignatureMeaning.REVIEWED: frozenset({RoleName.QA})})
