"""Subjects: codes that identify no one, enrolment under the effective version, and their visit calendars."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from lims import clock, identifiers, registry
from lims.audit import context as audit_context
from lims.db import get_record
from lims.errors import AlreadyExists, DateInFuture, DatesOutOfOrder, RecordNotFound
from lims.pagination import PICKER_SIZE, KeysetPage, page_after
from protocols.errors import (
    ArmNotInVersion,
    NoEffectiveVersion,
    SubjectCodeRefused,
    VisitNotYetDated,
)
from protocols.models import (
    Arm,
    Protocol,
    ProtocolVersion,
    ReferenceEvent,
    SampleRequirement,
    Subject,
    Visit,
)
from protocols.service.protocols import effective_version, visible_to

SUBJECT_CODE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")


def check_subject_code(code: str) -> None:
    """Refuse a subject code that could identify the person (chain-of-identity rule).

    A code is upper-case letters and digits in dash-separated parts, with at least
    one digit. A part that reads like a person's data (:func:`lims.identifiers.personal_data_in`:
    a name, a record number, a date of birth) is refused.
    """
    if not SUBJECT_CODE.match(code) or len(code) > 32:
        raise SubjectCodeRefused(
            "Use upper-case letters and digits in parts separated by dashes, e.g. HLX301-014-0007.", field="code"
        )
    if not any(character.isdigit() for character in code):
        raise SubjectCodeRefused("A subject code has at least one digit.", field="code")
    personal = identifiers.personal_data_in(code)
    if personal is not None:
        raise SubjectCodeRefused(f"{personal}; subject codes must not identify the person.", field="code")


def check_dates_in_order(enrolled_on: date, apheresis_on: date | None, infused_on: date | None) -> None:
    """Refuse a subject's dates unless they have happened and in the order a therapy allows:
    enrolment, then apheresis, then infusion (the same day is allowed)."""
    if enrolled_on > clock.today():
        raise DateInFuture("The enrolment date cannot be in the future.", field="enrolled_on")
    for field, value in (("apheresis_on", apheresis_on), ("infused_on", infused_on)):
        if value is not None and value > clock.today():
            raise DateInFuture("A date that has not happened yet cannot be recorded.", field=field)
        if value is not None and value < enrolled_on:
            raise DatesOutOfOrder(
                f"This date is before the subject's enrolment on {enrolled_on.isoformat()}.", field=field
            )
    if apheresis_on is not None and infused_on is not None and infused_on < apheresis_on:
        raise DatesOutOfOrder(
            f"The infusion cannot come before the apheresis on {apheresis_on.isoformat()}.", field="infused_on"
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
    check_dates_in_order(enrolled_on, apheresis_on, infused_on)
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
    enrolled_on: date | None = None,
) -> Subject:
    """Record a subject's apheresis and infusion, or correct their dates, site or consent, for the reason given.

    ``enrolled_on`` None keeps the enrolment date; whatever is given, the dates must stay in order.
    """
    enrolled_on = enrolled_on or subject.enrolled_on
    check_dates_in_order(enrolled_on, apheresis_on, infused_on)
    with audit_context.reason_for_change(session, reason):
        subject.enrolled_on = enrolled_on
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


def find_subjects(
    session: Session, *, text: str = "", after: tuple[Any, ...] | None = None, limit: int = PICKER_SIZE
) -> KeysetPage[Subject]:
    """Subjects whose code or protocol number holds ``text``, by code, from just after the (code, id) ``after``: a
    picker's page, filtered and limited in SQL, each with its protocol."""
    query = select(Subject).join(Subject.protocol).options(contains_eager(Subject.protocol))
    if text:
        query = query.where(
            or_(Subject.code.icontains(text, autoescape=True), Protocol.number.icontains(text, autoescape=True))
        )
    return page_after(session, query, (Subject.code, Subject.id), after=after, limit=limit)


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


def _reference_dates(subject: Subject) -> dict[ReferenceEvent, date | None]:
    return {
        ReferenceEvent.ENROLMENT: subject.enrolled_on,
        ReferenceEvent.APHERESIS: subject.apheresis_on,
        ReferenceEvent.INFUSION: subject.infused_on,
    }


def visit_calendar(subject: Subject) -> list[VisitWindow]:
    """The subject's expected visits under the version they were enrolled under."""
    reference_dates = _reference_dates(subject)
    return [window_of(visit, reference_dates[visit.reference_event]) for visit in subject.version.visits]


@dataclass(frozen=True)
class CalendarVisit:
    """A visit of a subject's calendar: the samples it calls for, and those the lab holds of it, each placed
    against the visit's window ('early', 'in window', 'late'; None while either date is unknown)."""

    window: VisitWindow
    requirements: list[SampleRequirement]
    samples: list[tuple[registry.VisitSample, str | None]]

    @property
    def expected(self) -> int:
        return len(self.requirements)

    @property
    def received(self) -> int:
        return sum(1 for sample, _ in self.samples if sample.received)

    @property
    def outside_window(self) -> int:
        return sum(1 for _, placement in self.samples if placement in ("early", "late"))


def sample_calendar(session: Session, subject: Subject) -> list[CalendarVisit]:
    """The subject's visits with the samples each calls for and those the lab holds, flagging each collected
    outside its visit's window: the same few queries however many visits and samples there are."""
    visits = session.scalars(
        select(Visit)
        .options(selectinload(Visit.requirements))
        .where(Visit.version_id == subject.version_id)
        .order_by(Visit.day_offset, Visit.code)
    )
    held: dict[int, list[registry.VisitSample]] = {}
    for finder in registry.current().visit_sample_finders:
        for sample in finder(session, subject):
            held.setdefault(sample.visit_id, []).append(sample)
    reference_dates = _reference_dates(subject)
    calendar = []
    for visit in visits:
        window = window_of(visit, reference_dates[visit.reference_event])
        placed = [(sample, _placement(window, sample.collected_on)) for sample in held.get(visit.id, [])]
        calendar.append(CalendarVisit(window, list(visit.requirements), placed))
    return calendar


def _placement(window: VisitWindow, collected_on: date | None) -> str | None:
    if collected_on is None or window.earliest is None:
        return None
    return window.placement(collected_on)
