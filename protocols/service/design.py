"""A protocol version's design (arms, visits, the samples each visit requires), amendments and their diffs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.errors import AlreadyExists, DetailMissing, OutOfRange
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement, MeasurementRange
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from protocols.errors import (
    VersionIncomplete,
)
from protocols.models import (
    Arm,
    Protocol,
    ProtocolVersion,
    ReferenceEvent,
    SampleRequirement,
    VersionStatus,
    Visit,
)
from protocols.service.texts import refuse_control_characters

# Design of a draft version


def add_arm(
    session: Session,
    version: ProtocolVersion,
    *,
    code: str,
    name: str,
    arm_type: str | None = None,
    description: str | None = None,
) -> Arm:
    versioning.require_draft(version)
    refuse_control_characters(code=code, name=name, arm_type=arm_type, description=description)
    if any(arm.code == code for arm in version.arms):
        raise AlreadyExists(f"Version {version.number} already has an arm {code}.", field="code")
    arm = Arm(version=version, code=code, name=name, arm_type=arm_type, description=description)
    session.add(arm)
    session.flush()
    return arm


def add_visit(
    session: Session,
    version: ProtocolVersion,
    *,
    code: str,
    name: str,
    reference_event: ReferenceEvent,
    day_offset: int,
    window_before_days: int = 0,
    window_after_days: int = 0,
    procedures: str | None = None,
) -> Visit:
    versioning.require_draft(version)
    refuse_control_characters(code=code, name=name, procedures=procedures)
    _check_window(window_before_days, window_after_days)
    if any(visit.code == code for visit in version.visits):
        raise AlreadyExists(f"Version {version.number} already has a visit {code}.", field="code")
    visit = Visit(
        version=version,
        code=code,
        name=name,
        reference_event=reference_event,
        day_offset=day_offset,
        window_before_days=window_before_days,
        window_after_days=window_after_days,
        procedures=procedures,
    )
    session.add(visit)
    session.flush()
    return visit


def _check_window(before_days: int, after_days: int) -> None:
    if before_days < 0 or after_days < 0:
        raise OutOfRange("A visit window counts days before and after; neither can be negative.", field="window")


def update_visit(
    session: Session,
    visit: Visit,
    *,
    name: str,
    reference_event: ReferenceEvent,
    day_offset: int,
    window_before_days: int,
    window_after_days: int,
    procedures: str | None,
    reason: str,
) -> Visit:
    """Change a visit of a draft version, for the reason given."""
    versioning.require_draft(visit.version)
    refuse_control_characters(name=name, procedures=procedures, reason=reason)
    _check_window(window_before_days, window_after_days)
    with audit_context.reason_for_change(session, reason):
        visit.name = name
        visit.reference_event = reference_event
        visit.day_offset = day_offset
        visit.window_before_days = window_before_days
        visit.window_after_days = window_after_days
        visit.procedures = procedures
    return visit


def update_arm(
    session: Session, arm: Arm, *, name: str, arm_type: str | None, description: str | None, reason: str
) -> Arm:
    """Change an arm of a draft version, for the reason given."""
    versioning.require_draft(arm.version)
    refuse_control_characters(name=name, arm_type=arm_type, description=description, reason=reason)
    with audit_context.reason_for_change(session, reason):
        arm.name = name
        arm.arm_type = arm_type
        arm.description = description
    return arm


_ONE_MILLILITRE = parse_measurement("1 mL")
_ZERO_CELSIUS = parse_measurement("0 °C")


def _check_sample(volume: Measurement, handling: MeasurementRange, max_hours_to_processing: int) -> None:
    try:
        volume.compare(_ONE_MILLILITRE)
    except IncompatibleUnits as error:
        raise IncompatibleUnits(f"The volume must be a volume, e.g. 10 mL: {volume} is not.", field="volume") from error
    try:
        handling.low.compare(_ZERO_CELSIUS)
    except IncompatibleUnits as error:
        raise IncompatibleUnits(
            f"The handling range must be temperatures, e.g. 2–8 °C: {handling} is not.", field="handling"
        ) from error
    if max_hours_to_processing <= 0:
        raise OutOfRange("The time to processing must be at least one hour.", field="max_hours_to_processing")


def add_sample_requirement(
    session: Session,
    visit: Visit,
    *,
    sample_type: str,
    volume: Measurement,
    container: str,
    handling: MeasurementRange,
    max_hours_to_processing: int,
) -> SampleRequirement:
    """Require a sample at a visit: its volume, container, handling temperatures and time to processing."""
    versioning.require_draft(visit.version)
    refuse_control_characters(sample_type=sample_type, container=container)
    _check_sample(volume, handling, max_hours_to_processing)
    requirement = SampleRequirement(
        visit=visit,
        sample_type=sample_type,
        volume=volume,
        container=container,
        handling_minimum=handling.low,
        handling_maximum=handling.high,
        max_hours_to_processing=max_hours_to_processing,
    )
    session.add(requirement)
    session.flush()
    return requirement


def update_sample_requirement(
    session: Session,
    requirement: SampleRequirement,
    *,
    sample_type: str,
    volume: Measurement,
    container: str,
    handling: MeasurementRange,
    max_hours_to_processing: int,
    reason: str,
) -> SampleRequirement:
    """Change a required sample of a draft version, for the reason given."""
    versioning.require_draft(requirement.visit.version)
    refuse_control_characters(sample_type=sample_type, container=container, reason=reason)
    _check_sample(volume, handling, max_hours_to_processing)
    with audit_context.reason_for_change(session, reason):
        requirement.sample_type = sample_type
        requirement.volume = volume
        requirement.container = container
        requirement.handling_minimum = handling.low
        requirement.handling_maximum = handling.high
        requirement.max_hours_to_processing = max_hours_to_processing
    return requirement


def new_version(
    session: Session,
    protocol: Protocol,
    *,
    number: str,
    amendment_summary: str,
    planned_effective_on: date | None = None,
) -> ProtocolVersion:
    """Start an amendment: a draft copy of the newest version's design."""
    refuse_control_characters(number=number, amendment_summary=amendment_summary)
    if any(version.number == number for version in protocol.versions):
        raise AlreadyExists(f"{protocol.number} already has a version {number}.", field="number")
    source = versioning.version_to_amend(protocol.versions, document=protocol.number)
    if not amendment_summary.strip():
        raise DetailMissing("Summarise what the amendment changes.", field="amendment_summary")
    version = ProtocolVersion(
        protocol=protocol,
        number=number,
        amendment_summary=amendment_summary.strip(),
        planned_effective_on=planned_effective_on,
        status=VersionStatus.DRAFT,
        created_at=clock.now(),
    )
    session.add(version)
    for arm in source.arms:
        session.add(
            Arm(version=version, code=arm.code, name=arm.name, arm_type=arm.arm_type, description=arm.description)
        )
    for visit in source.visits:
        copy = Visit(
            version=version,
            code=visit.code,
            name=visit.name,
            reference_event=visit.reference_event,
            day_offset=visit.day_offset,
            window_before_days=visit.window_before_days,
            window_after_days=visit.window_after_days,
            procedures=visit.procedures,
        )
        session.add(copy)
        for requirement in visit.requirements:
            session.add(
                SampleRequirement(
                    visit=copy,
                    sample_type=requirement.sample_type,
                    volume=requirement.volume,
                    container=requirement.container,
                    handling_minimum=requirement.handling_minimum,
                    handling_maximum=requirement.handling_maximum,
                    max_hours_to_processing=requirement.max_hours_to_processing,
                )
            )
    session.flush()
    return version


# Lifecycle: authored (signature) → in review; approved (QA signature, another person) → approved → effective


def check_ready_for_review(version: ProtocolVersion) -> None:
    versioning.require_draft(version)
    if not version.arms or not version.visits:
        raise VersionIncomplete("A version goes to review with at least one arm and one visit.")


# Comparing versions


@dataclass(frozen=True)
class Difference:
    section: str
    key: str
    old: str | None
    new: str | None

    @property
    def change(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"


def diff_versions(old: ProtocolVersion, new: ProtocolVersion) -> list[Difference]:
    """What differs between two versions' arms, visits and sample requirements, for reviewers."""
    differences: list[Difference] = []
    sections = (
        (
            "arm",
            {
                arm.code: f"{arm.name} ({arm.arm_type or 'unspecified'}) {arm.description or ''}".strip()
                for arm in old.arms
            },
            {
                arm.code: f"{arm.name} ({arm.arm_type or 'unspecified'}) {arm.description or ''}".strip()
                for arm in new.arms
            },
        ),
        (
            "visit",
            {visit.code: _visit_schedule(visit) for visit in old.visits},
            {visit.code: _visit_schedule(visit) for visit in new.visits},
        ),
        (
            "samples",
            {visit.code: _visit_samples(visit) for visit in old.visits},
            {visit.code: _visit_samples(visit) for visit in new.visits},
        ),
    )
    for section, before, after in sections:
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) != after.get(key):
                differences.append(Difference(section, key, before.get(key), after.get(key)))
    return differences


def _visit_schedule(visit: Visit) -> str:
    return (
        f"{visit.name}, day {visit.day_offset} from {visit.reference_event.value}, "
        f"window -{visit.window_before_days}/+{visit.window_after_days}"
        + (f"; procedures: {visit.procedures}" if visit.procedures else "")
    )


def _visit_samples(visit: Visit) -> str:
    return "; ".join(str(requirement) for requirement in visit.requirements) or "none"


# Subjects and their visit calendar
