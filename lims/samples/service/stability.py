"""Stability: how long a sample may wait between collection and processing. The lab sets a limit per sample type;
a protocol's visit may set its own for the samples it calls for (``max_hours_to_processing``); the stricter of the
two applies. A sample's deadline is stored at receipt, so lists and the compliance check filter on it in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, joinedload

from lims import clock
from lims.audit import context as audit_context
from lims.errors import DetailMissing
from lims.identity.models import User
from lims.samples.models import Sample, SampleTypeStability
from protocols.models import SampleRequirement


def type_key(sample_type: str) -> str:
    """What a sample type is matched on: "Peripheral Blood " and "peripheral blood" are one type."""
    return " ".join(sample_type.split()).lower()


def limits(session: Session) -> list[SampleTypeStability]:
    """The lab's limits, by sample type."""
    return list(
        session.scalars(
            select(SampleTypeStability)
            .options(joinedload(SampleTypeStability.updated_by))
            .order_by(SampleTypeStability.type_key)
        )
    )


def set_limit(
    session: Session, *, sample_type: str, max_hours: int, user: User, reason: str | None = None
) -> SampleTypeStability:
    """Set the lab's longest time from collection to processing for a sample type; changing one needs a reason."""
    key = type_key(sample_type)
    found = session.scalar(select(SampleTypeStability).where(SampleTypeStability.type_key == key))
    if found is None:
        found = SampleTypeStability(
            sample_type=" ".join(sample_type.split()),
            type_key=key,
            max_hours=max_hours,
            updated_at=clock.now(),
            updated_by_id=user.id,
        )
        session.add(found)
        session.flush()
        return found
    if not (reason or "").strip():
        raise DetailMissing(
            f"{found.sample_type} already has a limit of {found.max_hours} h; give the reason for changing it.",
            field="reason",
        )
    with audit_context.reason_for_change(session, reason.strip() if reason else ""):
        found.max_hours = max_hours
        found.updated_at = clock.now()
        found.updated_by_id = user.id
    return found


def deadlines(session: Session, samples: Iterable[Sample]) -> dict[int, datetime | None]:
    """Each sample's deadline (by id): its collection time plus the stricter of its type's limit and its visit's
    ``max_hours_to_processing`` for its type; None without a collection time or a limit. Two queries at most,
    whatever the number of samples."""
    chosen = list(samples)
    keys = {type_key(sample.sample_type) for sample in chosen}
    by_type: dict[str, int] = {
        key: hours
        for key, hours in session.execute(
            select(SampleTypeStability.type_key, SampleTypeStability.max_hours).where(
                SampleTypeStability.type_key.in_(keys)
            )
        )
    }
    visit_ids = {sample.visit_id for sample in chosen if sample.visit_id is not None}
    by_visit: dict[tuple[int, str], int] = {}
    if visit_ids:
        for visit_id, sample_type, hours in session.execute(
            select(
                SampleRequirement.visit_id, SampleRequirement.sample_type, SampleRequirement.max_hours_to_processing
            ).where(SampleRequirement.visit_id.in_(visit_ids))
        ):
            required = (visit_id, type_key(sample_type))
            by_visit[required] = min(hours, by_visit.get(required, hours))
    found: dict[int, datetime | None] = {}
    for sample in chosen:
        key = type_key(sample.sample_type)
        candidates = [by_type.get(key), None if sample.visit_id is None else by_visit.get((sample.visit_id, key))]
        set_limits = [limit for limit in candidates if limit is not None]
        found[sample.id] = (
            sample.collected_at + timedelta(hours=min(set_limits))
            if sample.collected_at is not None and set_limits
            else None
        )
    return found


def deadline_of(session: Session, sample: Sample) -> datetime | None:
    return deadlines(session, [sample])[sample.id]


def is_past(deadline: datetime | None, moment: datetime) -> bool:
    """Whether ``moment`` is after the deadline (at the deadline itself the sample is still within its window)."""
    return deadline is not None and moment > deadline


def past_window(now: datetime) -> ColumnElement[bool]:
    """In SQL: accepted samples not yet processed (neither tested nor split into aliquots, nor aliquots themselves)
    whose deadline has passed."""
    return Sample.past_stability_window_sql(now)


def count_past_window(session: Session) -> int:
    return session.scalar(select(func.count()).where(past_window(clock.now()))) or 0
