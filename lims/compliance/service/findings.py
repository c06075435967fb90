"""The findings engine: one finding per check and record, kept in step with what each run of the check finds.

A condition that is new opens a finding; one already open is updated (its detail, its severity when it escalates);
one that is gone resolves its finding; one that comes back after it had cleared, or after QA closed the finding,
reopens it. A run reads the check's findings once and writes them in a few set-based statements, however many
there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from lims.audit import chain as audit_chain
from lims.compliance.models import UNSETTLED, CheckRun, Finding, FindingStatus, RunOutcome, Severity
from lims.db import get_record
from lims.errors import AlreadySettled
from lims.identity.models import User
from lims.registry import ComplianceCheck, Condition

_LABEL_LENGTH = 300
_LINK_LENGTH = 300


@dataclass
class RunChanges:
    """What one run changed: the findings it opened, reopened and escalated (by id), how many it resolved, and how
    many of the check's findings still need someone after it."""

    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    escalated: list[tuple[int, Severity]] = field(default_factory=list)
    resolved: int = 0
    unsettled: int = 0


#: the audit actions of QA's handling of a finding
ACKNOWLEDGED = "compliance.finding_acknowledged"
CLOSED = "compliance.finding_closed"


def _severity_of(check: ComplianceCheck, condition: Condition) -> Severity:
    return Severity(condition.severity or check.severity)


def _fields_of(check: ComplianceCheck, condition: Condition) -> dict[str, Any]:
    severity = _severity_of(check, condition)
    return {
        "record_label": condition.record_label[:_LABEL_LENGTH],
        "detail": condition.detail,
        "link": condition.link[:_LINK_LENGTH] if condition.link else None,
        "severity": severity,
        "severity_rank": severity.rank,
    }


def keep_findings(
    session: Session, check: ComplianceCheck, conditions: Iterable[Condition], *, now: datetime
) -> RunChanges:
    """Bring ``check``'s findings in step with the ``conditions`` its run found at ``now``."""
    found: dict[tuple[str, str], Condition] = {
        (condition.record_type, str(condition.record_id)): condition for condition in conditions
    }
    existing = session.execute(
        select(
            Finding.id,
            Finding.record_type,
            Finding.record_id,
            Finding.status,
            Finding.severity,
            Finding.record_label,
            Finding.detail,
            Finding.link,
            Finding.times_reopened,
        ).where(Finding.check_id == check.check_id)
    ).all()
    changes = RunChanges()
    updates: list[dict[str, Any]] = []
    for row in existing:
        condition = found.pop((row.record_type, row.record_id), None)
        if condition is None:
            if row.status in UNSETTLED:
                updates.append({"id": row.id, "status": FindingStatus.RESOLVED, "resolved_at": now})
                changes.resolved += 1
            continue
        now_fields = _fields_of(check, condition)
        if row.status in UNSETTLED:
            if now_fields["severity"].rank > Severity(row.severity).rank:
                changes.escalated.append((row.id, now_fields["severity"]))
            if any(now_fields[name] != getattr(row, name) for name in ("record_label", "detail", "link", "severity")):
                updates.append({"id": row.id, **now_fields})
            continue
        changes.reopened.append(row.id)
        updates.append(
            {
                "id": row.id,
                **now_fields,
                "status": FindingStatus.OPEN,
                "times_reopened": row.times_reopened + 1,
                "reopened_at": now,
                "resolved_at": None,
            }
        )
    _update_by_id(session, updates)
    if found:
        changes.opened = list(
            session.scalars(
                insert(Finding).returning(Finding.id),
                [
                    {
                        "check_id": check.check_id,
                        "area": check.area,
                        "record_type": record_type,
                        "record_id": record_id,
                        **_fields_of(check, condition),
                        "status": FindingStatus.OPEN,
                        "opened_at": now,
                        "last_seen_at": now,
                        "times_reopened": 0,
                    }
                    for (record_type, record_id), condition in found.items()
                ],
            )
        )
    session.execute(
        update(Finding)
        .where(Finding.check_id == check.check_id, Finding.status.in_(UNSETTLED))
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    changes.unsettled = sum(1 for row in existing if row.status in UNSETTLED) - changes.resolved
    changes.unsettled += len(changes.reopened) + len(changes.opened)
    return changes


def _update_by_id(session: Session, updates: Sequence[dict[str, Any]]) -> None:
    """Write each row's changes by its id, rows with the same columns in one statement each."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in updates:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    for rows in by_columns.values():
        session.execute(update(Finding), rows)


def record_run(
    session: Session,
    check_id: str,
    *,
    started_at: datetime,
    finished_at: datetime,
    changes: RunChanges | None = None,
    error: str | None = None,
) -> CheckRun:
    """Record one run of a check: a successful one with what it changed, or a failed one with its error."""
    run = CheckRun(
        check_id=check_id,
        started_at=started_at,
        finished_at=finished_at,
        outcome=RunOutcome.FAILED if error is not None else RunOutcome.SUCCEEDED,
        findings_opened=len(changes.opened) + len(changes.reopened) if changes else 0,
        findings_resolved=changes.resolved if changes else 0,
        findings_open=changes.unsettled if changes else _unsettled_count(session, check_id),
        error=error,
    )
    session.add(run)
    session.flush()
    return run


def _unsettled_count(session: Session, check_id: str) -> int:
    return session.scalar(select(func.count()).where(Finding.check_id == check_id, Finding.status.in_(UNSETTLED))) or 0


def get_finding(session: Session, finding_id: int) -> Finding:
    return get_record(session, Finding, finding_id, "finding")


def acknowledge(session: Session, finding: Finding, *, user: User, comment: str, now: datetime) -> Finding:
    """Record that QA has seen an open finding; it stays until its condition clears."""
    if finding.status not in UNSETTLED:
        raise AlreadySettled(f"This finding is {finding.status.value}; there is nothing left to acknowledge.")
    if finding.status == FindingStatus.ACKNOWLEDGED:
        raise AlreadySettled("This finding is acknowledged already; close it once it is dealt with.")
    finding.status = FindingStatus.ACKNOWLEDGED
    finding.acknowledged_at, finding.acknowledged_by_id, finding.acknowledgement = now, user.id, comment
    session.flush()
    audit_chain.record(session, ACKNOWLEDGED, entity=finding, details=_audited(finding), reason=comment)
    return finding


def close(session: Session, finding: Finding, *, user: User, comment: str, now: datetime) -> Finding:
    """Record QA's word that a finding is dealt with; the next run reopens it if its condition still holds."""
    if finding.status not in UNSETTLED:
        raise AlreadySettled(f"This finding is {finding.status.value} already.")
    finding.status = FindingStatus.CLOSED
    finding.closed_at, finding.closed_by_id, finding.closing_comment = now, user.id, comment
    session.flush()
    audit_chain.record(session, CLOSED, entity=finding, details=_audited(finding), reason=comment)
    return finding


def _audited(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check_id,
        "record": f"{finding.record_type} {finding.record_id}",
        "label": finding.record_label,
        "detail": finding.detail,
        "status": finding.status.value,
    }
