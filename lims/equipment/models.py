"""Equipment, its calibration points and records, reference standards, maintenance, uses and impact."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import User
from lims.signatures.service import ImmutableOnceSigned
from lims.units.columns import ExactDecimal, measurement_column
from lims.units.measurement import Measurement


class EquipmentType(enum.StrEnum):
    BIOSAFETY_CABINET = "biosafety cabinet"
    INCUBATOR = "incubator"
    CENTRIFUGE = "centrifuge"
    PIPETTE = "pipette"
    BALANCE = "balance"
    FREEZER = "freezer"
    REFRIGERATOR = "refrigerator"
    FLOW_CYTOMETER = "flow cytometer"
    DIGITAL_PCR = "digital PCR system"
    CELL_COUNTER = "cell counter"
    THERMOMETER = "thermometer"
    WATER_BATH = "water bath"
    OTHER = "other"


class EquipmentStatus(enum.StrEnum):
    IN_SERVICE = "in service"
    DUE_SOON = "calibration due soon"
    OVERDUE = "calibration overdue"
    OUT_OF_TOLERANCE = "out of tolerance"
    UNDER_MAINTENANCE = "under maintenance"
    RETIRED = "retired"


class MaintenanceKind(enum.StrEnum):
    PLANNED = "planned"
    UNPLANNED = "unplanned"


class Equipment(Controlled, Base):
    __tablename__ = "equipment"
    audit_parts = ("points",)
    # Pickers list a type's items by asset tag; work queues count the items in a calibration state from an index.
    __table_args__ = (
        Index("ix_equipment_due", "retired_at", "calibration_due_on"),
        Index("ix_equipment_type_asset_tag", "equipment_type", "asset_tag"),
        Index(
            "ix_equipment_calibration_state",
            "retired_at",
            "under_maintenance",
            "out_of_tolerance",
            "calibration_due_on",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_tag: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    equipment_type: Mapped[EquipmentType] = mapped_column(string_enum(EquipmentType, "equipment_type"), index=True)
    location: Mapped[str] = mapped_column(String(120), index=True)
    manufacturer: Mapped[str] = mapped_column(String(120))
    model: Mapped[str] = mapped_column(String(120))
    serial_number: Mapped[str] = mapped_column(String(120))
    calibration_interval_days: Mapped[int]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    # The facts a status is derived from, kept by the calibration service.
    last_calibrated_on: Mapped[date | None]
    calibration_due_on: Mapped[date | None]
    out_of_tolerance: Mapped[bool] = mapped_column(default=False, index=True)
    under_maintenance: Mapped[bool] = mapped_column(default=False)
    retired_at: Mapped[datetime | None]
    retirement_reason: Mapped[str | None] = mapped_column(Text)
    #: a centrifuge's rotor radius (to the sample), through which its rpm and × g convert; None where not stated
    rotor_radius: Mapped[Measurement | None] = measurement_column("rotor_radius", nullable=True)

    owner: Mapped[User | None] = relationship()
    points: Mapped[list[CalibrationPoint]] = relationship(back_populates="equipment", order_by="CalibrationPoint.id")


class CalibrationPoint(Controlled, Base):
    """A point checked at each calibration: a nominal value and the tolerance around it."""

    __tablename__ = "calibration_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    nominal: Mapped[Measurement] = measurement_column("nominal")
    #: ± this much around the nominal, in the nominal's unit (a difference for °C)
    tolerance_value: Mapped[Decimal] = mapped_column(ExactDecimal())
    active: Mapped[bool] = mapped_column(default=True)

    equipment: Mapped[Equipment] = relationship(back_populates="points")


class ReferenceStandard(Controlled, Base):
    """A traceable standard (weights, thermometer, ...) used to calibrate equipment."""

    __tablename__ = "reference_standard"

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(200))
    certificate_number: Mapped[str] = mapped_column(String(120))
    valid_until: Mapped[date]
    #: the units of the quantities it measures ("°C", "rpm, °C"): it calibrates only points of those dimensions
    measures: Mapped[str] = mapped_column(String(120))

    @property
    def measured_units(self) -> list[str]:
        return [unit.strip() for unit in self.measures.split(",") if unit.strip()]


class CalibrationPerformer(enum.StrEnum):
    """Who calibrated: the recording technician, against a registered reference standard, or an external vendor."""

    IN_HOUSE = "internal"
    VENDOR = "vendor"


class CalibrationRecord(Controlled, ImmutableOnceSigned, Base):
    __tablename__ = "calibration_record"
    audit_parts = ("readings",)
    __table_args__ = (Index("ix_calibration_record_equipment", "equipment_id", "performed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"))
    performed_on: Mapped[date]
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: set when an external vendor calibrated; else the recording technician performed it
    vendor_name: Mapped[str | None] = mapped_column(String(200))
    vendor_certificate_number: Mapped[str | None] = mapped_column(String(120))
    reference_standard_id: Mapped[int | None] = mapped_column(ForeignKey("reference_standard.id"))
    as_found_passed: Mapped[bool]
    passed: Mapped[bool]
    next_due_on: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(Text)
    certificate_filename: Mapped[str | None] = mapped_column(String(200))
    certificate_media_type: Mapped[str | None] = mapped_column(String(64))
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    certificate: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_record.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)

    equipment: Mapped[Equipment] = relationship()
    recorded_by: Mapped[User] = relationship()
    reference_standard: Mapped[ReferenceStandard | None] = relationship()
    readings: Mapped[list[CalibrationReading]] = relationship(back_populates="record", order_by="CalibrationReading.id")

    def signed_content(self) -> dict[str, Any]:
        return {
            "equipment": self.equipment.asset_tag,
            "performed_on": self.performed_on,
            "vendor": self.vendor_name,
            "vendor_certificate_number": self.vendor_certificate_number,
            "reference_standard": self.reference_standard.identifier if self.reference_standard else None,
            "readings": [str(reading) for reading in self.readings],
            "passed": self.passed,
            "certificate_sha256": self.certificate_sha256,
            "notes": self.notes,
        }


class CalibrationReading(Controlled, Base):
    __tablename__ = "calibration_reading"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("calibration_record.id"), index=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("calibration_point.id"))
    nominal: Mapped[Measurement] = measurement_column("nominal")
    tolerance_value: Mapped[Decimal] = mapped_column(ExactDecimal())
    as_found: Mapped[Measurement] = measurement_column("as_found")
    as_left: Mapped[Measurement | None] = measurement_column("as_left", nullable=True)
    as_found_passed: Mapped[bool]
    as_left_passed: Mapped[bool | None]

    record: Mapped[CalibrationRecord] = relationship(back_populates="readings")
    point: Mapped[CalibrationPoint] = relationship()

    def part_label(self) -> str:
        return f"the reading at {self.point.name}"

    def __str__(self) -> str:
        left = f", as left {self.as_left}" if self.as_left is not None else ""
        return f"{self.point.name}: nominal {self.nominal} ± {self.tolerance_value}, as found {self.as_found}{left}"


class MaintenanceRecord(Controlled, Base):
    __tablename__ = "maintenance_record"
    __table_args__ = (Index("ix_maintenance_record_open", "equipment_id", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"))
    kind: Mapped[MaintenanceKind] = mapped_column(string_enum(MaintenanceKind, "maintenance_kind"))
    description: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    started_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outcome: Mapped[str | None] = mapped_column(Text)

    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])


class EquipmentUse(Controlled, Base):
    """One use of a piece of equipment, and the record it served."""

    __tablename__ = "equipment_use"
    __table_args__ = (
        Index("ix_equipment_use_equipment", "equipment_id", "used_at"),
        Index("ix_equipment_use_record", "record_type", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"))
    used_at: Mapped[datetime]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    record_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(200))

    equipment: Mapped[Equipment] = relationship()
    user: Mapped[User] = relationship()


class ImpactAssessment(Controlled, ImmutableOnceSigned, Base):
    """Opened when a calibration finds the equipment out of tolerance; QA closes it with a signature."""

    __tablename__ = "impact_assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), index=True)
    calibration_record_id: Mapped[int] = mapped_column(ForeignKey("calibration_record.id"))
    #: uses from this moment on are in question (the last passing calibration, or the first use)
    uses_since: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    conclusion: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]

    equipment: Mapped[Equipment] = relationship()
    calibration_record: Mapped[CalibrationRecord] = relationship()
    verdicts: Mapped[list[ImpactVerdict]] = relationship(back_populates="assessment", order_by="ImpactVerdict.id")

    def signed_content(self) -> dict[str, Any]:
        return {
            "equipment": self.equipment.asset_tag,
            "calibration_record": self.calibration_record_id,
            "uses_since": self.uses_since,
            "conclusion": self.conclusion,
            "verdicts": [
                f"{verdict.label}: {verdict.verdict.value} {verdict.comment or ''}" for verdict in self.verdicts
            ],
        }


class Verdict(enum.StrEnum):
    NO_IMPACT = "no impact"
    IMPACT = "impact"


class ImpactVerdict(Controlled, Base):
    """QA's verdict, when closing an assessment, on one record its uses served (a batch, for batch records)."""

    __tablename__ = "impact_verdict"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("impact_assessment.id"), index=True)
    #: the kind of record, as the area that declared it names it (``lims.registry.ImpactedRecords``)
    record_kind: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(64))
    #: what the record was called when the verdict was given, e.g. "Batch CART-001-300001"
    label: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[Verdict] = mapped_column(string_enum(Verdict, "impact_verdict"))
    comment: Mapped[str | None] = mapped_column(Text)

    assessment: Mapped[ImpactAssessment] = relationship(back_populates="verdicts")
