"""Protocols: phases, who sees which, creating and editing a protocol, importing a ClinicalTrials.gov record."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.audit import context as audit_context
from lims.db import get_record
from lims.errors import AlreadyExists, OutOfRange, RecordNotFound
from lims.identity.errors import ClientOrganizationRequired
from lims.identity.models import Organization
from lims.pagination import KeysetPage, Page, page_after, paginate
from lims.versioning import service as versioning
from protocols.ctgov.study import ImportedArm, ImportedStudy
from protocols.errors import (
    EarlierPhase,
    NotAnNctId,
    UnknownPhase,
)
from protocols.models import (
    Arm,
    Protocol,
    ProtocolIntervention,
    ProtocolPhase,
    ProtocolStatus,
    ProtocolVersion,
    VersionStatus,
    Visit,
)
from protocols.service.design import add_arm
from protocols.service.texts import refuse_control_characters, refuse_longer_than_column

NCT_ID = re.compile(r"^NCT\d{8}$")
#: Protocols a page of the list shows.
PROTOCOLS_PER_PAGE = 50
#: A protocol number as the new-protocol form takes it.
PROTOCOL_NUMBER = re.compile(r"^[A-Za-z0-9._/-]{2,64}$")
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


def get_version_for_page(session: Session, version_id: int) -> ProtocolVersion:
    """A version with its design (arms, visits and their samples) and protocol, in a fixed number of statements."""
    version = session.scalar(
        select(ProtocolVersion)
        .where(ProtocolVersion.id == version_id)
        .options(
            selectinload(ProtocolVersion.protocol),
            selectinload(ProtocolVersion.arms),
            selectinload(ProtocolVersion.visits).selectinload(Visit.requirements),
        )
    )
    if version is None:
        raise RecordNotFound(f"There is no protocol version with id {version_id}.")
    return version


def list_protocols(session: Session, *, sponsor_id: int | None = None) -> list[Protocol]:
    """Every protocol, or with ``sponsor_id`` one organization's, in number order."""
    return list(session.scalars(visible_to(select(Protocol), sponsor_id).order_by(Protocol.number)))


def protocols_page(session: Session, *, page: int, per_page: int = PROTOCOLS_PER_PAGE) -> Page[Protocol]:
    """A page of every protocol in number order, with its sponsor and versions loaded in a statement each."""
    query = select(Protocol).options(selectinload(Protocol.sponsor), selectinload(Protocol.versions))
    return paginate(session, query.order_by(Protocol.number), page=page, per_page=per_page)


#: protocol versions waiting for approval listed a page at a time above the protocol list
VERSIONS_IN_REVIEW_PER_PAGE = 10


def versions_in_review(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int = VERSIONS_IN_REVIEW_PER_PAGE
) -> KeysetPage[ProtocolVersion]:
    """Protocol versions waiting for QA's approval, oldest first, each with its protocol, a page after the
    (created at, id) ``after``."""
    query = (
        select(ProtocolVersion)
        .where(ProtocolVersion.status == VersionStatus.IN_REVIEW)
        .options(selectinload(ProtocolVersion.protocol))
    )
    return page_after(session, query, (ProtocolVersion.created_at, ProtocolVersion.id), after=after, limit=limit)


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
    registry_record: ImportedStudy | None = None,
) -> Protocol:
    """Register a protocol with its first, draft version 1.0; with ``registry_record``, what that record states."""
    refuse_control_characters(
        number=number,
        title=title,
        therapeutic_area=therapeutic_area,
        investigational_product=investigational_product,
        conditions=conditions,
    )
    refuse_longer_than_column(number, Protocol.number, "The protocol number", field="number")
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
    if registry_record is not None:
        _keep_registry_record(protocol, registry_record)
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
    refuse_control_characters(
        title=title,
        therapeutic_area=therapeutic_area,
        investigational_product=investigational_product,
        conditions=conditions,
        reason=reason,
    )
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
    """Create a draft protocol from a ClinicalTrials.gov record: its identity, arms and their interventions.

    Every text is kept whole: one longer than the field it goes into is refused with the reason, never cut.
    """
    arms = [_imported_arm(index, arm) for index, arm in enumerate(study.arms)]
    protocol = create_protocol(
        session,
        number=number or _number_from(study),
        title=study.official_title or study.brief_title,
        sponsor=sponsor,
        phase=study.phase,
        therapeutic_area=therapeutic_area or "; ".join(study.conditions[:3]) or "not stated in the record",
        investigational_product=investigational_product
        or ", ".join(intervention.name for intervention in study.interventions)
        or "not stated in the record",
        nct_id=study.nct_id,
        conditions="; ".join(study.conditions) or None,
        target_enrolment=study.enrollment,
        registry_record=study,
    )
    version = protocol.versions[0]
    with audit_context.reason_for_change(session, f"Imported from {study.source_format} {study.nct_id}"):
        version.amendment_summary = f"Original protocol, imported from {study.source_format} {study.nct_id}"
    for arm in arms:
        add_arm(session, version, code=arm.code, name=arm.name, arm_type=arm.arm_type, description=arm.description)
    return protocol


def _number_from(study: ImportedStudy) -> str:
    """The study's acronym where it can be a protocol number (the acronym is kept either way), else its NCT id."""
    return study.acronym if study.acronym and PROTOCOL_NUMBER.match(study.acronym) else study.nct_id


def _imported_arm(index: int, arm: ImportedArm) -> Arm:
    """The arm a record's arm group becomes (not yet added), refused if its label or type does not fit."""
    interventions = f"Interventions: {', '.join(arm.intervention_names)}." if arm.intervention_names else ""
    arm_type = (arm.arm_type or "").replace("_", " ").lower() or None
    return Arm(
        code=_arm_code(index),
        name=refuse_longer_than_column(arm.label, Arm.name, f"The record's arm label “{arm.label}”", field="file"),
        arm_type=arm_type
        and refuse_longer_than_column(arm_type, Arm.arm_type, f"The record's arm type “{arm_type}”", field="file"),
        description=" ".join(part for part in (arm.description, interventions) if part) or None,
    )


def _keep_registry_record(protocol: Protocol, study: ImportedStudy) -> None:
    protocol.registry_brief_title = study.brief_title
    protocol.registry_acronym = study.acronym
    protocol.registry_lead_sponsor = study.sponsor
    protocol.registry_collaborators = "\n".join(study.collaborators) or None
    protocol.registry_overall_status = study.overall_status
    protocol.registry_enrolment_type = study.enrollment_type
    protocol.interventions = [
        ProtocolIntervention(kind=intervention.kind, name=intervention.name, description=intervention.description)
        for intervention in study.interventions
    ]


def _arm_code(index: int) -> str:
    """A, B, … Z, AA, AB, …"""
    code = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        code = chr(ord("A") + remainder) + code
    return code
