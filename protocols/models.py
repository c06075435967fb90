"""Trial protocols, their versions, design (arms, visits, sample requirements) and subjects."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal  # noqa: F401  (resolves Measurement's field types for the composites)
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import Organization
from lims.units.columns import measurement_column
from lims.units.measurement import Measurement
from lims.versioning.models import DocumentVersion, VersionLifecycle


class ProtocolPhase(enum.StrEnum):
    """The phases the lab serves: after phase II."""

    PHASE_2_3 = "phase 2/3"
    PHASE_3 = "phase 3"
    PHASE_4 = "phase 4"
    POST_MARKETING = "post-marketing"


class ProtocolStatus(enum.StrEnum):
    PLANNING = "planning"
    ENROLLING = "enrolling"
    ACTIVE_NOT_ENROLLING = "active, not enrolling"
    COMPLETED = "completed"
    TERMINATED = "terminated"


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in review"
    APPROVED = "approved"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"


class ReferenceEvent(enum.StrEnum):
    """What a visit's day is counted from."""

    ENROLMENT = "enrolment"
    APHERESIS = "apheresis"
    INFUSION = "infusion"


class Protocol(Controlled, Base):
    __tablename__ = "protocol"
    audit_parts = ("interventions",)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    phase: Mapped[ProtocolPhase] = mapped_column(string_enum(ProtocolPhase, "protocol_phase"))
    therapeutic_area: Mapped[str] = mapped_column(Text)
    investigational_product: Mapped[str] = mapped_column(Text)
    nct_id: Mapped[str | None] = mapped_column(String(11), unique=True)
    conditions: Mapped[str | None] = mapped_column(Text)
    target_enrolment: Mapped[int | None]
    status: Mapped[ProtocolStatus] = mapped_column(string_enum(ProtocolStatus, "protocol_status"))
    created_at: Mapped[datetime]
    # What the ClinicalTrials.gov record states, kept as the registry words it (the lab's own fields above may differ).
    registry_brief_title: Mapped[str | None] = mapped_column(Text)
    registry_acronym: Mapped[str | None] = mapped_column(Text)
    registry_lead_sponsor: Mapped[str | None] = mapped_column(Text)
    #: One collaborator a line: a name never holds a line break (the record's texts are single-line).
    registry_collaborators: Mapped[str | None] = mapped_column(Text)
    registry_overall_status: Mapped[str | None] = mapped_column(Text)
    registry_enrolment_type: Mapped[str | None] = mapped_column(Text)

    sponsor: Mapped[Organization] = relationship()
    versions: Mapped[list[ProtocolVersion]] = relationship(back_populates="protocol", order_by="ProtocolVersion.id")
    interventions: Mapped[list[ProtocolIntervention]] = relationship(
        back_populates="protocol", order_by="ProtocolIntervention.id"
    )

    @property
    def registry_collaborator_names(self) -> list[str]:
        return self.registry_collaborators.splitlines() if self.registry_collaborators else []


class ProtocolIntervention(Controlled, Base):
    """An intervention as the ClinicalTrials.gov record states it: its type, name and description."""

    __tablename__ = "protocol_intervention"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocol.id"), index=True)
    kind: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)

    protocol: Mapped[Protocol] = relationship(back_populates="interventions")


class ProtocolVersion(DocumentVersion, Controlled, Base):
    __tablename__ = "protocol_version"
    audit_parts = ("arms", "visits")
    lifecycle = VersionLifecycle(
        draft=VersionStatus.DRAFT,
        in_review=VersionStatus.IN_REVIEW,
        approved=VersionStatus.APPROVED,
        effective=VersionStatus.EFFECTIVE,
        ended=VersionStatus.SUPERSEDED,
        ended_at="superseded_at",
        not_draft="{version} is {status} and can no longer change; create a new version for an amendment.",
    )
    status_type = "version_status"
    document_key = "protocol_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocol.id"), index=True)
    number: Mapped[str] = mapped_column(String(16))
    amendment_summary: Mapped[str] = mapped_column(Text)
    planned_effective_on: Mapped[date | None]
    superseded_at: Mapped[datetime | None]

    protocol: Mapped[Protocol] = relationship(back_populates="versions")
    arms: Mapped[list[Arm]] = relationship(back_populates="version", order_by="Arm.code")
    visits: Mapped[list[Visit]] = relationship(back_populates="version", order_by="(Visit.day_offset, Visit.code)")

    @property
    def label(self) -> str:
        return f"version {self.number}"

    @property
    def document_versions(self) -> list[ProtocolVersion]:
        return self.protocol.versions

    def signed_content(self) -> dict[str, Any]:
        """The design a version's approval covers: any change after signing invalidates it."""
        return {
            "protocol": self.protocol.number,
            "version": self.number,
            "amendment_summary": self.amendment_summary,
            "planned_effective_on": self.planned_effective_on,
            "arms": [
                f"{arm.code}: {arm.name} ({arm.arm_type or 'unspecified'}) {arm.description or ''}".strip()
                for arm in self.arms
            ],
            "visits": [str(visit) for visit in self.visits],
        }


class Arm(Controlled, Base):
    __tablename__ = "arm"
    __table_args__ = (UniqueConstraint("version_id", "code", name="uq_arm_version_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    arm_type: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)

    version: Mapped[ProtocolVersion] = relationship(back_populates="arms")

    def part_label(self) -> str:
        return f"arm {self.code}"


class Visit(Controlled, Base):
    __tablename__ = "visit"
    audit_parts = ("requirements",)
    __table_args__ = (UniqueConstraint("version_id", "code", name="uq_visit_version_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    reference_event: Mapped[ReferenceEvent] = mapped_column(string_enum(ReferenceEvent, "reference_event"))
    day_offset: Mapped[int]
    window_before_days: Mapped[int] = mapped_column(default=0)
    window_after_days: Mapped[int] = mapped_column(default=0)
    procedures: Mapped[str | None] = mapped_column(Text)

    version: Mapped[ProtocolVersion] = relationship(back_populates="visits")
    requirements: Mapped[list[SampleRequirement]] = relationship(
        back_populates="visit", order_by="SampleRequirement.id"
    )

    def part_label(self) -> str:
        return f"visit {self.code}"

    def __str__(self) -> str:
        samples = "; ".join(str(requirement) for requirement in self.requirements)
        return (
            f"{self.code} {self.name}: day {self.day_offset} from {self.reference_event.value} "
            f"(-{self.window_before_days}/+{self.window_after_days}){': ' + samples if samples else ''}"
        )


class SampleRequirement(Controlled, Base):
    """A sample a visit calls for: type, volume, container, handling temperatures, time to processing."""

    __tablename__ = "sample_requirement"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), index=True)
    sample_type: Mapped[str] = mapped_column(String(120))
    volume: Mapped[Measurement] = measurement_column("volume")
    container: Mapped[str] = mapped_column(String(120))
    handling_minimum: Mapped[Measurement] = measurement_column("handling_minimum")
    handling_maximum: Mapped[Measurement] = measurement_column("handling_maximum")
    max_hours_to_processing: Mapped[int]

    visit: Mapped[Visit] = relationship(back_populates="requirements")

    def part_label(self) -> str:
        return f"the {self.sample_type} sample"

    def __str__(self) -> str:
        return (
            f"{self.sample_type} {self.volume} in {self.container}, "
            f"{self.handling_minimum.value}–{self.handling_maximum}, within {self.max_hours_to_processing} h"
        )


class Subject(Controlled, Base):
    __tablename__ = "subject"
    # The subject picker lists subjects by code.
    __table_args__ = (
        UniqueConstraint("protocol_id", "code", name="uq_subject_protocol_code"),
        Index("ix_subject_code", "code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocol.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("protocol_version.id"))
    code: Mapped[str] = mapped_column(String(32))
    site: Mapped[str] = mapped_column(String(64))
    arm_id: Mapped[int] = mapped_column(ForeignKey("arm.id"))
    enrolled_on: Mapped[date]
    consent_version: Mapped[str] = mapped_column(String(32))
    apheresis_on: Mapped[date | None]
    infused_on: Mapped[date | None]

    protocol: Mapped[Protocol] = relationship()
    version: Mapped[ProtocolVersion] = relationship()
    arm: Mapped[Arm] = relationship()
