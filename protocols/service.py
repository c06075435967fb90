"""The rules of protocols: phases, the version lifecycle, design edits, diffs, subjects and visit windows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from lims import clock, registry
from lims.audit import context as audit_context
from lims.db import get_record
from lims.errors import AlreadyExists, DateInFuture, DatesOutOfOrder, DetailMissing, OutOfRange, RecordNotFound
from lims.identity.errors import ClientOrganizationRequired
from lims.identity.models import Organization
from lims.pagination import KeysetPage, page_after
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement, MeasurementRange
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from protocols.ctgov.study import ImportedStudy
from protocols.errors import (
    ArmNotInVersion,
    EarlierPhase,
    NoEffectiveVersion,
    NotAnNctId,
    SubjectCodeRefused,
    UnknownPhase,
    VersionIncomplete,
    VisitNotYetDated,
)
from protocols.models import (
    Arm,
    Protocol,
    ProtocolPhase,
    ProtocolStatus,
    ProtocolVersion,
    ReferenceEvent,
    SampleRequirement,
    Subject,
    VersionStatus,
    Visit,
)

NCT_ID = re.compile(r"^NCT\d{8}$")
#: Phases a protocol may claim that the lab does not serve, as people write them.
EARLIER_PHASES = re.compile(r"^\s*(early\s*)?phase\s*(0|1|i|2|ii)(\s*/\s*(phase\s*)?(1|i|2|ii))?\s*$", re.IGNORECASE)


def parse_phase(text: str) -> ProtocolPhase:
    """Read a phase as typed; an earlier phase is refused with the reason."""
    cleaned = (
        re.sub(r"\s+", " ", text.strip().lower())
        .replace("phase ii/iii", "phase 2/3")
        .replace("phase 2/phase 3", "phase 2/3")
        .replace("phase iii", "phase 3")
        .replace("phase iv", "phase 4")
    )
    for phase in ProtocolPhase:
        if cleaned == phase.value:
            return phase
    if EARLIER_PHASES.match(text):
        raise EarlierPhase(text)
    raise UnknownPhase(f"Unknown phase {text!r}; choose phase 2/3, phase 3, phase 4 or post-marketing.", field="phase")


# Protocols


def visible_to(query: Select[Any], sponsor_id: int | None) -> Select[Any]:
    """Keep the rows of ``query`` (which reads Protocol) that a client organization may see: its own protocols'.

    The one rule of tenancy, for protocols and whatever hangs off them (subjects, batches); ``None`` is
    staff, who see every row. A client never learns that another's record exists.
    """
    return query if sponsor_id is None else query.where(Protocol.sponsor_id == sponsor_id)


def get_protocol(session: Session, protocol_id: int, *, sponsor_id: int | None = None) -> Protocol:
    """A protocol by id; with ``sponsor_id``, one of that organization's, as if no other existed."""
    if sponsor_id is None:
        return get_record(session, Protocol, protocol_id, "protocol")
    protocol = session.scalar(visible_to(select(Protocol).where(Protocol.id == protocol_id), sponsor_id))
    if protocol is None:
        raise RecordNotFound(f"There is no protocol with id {protocol_id}.")
    return protocol


def get_version(session: Session, version_id: int) -> ProtocolVersion:
    return get_record(session, ProtocolVersion, version_id, "protocol version")


def list_protocols(session: Session, *, sponsor_id: int | None = None) -> list[Protocol]:
    """Every protocol, or with ``sponsor_id`` one organization's, in number order."""
    return list(session.scalars(visible_to(select(Protocol), sponsor_id).order_by(Protocol.number)))


def protocols_after(
    session: Session, *, sponsor_id: int | None, after: tuple[str] | None, limit: int
) -> KeysetPage[Protocol]:
    """Protocols in number order after the number ``after``, or with ``sponsor_id`` one organization's."""
    query = visible_to(select(Protocol), sponsor_id).options(
        selectinload(Protocol.sponsor), selectinload(Protocol.versions)
    )
    return page_after(session, query, (Protocol.number,), after=after, limit=limit)


def create_protocol(
    session: Session,
    *,
    number: str,
    title: str,
    sponsor: Organization,
    phase: ProtocolPhase,
    therapeutic_area: str,
    investigational_product: str,
    nct_id: str | None = None,
    conditions: str | None = None,
    target_enrolment: int | None = None,
) -> Protocol:
    """Register a protocol with its first, draft version 1.0."""
    if sponsor.is_facility:
        raise ClientOrganizationRequired("The sponsor must be a client organization.", field="sponsor_id")
    if nct_id is not None and not NCT_ID.match(nct_id):
        raise NotAnNctId(f"{nct_id!r} is not an NCT number: write NCT and 8 digits, e.g. NCT02552212.", field="nct_id")
    if session.scalar(select(Protocol.id).where(Protocol.number == number)) is not None:
        raise AlreadyExists(f"The protocol number {number} is already registered.", field="number")
    if nct_id is not None and session.scalar(select(Protocol.id).where(Protocol.nct_id == nct_id)) is not None:
        raise AlreadyExists(f"{nct_id} is already registered under another protocol.", field="nct_id")
    protocol = Protocol(
        number=number,
        title=title,
        sponsor=sponsor,
        phase=phase,
        therapeutic_area=therapeutic_area,
        investigational_product=investigational_product,
        nct_id=nct_id,
        conditions=conditions,
        target_enrolment=target_enrolment,
        status=ProtocolStatus.PLANNING,
        created_at=clock.now(),
    )
    session.add(protocol)
    session.add(
        ProtocolVersion(
            protocol=protocol,
            number="1.0",
            amendment_summary="Original protocol",
            status=VersionStatus.DRAFT,
            created_at=clock.now(),
        )
    )
    session.flush()
    return protocol


def update_protocol(
    session: Session,
    protocol: Protocol,
    *,
    title: str,
    therapeutic_area: str,
    investigational_product: str,
    status: ProtocolStatus,
    conditions: str | None,
    target_enrolment: int | None,
    reason: str,
) -> Protocol:
    """Change a protocol's details or status, for the reason given."""
    if target_enrolment is not None and target_enrolment <= 0:
        raise OutOfRange("The target enrolment must be a positive number.", field="target_enrolment")
    with audit_context.reason_for_change(session, reason):
        protocol.title = title
        protocol.therapeutic_area = therapeutic_area
        protocol.investigational_product = investigational_product
        protocol.status = status
        protocol.conditions = conditions
        protocol.target_enrolment = target_enrolment
    return protocol


def effective_version(protocol: Protocol) -> ProtocolVersion | None:
    return versioning.effective_version(protocol.versions)


def import_study(
    session: Session,
    study: ImportedStudy,
    *,
    sponsor: Organization,
    number: str | None = None,
    therapeutic_area: str | None = None,
    investigational_product: str | None = None,
) -> Protocol:
    """Create a draft protocol from a ClinicalTrials.gov record: its identity, arms and their interventions."""
    product = investigational_product or ", ".join(intervention.name for intervention in study.interventions)
    protocol = create_protocol(
        session,
        number=number or study.acronym or study.nct_id,
        title=study.official_title or study.brief_title,
        sponsor=sponsor,
        phase=study.phase,
        therapeutic_area=therapeutic_area or "; ".join(study.conditions[:3]),
        investigational_product=product[:200] or "not stated in the record",
        nct_id=study.nct_id,
        conditions="; ".join(study.conditions) or None,
        target_enrolment=study.enrollment,
    )
    version = protocol.versions[0]
    with audit_context.reason_for_change(session, f"Imported from {study.source_format} {study.nct_id}"):
        version.amendment_summary = f"Original protocol, imported from {study.source_format} {study.nct_id}"
    for index, arm in enumerate(study.arms):
        interventions = f"Interventions: {', '.join(arm.intervention_names)}." if arm.intervention_names else ""
        description = " ".join(part for part in (arm.description, interventions) if part) or None
        add_arm(
            session,
            version,
            code=_arm_code(index),
            name=arm.label[:200],
            arm_type=(arm.arm_type or "").replace("_", " ").lower()[:64] or None,
            description=description,
        )
    return protocol


def _arm_code(index: int) -> str:
    """A, B, … Z, AA, AB, …"""
    code = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        code = chr(ord("A") + remainder) + code
    return code


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

SUBJECT_CODE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")


def check_subject_code(code: str) -> None:
    """Refuse a subject code that could identify the person (chain-of-identity rule).

    A code is upper-case letters and digits in dash-separated parts, with at least
    one digit. A part of four or more letters reads like a name, a part of seven or
    more digits like a medical record number or a date of birth: both are refused.
    """
    if not SUBJECT_CODE.match(code) or len(code) > 32:
        raise SubjectCodeRefused(
            "Use upper-case letters and digits in parts separated by dashes, e.g. HLX301-014-0007.", field="code"
        )
    if not any(character.isdigit() for character in code):
        raise SubjectCodeRefused("A subject code has at least one digit.", field="code")
    for part in code.split("-"):
        if part.isalpha() and len(part) >= 4:
            raise SubjectCodeRefused(
                f"{part!r} looks like a name; subject codes must not identify the person.", field="code"
            )
        if part.isdigit() and len(part) >= 7:
            raise SubjectCodeRefused(
                f"{part!r} looks like a medical record number or a date of birth; "
                "subject codes must not identify the person.",
                field="code",
            )


def enrolling_version(protocol: Protocol) -> ProtocolVersion:
    """The effective version, which subjects enrol under."""
    version = effective_version(protocol)
    if version is None:
        raise NoEffectiveVersion(f"{protocol.number} has no effective version to enrol under.")
    return version


def enrol_subject(
    session: Session,
    protocol: Protocol,
    *,
    code: str,
    site: str,
    arm: Arm,
    enrolled_on: date,
    consent_version: str,
    apheresis_on: date | None = None,
    infused_on: date | None = None,
) -> Subject:
    """Enrol a subject under the protocol's effective version."""
    check_subject_code(code)
    version = enrolling_version(protocol)
    if arm.version_id != version.id:
        raise ArmNotInVersion(
            f"Arm {arm.code} is not an arm of the effective version {version.number}.", field="arm_id"
        )
    if enrolled_on > clock.now().date():
        raise DateInFuture("The enrolment date cannot be in the future.", field="enrolled_on")
    if session.scalar(select(Subject.id).where(Subject.protocol_id == protocol.id, Subject.code == code)) is not None:
        raise AlreadyExists(f"{code} is already enrolled in {protocol.number}.", field="code")
    subject = Subject(
        protocol=protocol,
        version=version,
        code=code,
        site=site,
        arm=arm,
        enrolled_on=enrolled_on,
        consent_version=consent_version,
        apheresis_on=apheresis_on,
        infused_on=infused_on,
    )
    session.add(subject)
    session.flush()
    return subject


def update_subject(
    session: Session,
    subject: Subject,
    *,
    site: str,
    consent_version: str,
    apheresis_on: date | None,
    infused_on: date | None,
    reason: str,
) -> Subject:
    """Record a subject's apheresis and infusion, or correct their site or consent, for the reason given."""
    today = clock.now().date()
    for field, value in (("apheresis_on", apheresis_on), ("infused_on", infused_on)):
        if value is not None and value > today:
            raise DateInFuture("A date that has not happened yet cannot be recorded.", field=field)
        if value is not None and value < subject.enrolled_on:
            raise DatesOutOfOrder("This date is before the subject's enrolment.", field=field)
    if apheresis_on is not None and infused_on is not None and infused_on < apheresis_on:
        raise DatesOutOfOrder("The infusion cannot come before the apheresis.", field="infused_on")
    with audit_context.reason_for_change(session, reason):
        subject.site = site
        subject.consent_version = consent_version
        subject.apheresis_on = apheresis_on
        subject.infused_on = infused_on
    return subject


def get_subject(session: Session, subject_id: int, *, sponsor_id: int | None = None) -> Subject:
    """A subject by id; with ``sponsor_id``, one of that organization's protocols, as if no other existed."""
    if sponsor_id is None:
        return get_record(session, Subject, subject_id, "subject")
    subject = session.scalar(
        visible_to(select(Subject).join(Subject.protocol).where(Subject.id == subject_id), sponsor_id)
    )
    if subject is None:
        raise RecordNotFound(f"There is no subject with id {subject_id}.")
    return subject


def subjects_of(session: Session, protocol: Protocol) -> list[Subject]:
    return list(session.scalars(select(Subject).where(Subject.protocol_id == protocol.id).order_by(Subject.code)))


@dataclass(frozen=True)
class VisitWindow:
    visit: Visit
    #: None while the visit's reference event has not happened
    target: date | None
    earliest: date | None
    latest: date | None

    def placement(self, on: date) -> str:
        """'early', 'in window' or 'late' for a sample or visit on ``on``."""
        if self.earliest is None or self.latest is None:
            raise VisitNotYetDated(f"{self.visit.name} has no date yet: its reference event has not happened.")
        return "early" if on < self.earliest else "late" if on > self.latest else "in window"


def window_of(visit: Visit, reference_date: date | None) -> VisitWindow:
    """The target date and window of ``visit`` for a subject whose reference event fell on ``reference_date``."""
    if reference_date is None:
        return VisitWindow(visit, None, None, None)
    target = reference_date + timedelta(days=visit.day_offset)
    return VisitWindow(
        visit,
        target,
        target - timedelta(days=visit.window_before_days),
        target + timedelta(days=visit.window_after_days),
    )


@dataclass(frozen=True)
class SubjectRecord:
    """A record another area made from a subject's material (a batch, a sample): the chain of identity onward."""

    kind: str
    label: str
    status: str
    endpoint: str
    arguments: tuple[tuple[str, int], ...]


def records_of_subject(session: Session, subject: Subject) -> list[SubjectRecord]:
    """Everything made from the subject's material, for the subject's page and API."""
    return [record for finder in registry.current().subject_record_finders for record in finder(session, subject)]


def visit_calendar(subject: Subject) -> list[VisitWindow]:
    """The subject's expected visits under the version they were enrolled under."""
    reference_dates = {
        ReferenceEvent.ENROLMENT: subject.enrolled_on,
        ReferenceEvent.APHERESIS: subject.apheresis_on,
        ReferenceEvent.INFUSION: subject.infused_on,
    }
    return [window_of(visit, reference_dates[visit.reference_event]) for visit in subject.version.visits]
