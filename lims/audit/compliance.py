"""The audit trail's compliance checks: the whole chain verified nightly, and the events not yet anchored outside
the database checked hourly (in place, linked, unaltered, and anchored within the hour)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.audit import anchors, verification
from lims.audit.models import AuditEvent
from lims.registry import ComplianceCheck, Condition

INTEGRITY_PAGE = "/audit/integrity"


def _checkpoint_path(session: Session) -> Path:
    return Path(session.info[anchors.CHECKPOINT_PATH])


def chain_integrity(session: Session, _now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """The whole chain, recomputed against every checkpoint, and every signature against it (audited)."""
    verified = verification.verify_and_record(session, _checkpoint_path(session))
    if not verified.intact:
        yield Condition("audit_event", "chain", "the audit trail", verified.summary(), INTEGRITY_PAGE)


def unanchored_tail(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """The events after the latest checkpoint: each in place, linked and unaltered, and none waiting longer than
    ``minutes`` to be anchored (the checkpoint job runs every few minutes)."""
    path = _checkpoint_path(session)
    broken = anchors.tail_break(session.connection(), path)
    if broken is not None:
        yield Condition("audit_event", "tail", "the audit trail since the latest checkpoint", broken, INTEGRITY_PAGE)
        return
    latest = anchors.latest_checkpoint(path)
    waiting, oldest = session.execute(
        select(func.count(), func.min(AuditEvent.recorded_at)).where(
            AuditEvent.sequence > (latest.sequence if latest else 0)
        )
    ).one()
    if waiting and oldest < now - timedelta(minutes=parameters["minutes"]):
        minutes = int((now - oldest).total_seconds() // 60)
        yield Condition(
            "audit_event",
            "tail",
            "the audit trail since the latest checkpoint",
            f"{waiting} event{'s' if waiting != 1 else ''} not anchored outside the database, the oldest for "
            f"{minutes} minutes: is the checkpoint job running?",
            INTEGRITY_PAGE,
        )


CHECKS = (
    ComplianceCheck(
        "audit.chain-integrity",
        "Audit chain integrity (full verification)",
        "audit",
        "critical",
        "cron 30 2 * * *",
        chain_integrity,
    ),
    ComplianceCheck(
        "audit.unanchored-tail",
        "Audit events not yet anchored: intact and anchored within N minutes",
        "audit",
        "critical",
        "every 1h",
        unanchored_tail,
        {"minutes": 60},
    ),
)
