"""The protocols' compliance check: protocol versions waiting too long in review. One query."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from lims.registry import ComplianceCheck, Condition
from lims.versioning.service import sent_to_review
from protocols.models import Protocol, ProtocolVersion, VersionStatus


def versions_in_review_too_long(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Protocol versions in review longer than ``days`` since their author sent them."""
    sent = sent_to_review(ProtocolVersion)
    rows = session.execute(
        select(ProtocolVersion.id, ProtocolVersion.number, Protocol.number.label("protocol"), sent.c.since)
        .join(Protocol, Protocol.id == ProtocolVersion.protocol_id)
        .join(sent, sent.c.entity_id == cast(ProtocolVersion.id, String))
        .where(
            ProtocolVersion.status == VersionStatus.IN_REVIEW,
            sent.c.since < now - timedelta(days=parameters["days"]),
        )
    )
    for row in rows:
        days = (now - row.since).days
        yield Condition(
            "protocol_version",
            str(row.id),
            f"protocol {row.protocol} version {row.number}",
            f"in review for {days} day{'s' if days != 1 else ''} (sent {row.since.date().isoformat()})",
            f"/protocols/versions/{row.id}",
        )


CHECKS = (
    ComplianceCheck(
        "protocols.version-review-overdue",
        "Protocol versions in review beyond N days",
        "protocols",
        "minor",
        "every 1h",
        versions_in_review_too_long,
        {"days": 14},
    ),
)
