"""The samples' compliance check: accepted samples still waiting for processing after their stability deadline.
One set-based query (the status and deadline index), whatever the number of samples."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.identity.models import Organization
from lims.registry import ComplianceCheck, Condition
from lims.samples.models import Sample
from lims.samples.service import stability


def _hours(seconds: float) -> str:
    hours = int(seconds // 3600)
    if hours < 1:
        return "less than an hour"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def past_stability_window(session: Session, now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Samples accepted at receipt, not yet processed (neither tested nor split into aliquots, nor an aliquot
    themselves), whose deadline from collection to processing has passed."""
    rows = session.execute(
        select(
            Sample.id,
            Sample.public_id,
            Sample.accession_number,
            Sample.client_sample_id,
            Sample.sample_type,
            Sample.stability_deadline,
            Organization.name,
        )
        .join(Organization, Organization.id == Sample.organization_id)
        .where(stability.past_window(now))
        .order_by(Sample.stability_deadline, Sample.id)
    )
    zone = clock.facility_zone()
    for row in rows:
        deadline = row.stability_deadline
        yield Condition(
            "sample",
            str(row.id),
            f"{row.accession_number} ({row.client_sample_id}, {row.name})",
            f"{row.sample_type} not processed {_hours((now - deadline).total_seconds())} after its stability deadline "
            f"({deadline.astimezone(zone).strftime('%Y-%m-%d %H:%M')})",
            f"/samples/{row.public_id}",
        )


CHECKS = (
    ComplianceCheck(
        "samples.past-stability-window",
        "Samples past their stability window, not yet processed",
        "samples",
        "major",
        "every 15m",
        past_stability_window,
    ),
)
