"""What a client's portal shows beyond its submissions: each of its protocols' subjects with the samples their
visits call for against those received. Every figure is counted in SQL, a fixed number of queries per page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lims.samples.models import ARRIVED, Sample
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
