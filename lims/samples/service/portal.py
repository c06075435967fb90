"""What a client's portal shows beyond its submissions: each of its protocols' subjects with the samples their
visits call for against those received, and the samples of a subject's visits that fill its calendar (the
protocols area's, through the registry). Every figure is counted in SQL, a fixed number of queries per page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.registry import VisitSample
from lims.samples.models import ARRIVED, Sample, SampleStatus
from protocols.models import Protocol, SampleRequirement, Subject, Visit


@dataclass(frozen=True)
class SubjectSamples:
    subject: Subject
    #: the samples the visits of the subject's protocol version call for
    expected: int
    #: the subject's samples that arrived at the lab
    received: int


def subjects_expected_and_received(session: Session, organization_id: int, *, limit: int = 200) -> list[SubjectSamples]:
    subjects = list(
        session.scalars(
            select(Subject)
            .join(Subject.protocol)
            .options(selectinload(Subject.protocol))
            .where(Protocol.sponsor_id == organization_id)
            .order_by(Protocol.number, Subject.code)
            .limit(limit)
        )
    )
    version_ids = {subject.version_id for subject in subjects}
    expected = dict(
        session.execute(
            select(Visit.version_id, func.count(SampleRequirement.id))
            .join(SampleRequirement, SampleRequirement.visit_id == Visit.id)
            .where(Visit.version_id.in_(version_ids))
            .group_by(Visit.version_id)
        ).all()
    )
    received = dict(
        session.execute(
            select(Sample.subject_id, func.count(Sample.id))
            .where(
                Sample.organization_id == organization_id,
                Sample.subject_id.in_([subject.id for subject in subjects]),
                Sample.status.in_(ARRIVED),
            )
            .group_by(Sample.subject_id)
        ).all()
    )
    return [
        SubjectSamples(subject, expected.get(subject.version_id, 0), received.get(subject.id, 0))
        for subject in subjects
    ]


def visit_samples(session: Session, subject: Subject) -> list[VisitSample]:
    """The samples of the subject's visits that its protocol's sponsor sent or will send (one query); cancelled
    ones are left out."""
    samples = session.scalars(
        select(Sample)
        .join(Protocol, Protocol.id == Sample.protocol_id)
        .where(
            Sample.subject_id == subject.id,
            Sample.visit_id.is_not(None),
            Sample.organization_id == Protocol.sponsor_id,
            Sample.status != SampleStatus.CANCELLED,
        )
        .order_by(Sample.collected_at, Sample.id)
    )
    return [
        VisitSample(
            visit_id=sample.visit_id,
            label=sample.accession_number or sample.client_sample_id,
            status=sample.status.value,
            received=sample.status in ARRIVED,
            collected_on=None
            if sample.collected_at is None
            else sample.collected_at.astimezone(clock.facility_zone()).date(),
            endpoint="samples.sample",
            arguments=(("public_id", sample.public_id),),
        )
        for sample in samples
        if sample.visit_id is not None
    ]
