"""Master batch records, executed batches and their deviations."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.equipment.models import EquipmentType
from lims.identity.models import User
from lims.materials.models import Material
from lims.signatures.models import KeepsSignatureState, SignatureMeaning
from lims.testing.models import TestDefinition, TestResult
from lims.units.columns import ExactDecimal, measurement_column
from lims.units.kinds import ValueKind
from lims.units.measurement import Measurement
from lims.versioning.models import DocumentVersion, VersionLifecycle
from protocols.models import Subject

# Master batch records


class MbrStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in review"
    APPROVED = "approved"
    EFFECTIVE = "effective"
    RETIRED = "retired"


#: the usual stages of an autologous CAR-T process, offered when a step is added
TYPICAL_STAGES = (
    "Starting-material receipt",
    "T-cell selection",
    "Activation",
    "Transduction",
    "Expansion",
    "Harvest",
    "Formulation",
    "Cryopreservation",
)


class DonorType(enum.StrEnum):
    """Whose cells a product is made of, and for whom: a subject's own, for that subject alone (autologous), or a
    donor's, for others (allogeneic)."""

    AUTOLOGOUS = "autologous"
    ALLOGENEIC = "allogeneic"


class MasterBatchRecord(Controlled, Base):
    """The master record of how a product is made; its content lives in versions."""

    __tablename__ = "master_batch_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    product: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    versions: Mapped[list[MbrVersion]] = relationship(back_populates="master", order_by="MbrVersion.number")


class MbrVersion(DocumentVersion, Controlled, Base):
    __tablename__ = "mbr_version"
    audit_parts = ("steps", "release_tests")
    lifecycle = VersionLifecycle(
        draft=MbrStatus.DRAFT,
        in_review=MbrStatus.IN_REVIEW,
        approved=MbrStatus.APPROVED,
        effective=MbrStatus.EFFECTIVE,
        ended=MbrStatus.RETIRED,
        ended_at="retired_at",
        not_draft="{version} is {status}; only a draft can change. Start a new version to change it.",
    )
    status_type = "mbr_status"
    document_key = "master_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    master_id: Mapped[int] = mapped_column(ForeignKey("master_batch_record.id"), index=True)
    number: Mapped[int]
    change_summary: Mapped[str] = mapped_column(Text)
    retired_at: Mapped[datetime | None]
    #: part of the approved design: an autologous product's certificate and bag label say "For autologous use only"
    #: and name the subject; an allogeneic product's label names no subject
    donor_type: Mapped[DonorType] = mapped_column(string_enum(DonorType, "donor_type"), default=DonorType.AUTOLOGOUS)

    master: Mapped[MasterBatchRecord] = relationship(back_populates="versions")
    steps: Mapped[list[MbrStep]] = relationship(back_populates="version", order_by="MbrStep.position")
    release_tests: Mapped[list[MbrReleaseTest]] = relationship(back_populates="version", order_by="MbrReleaseTest.id")

    @property
    def label(self) -> str:
        return f"{self.master.code} v{self.number}"

    @property
    def document_versions(self) -> list[MbrVersion]:
        return self.master.versions

    @property
    def training_subject(self) -> str:
        """What an operator must be trained on to perform steps of batches made to this version."""
        return f"MBR {self.label}"

    def signed_content(self) -> dict[str, Any]:
        """The design an author's and QA's signatures cover: any change after signing invalidates them."""
        return {
            "master": self.master.code,
            "product": self.master.product,
            "version": self.number,
            # An autologous design adds nothing, so versions signed before the donor type existed hash as they did.
            **({} if self.donor_type == DonorType.AUTOLOGOUS else {"donor_type": self.donor_type.value}),
            "change_summary": self.change_summary,
            "steps": [step.describe() for step in self.steps],
            "release_tests": [str(test.definition) for test in self.release_tests],
        }


class StepDesign:
    """What a step asks for; the master's steps and a batch's frozen copies share it."""

    stage: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    instruction: Mapped[str] = mapped_column(Text)
    second_person_verification: Mapped[bool] = mapped_column(default=False)
    #: the process stops after this step until QA has reviewed it
    hold_point: Mapped[bool] = mapped_column(default=False)
    skippable: Mapped[bool] = mapped_column(default=False)
    #: QC takes the release samples at this step: release results are entered once it is completed
    qc_sampling: Mapped[bool] = mapped_column(default=False)
    #: comma-separated equipment types the step needs one of each of
    required_equipment: Mapped[str] = mapped_column(String(400), default="")
    yield_minimum_percent: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    yield_maximum_percent: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    if TYPE_CHECKING:
        # Mapped by each model with its own tables; declared here only for describe().
        position: int
        parameters: Sequence[ParameterDesign]
        materials: Sequence[MbrMaterial | BatchMaterial]

    @declared_attr
    def theoretical_yield(cls) -> Mapped[Measurement | None]:
        return measurement_column("theoretical_yield", nullable=True)

    @property
    def equipment_types(self) -> list[EquipmentType]:
        return [EquipmentType(value) for value in self.required_equipment.split(",") if value]

    def describe(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "stage": self.stage,
            "title": self.title,
            "instruction": self.instruction,
            "second_person_verification": self.second_person_verification,
            "hold_point": self.hold_point,
            "skippable": self.skippable,
            "qc_sampling": self.qc_sampling,
            "equipment": self.required_equipment,
            "yield": None
            if self.theoretical_yield is None
            else f"{self.theoretical_yield} {self.yield_minimum_percent}–{self.yield_maximum_percent} %",
            "parameters": [str(parameter) for parameter in self.parameters],
            "materials": [f"{material.material.part_number} {material.quantity}" for material in self.materials],
        }


class ParameterDesign:
    """What a parameter asks for; the master's parameters and a batch's frozen copies share it."""

    name: Mapped[str] = mapped_column(String(120))
    #: the unit an entry is expected in; a compatible one is converted ("" for a pure number)
    unit: Mapped[str] = mapped_column(String(32))
    #: the acceptable range as typed, e.g. "36.5–37.5 °C" or "≥ 70 %"
    limit: Mapped[str | None] = mapped_column(String(120))
    required: Mapped[bool] = mapped_column(default=True)

    @declared_attr
    def value_kind(cls) -> Mapped[ValueKind]:
        """Which values are physically possible: a non-negative quantity, a fraction of a whole, a signed one."""
        return mapped_column(string_enum(ValueKind, "value_kind"), default=ValueKind.SIGNED)

    @declared_attr
    def target(cls) -> Mapped[Measurement | None]:
        return measurement_column("target", nullable=True)

    def __str__(self) -> str:
        target = f" target {self.target}" if self.target is not None else ""
        limit = f" limits {self.limit}" if self.limit else ""
        # A signed quantity adds nothing, so designs signed before kinds existed read (and hash) as they did.
        kind = "" if self.value_kind == ValueKind.SIGNED else f" ({self.value_kind.value})"
        optional = "" if self.required else " (optional)"
        return f"{self.name} [{self.unit or 'number'}]{kind}{target}{limit}{optional}"


class MbrStep(StepDesign, Controlled, Base):
    __tablename__ = "mbr_step"
    audit_parts = ("parameters", "materials")
    __table_args__ = (UniqueConstraint("version_id", "position", name="uq_mbr_step_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("mbr_version.id"), index=True)
    position: Mapped[int]

    version: Mapped[MbrVersion] = relationship(back_populates="steps")
    parameters: Mapped[list[MbrParameter]] = relationship(back_populates="step", order_by="MbrParameter.position")
    materials: Mapped[list[MbrMaterial]] = relationship(back_populates="step", order_by="MbrMaterial.id")

    def part_label(self) -> str:
        return f"step {self.position}. {self.title}"


class MbrParameter(ParameterDesign, Controlled, Base):
    __tablename__ = "mbr_parameter"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("mbr_step.id"), index=True)
    position: Mapped[int]

    step: Mapped[MbrStep] = relationship(back_populates="parameters")

    def part_label(self) -> str:
        return f"parameter {self.name}"


class MbrMaterial(Controlled, Base):
    """A material a step consumes, and how much."""

    __tablename__ = "mbr_material"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("mbr_step.id"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    quantity: Mapped[Measurement] = measurement_column("quantity")

    step: Mapped[MbrStep] = relationship(back_populates="materials")
    material: Mapped[Material] = relationship()

    def part_label(self) -> str:
        return f"material {self.material.part_number}"


class MbrReleaseTest(Controlled, Base):
    """A test a batch made to the version must pass before QA can release it."""

    __tablename__ = "mbr_release_test"
    __table_args__ = (UniqueConstraint("version_id", "definition_id", name="uq_mbr_release_test_definition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("mbr_version.id"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("test_definition.id"))

    version: Mapped[MbrVersion] = relationship(back_populates="release_tests")
    definition: Mapped[TestDefinition] = relationship()

    def part_label(self) -> str:
        return f"release test {self.definition}"


# Executed batches


class BatchStatus(enum.StrEnum):
    IN_PROGRESS = "in progress"
    AWAITING_REVIEW = "awaiting review"
    QUARANTINED = "quarantined"
    RELEASED = "released"
    REJECTED = "rejected"


#: a batch in one of these states can no longer change
FINAL_BATCH_STATUSES = frozenset({BatchStatus.RELEASED, BatchStatus.REJECTED})


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"
    SKIPPED = "skipped"


class Batch(Controlled, Base):
    """A batch made to an effective master record version, for one subject from one starting material."""

    __tablename__ = "batch"
    # A batch's history is the batch with all its parts: its deviations belong to it as much as its steps.
    audit_parts = ("steps", "release_tests", "deviations")
    # The batch list goes newest first, all of them or those in one status.
    __table_args__ = (
        Index("ix_batch_created_at", "created_at", "id"),
        Index("ix_batch_status_created_at", "status", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_number: Mapped[str] = mapped_column(String(32), unique=True)
    mbr_version_id: Mapped[int] = mapped_column(ForeignKey("mbr_version.id"), index=True)
    #: the master's code, product and version as they were when the batch was made
    mbr_label: Mapped[str] = mapped_column(String(64))
    product: Mapped[str] = mapped_column(String(200))
    training_subject: Mapped[str] = mapped_column(String(120))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    #: the identity of the starting material (e.g. the apheresis bag's ISBT 128 donation number)
    starting_material_identity: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[BatchStatus] = mapped_column(string_enum(BatchStatus, "batch_status"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    disposition_reason: Mapped[str | None] = mapped_column(Text)
    disposition_at: Mapped[datetime | None]

    mbr_version: Mapped[MbrVersion] = relationship()
    subject: Mapped[Subject] = relationship()
    created_by: Mapped[User] = relationship()
    steps: Mapped[list[BatchStep]] = relationship(back_populates="batch", order_by="BatchStep.position")
    release_tests: Mapped[list[BatchReleaseTest]] = relationship(back_populates="batch", order_by="BatchReleaseTest.id")
    deviations: Mapped[list[Deviation]] = relationship(back_populates="batch", order_by="Deviation.id")

    @property
    def donor_type(self) -> DonorType:
        """As the master record version the batch was made to says (no version changes once effective)."""
        return self.mbr_version.donor_type

    @property
    def chain_of_identity(self) -> str:
        return (
            f"Subject {self.subject.code} ({self.subject.protocol.number}) · starting material "
            f"{self.starting_material_identity} · batch {self.batch_number}"
        )

    def signed_content(self) -> dict[str, Any]:
        """What QA's disposition covers: the identity of the batch and every step as executed."""
        return {
            "batch": self.batch_number,
            "product": self.product,
            "mbr": self.mbr_label,
            "subject": self.subject.code,
            "protocol": self.subject.protocol.number,
            "starting_material": self.starting_material_identity,
            "disposition_reason": self.disposition_reason,
            "steps": [step.signed_content() for step in self.steps],
        }


#: a new step's equipment and lots before any use is recorded: its signatures bind that it used none
NOTHING_USED = json.dumps({"equipment": [], "lots": []})


#: the steps waiting for a second person's verification, and hold points waiting for QA's review, as each engine
#: writes the work queues' conditions: the partial indexes hold those steps alone, a few of all the steps
AWAITING_VERIFICATION = {
    "postgresql": "second_person_verification AND performed_signed AND NOT verified_signed",
    "sqlite": "second_person_verification = 1 AND performed_signed = 1 AND verified_signed = 0",
}
AWAITING_REVIEW = {
    "postgresql": "hold_point AND NOT reviewed_signed",
    "sqlite": "hold_point = 1 AND reviewed_signed = 0",
}
#: a step still to do, neither completed nor skipped: a batch's current step is its first such step
STEP_OPEN = "status NOT IN ('completed', 'skipped')"


class BatchStep(StepDesign, KeepsSignatureState, Controlled, Base):
    """A step of a batch: the master's step frozen when the batch was made, and what was done."""

    __tablename__ = "batch_step"
    audit_parts = ("parameters", "materials")
    audit_system_fields = frozenset(
        {"content_hash", "bound_uses", "performed_signed", "verified_signed", "reviewed_signed"}
    )
    signature_state: ClassVar[Mapping[SignatureMeaning, str]] = {
        SignatureMeaning.PERFORMED: "performed_signed",
        SignatureMeaning.VERIFIED: "verified_signed",
        SignatureMeaning.REVIEWED: "reviewed_signed",
    }
    # A batch's current step (its first neither completed nor skipped) is read from the index alone.
    __table_args__ = (
        UniqueConstraint("batch_id", "position", name="uq_batch_step_position"),
        Index("ix_batch_step_position_status", "batch_id", "position", "status"),
        Index(
            "ix_batch_step_awaiting_verification",
            "completed_at",
            "id",
            postgresql_where=text(AWAITING_VERIFICATION["postgresql"]),
            sqlite_where=text(AWAITING_VERIFICATION["sqlite"]),
        ),
        Index(
            "ix_batch_step_awaiting_review",
            "batch_id",
            "position",
            postgresql_where=text(AWAITING_REVIEW["postgresql"]),
            sqlite_where=text(AWAITING_REVIEW["sqlite"]),
        ),
        Index(
            "ix_batch_step_open", "batch_id", "position", postgresql_where=text(STEP_OPEN), sqlite_where=text(STEP_OPEN)
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    position: Mapped[int]
    status: Mapped[StepStatus] = mapped_column(string_enum(StepStatus, "step_status"))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    performed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actual_yield: Mapped[Measurement | None] = measurement_column("actual_yield", nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    #: whether a signature of each meaning covers the content as it stands (``signature_state``), kept with the
    #: content hash: the work queues count the steps waiting for a signature from these columns alone
    performed_signed: Mapped[bool] = mapped_column(default=False)
    verified_signed: Mapped[bool] = mapped_column(default=False)
    reviewed_signed: Mapped[bool] = mapped_column(default=False)
    #: the equipment used and the lots taken from, as the signatures cover them (JSON: {"equipment": [...],
    #: "lots": [...]}), kept with every use recorded; NULL for steps made before signatures covered them, whose
    #: signed content (and so their signatures) stays as it was
    bound_uses: Mapped[str | None] = mapped_column(Text)

    batch: Mapped[Batch] = relationship(back_populates="steps")
    performed_by: Mapped[User | None] = relationship()
    parameters: Mapped[list[BatchParameter]] = relationship(back_populates="step", order_by="BatchParameter.position")
    materials: Mapped[list[BatchMaterial]] = relationship(back_populates="step", order_by="BatchMaterial.id")

    def part_label(self) -> str:
        return f"step {self.position}. {self.title}"

    def signed_content(self) -> dict[str, Any]:
        """What the performer's and verifier's signatures cover: every current entry, the yield, and (for steps made
        since signatures cover them) the equipment used and the lots taken from."""
        return {
            "batch": self.batch.batch_number,
            "position": self.position,
            "title": self.title,
            "skip_reason": self.skip_reason,
            "actual_yield": str(self.actual_yield) if self.actual_yield is not None else None,
            "entries": [
                f"{parameter.name}: {entry.value}"
                for parameter in self.parameters
                for entry in parameter.entries
                if entry.replaced_by_id is None
            ],
            **({} if self.bound_uses is None else json.loads(self.bound_uses)),
        }


class BatchParameter(ParameterDesign, Controlled, Base):
    __tablename__ = "batch_parameter"
    audit_parts = ("entries",)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("batch_step.id"), index=True)
    position: Mapped[int]

    step: Mapped[BatchStep] = relationship(back_populates="parameters")
    entries: Mapped[list[BatchEntry]] = relationship(back_populates="parameter", order_by="BatchEntry.id")

    def part_label(self) -> str:
        return f"parameter {self.name}"

    @property
    def current_entry(self) -> BatchEntry | None:
        current = [entry for entry in self.entries if entry.replaced_by_id is None]
        return current[-1] if current else None


class BatchMaterial(Controlled, Base):
    """A material a batch step must consume (frozen from the master)."""

    __tablename__ = "batch_material"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("batch_step.id"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    quantity: Mapped[Measurement] = measurement_column("quantity")

    step: Mapped[BatchStep] = relationship(back_populates="materials")
    material: Mapped[Material] = relationship()

    def part_label(self) -> str:
        return f"material {self.material.part_number}"


class BatchEntry(Controlled, Base):
    """A value recorded for a parameter. Never edited: a correction is a new entry replacing it, with a reason."""

    __tablename__ = "batch_entry"
    # Who recorded a step's values (a verifier may not be one of them) is read from the index alone.
    __table_args__ = (Index("ix_batch_entry_parameter_entered_by", "parameter_id", "entered_by_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parameter_id: Mapped[int] = mapped_column(ForeignKey("batch_parameter.id"))
    value: Mapped[Measurement] = measurement_column("value")
    within_limits: Mapped[bool]
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime]
    #: when the operator states the observation was made, if earlier than its recording (a late entry)
    observed_at: Mapped[datetime | None]
    late_reason: Mapped[str | None] = mapped_column(Text)
    correction_reason: Mapped[str | None] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("batch_entry.id"))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("batch_entry.id"))

    parameter: Mapped[BatchParameter] = relationship(back_populates="entries")
    entered_by: Mapped[User] = relationship()

    def part_label(self) -> str:
        return f"the entry {self.value}"


class BatchReleaseTest(Controlled, Base):
    """A release test a batch needs, frozen from the master version with the specification of that day."""

    __tablename__ = "batch_release_test"
    __table_args__ = (UniqueConstraint("batch_id", "definition_id", name="uq_batch_release_test_definition"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("test_definition.id"))
    specification: Mapped[str] = mapped_column(String(200))

    batch: Mapped[Batch] = relationship(back_populates="release_tests")
    definition: Mapped[TestDefinition] = relationship()

    def part_label(self) -> str:
        return f"release test {self.definition}"


# Deviations


class DeviationCategory(enum.StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class DeviationStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Deviation(Controlled, Base):
    __tablename__ = "deviation"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: set when the deviation is raised by hand; an automatically raised one is classified by QA
    category: Mapped[DeviationCategory | None] = mapped_column(string_enum(DeviationCategory, "deviation_category"))
    status: Mapped[DeviationStatus] = mapped_column(string_enum(DeviationStatus, "deviation_status"))
    description: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("batch_step.id"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("batch_entry.id"))
    test_result_id: Mapped[int | None] = mapped_column(ForeignKey("test_result.id"))
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    raised_at: Mapped[datetime]
    investigation: Mapped[str | None] = mapped_column(Text)
    root_cause: Mapped[str | None] = mapped_column(Text)
    other_batches_assessed: Mapped[str | None] = mapped_column(Text)
    conclusion: Mapped[str | None] = mapped_column(Text)
    capa: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]

    batch: Mapped[Batch] = relationship(back_populates="deviations")
    step: Mapped[BatchStep | None] = relationship()
    entry: Mapped[BatchEntry | None] = relationship()
    test_result: Mapped[TestResult | None] = relationship()
    raised_by: Mapped[User] = relationship()

    def part_label(self) -> str:
        return f"deviation {self.number}"

    def signed_content(self) -> dict[str, Any]:
        """What QA's closing signature covers."""
        return {
            "number": self.number,
            "batch": self.batch.batch_number,
            "category": self.category,
            "description": self.description,
            "investigation": self.investigation,
            "root_cause": self.root_cause,
            "other_batches_assessed": self.other_batches_assessed,
            "conclusion": self.conclusion,
            "capa": self.capa,
        }
