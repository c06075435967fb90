"""The samples work list: every sample a technician may act on (a client: its own organization's), filtered in SQL
by status, sample type, client, received date and past its stability window, newest first a page at a time.

A page is one statement whatever the number of samples: the filters and the keyset (the sample's id, descending)
each have an index that ends in the id (``ix_sample_*`` in ``lims.samples.models``), and the submission and its
organization come joined in the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from lims import clock
from lims.identity.models import Organization, OrganizationKind
from lims.pagination import KeysetPage, page_after
from lims.samples.models import Sample, SampleStatus, Submission
from lims.samples.service import stability
from lims.samples.service.submissions import scoped


@dataclass(frozen=True)
class SampleFilter:
    status: SampleStatus | None = None
    #: as written on the manifest
    sample_type: str | None = None
    #: a client organization's code (staff choose; a client's own scope applies whatever it names)
    organization: str | None = None
    #: received on or after this facility-local date
    received_from: date | None = None
    #: received on or before this facility-local date
    received_to: date | None = None
    #: only accepted samples not yet processed whose stability deadline has passed
    past_stability_window: bool = False


def _start_of(day: date) -> datetime:
    """The UTC moment the facility's ``day`` begins."""
    return datetime.combine(day, time(), tzinfo=clock.facility_zone()).astimezone(UTC)


def filtered(criteria: SampleFilter, *, organization_id: int | None) -> Select[Any]:
    """The samples matching ``criteria`` in ``organization_id``'s scope (None: staff, every organization)."""
    query = scoped(
        select(Sample).options(joinedload(Sample.submission, innerjoin=True).joinedload(Submission.organization)),
        Sample,
        organization_id,
    )
    if criteria.status is not None:
        query = query.where(Sample.status == criteria.status)
    if criteria.sample_type:
        query = query.where(Sample.sample_type == criteria.sample_type)
    if criteria.organization:
        query = query.where(
            Sample.organization_id
            == select(Organization.id).where(Organization.code == criteria.organization.upper()).scalar_subquery()
        )
    if criteria.received_from is not None:
        query = query.where(Sample.received_at >= _start_of(criteria.received_from))
    if criteria.received_to is not None:
        query = query.where(Sample.received_at < _start_of(criteria.received_to + timedelta(days=1)))
    if criteria.past_stability_window:
        query = query.where(stability.past_window(clock.now()))
    return query


def samples_after(
    session: Session,
    criteria: SampleFilter,
    *,
    organization_id: int | None,
    after: tuple[int] | None,
    limit: int,
) -> KeysetPage[Sample]:
    """A page of the work list, newest first, after the sample id ``after``."""
    return page_after(
        session,
        filtered(criteria, organization_id=organization_id),
        (Sample.id,),
        after=after,
        limit=limit,
        descending=True,
    )


def client_organizations(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the client organizations: the list's choice of client, for staff."""
    return [
        (code, name)
        for code, name in session.execute(
            select(Organization.code, Organization.name)
            .where(Organization.kind == OrganizationKind.CLIENT)
            .order_by(Organization.name)
        )
    ]
