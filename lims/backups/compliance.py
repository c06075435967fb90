"""The backups' compliance checks: a backup younger than the allowed age, and a restore that proved one lately."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.backups.models import Backup, RestoreOutcome, RestoreVerification
from lims.backups.service import backups, restore
from lims.registry import ComplianceCheck, Condition


def _ago(now: datetime, then: datetime) -> str:
    hours = int((now - then).total_seconds() // 3600)
    return f"{hours // 24} days {hours % 24} hours" if hours >= 48 else f"{hours} hours"


def backup_overdue(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterable[Condition]:
    """No backup taken within the last ``hours``."""
    newest = session.execute(
        select(Backup.id, Backup.taken_at).order_by(*(column.desc() for column in backups.SORT_KEY)).limit(1)
    ).first()
    allowed = timedelta(hours=parameters["hours"])
    if newest is not None and now < newest.taken_at + allowed:
        return []
    detail = (
        "no backup taken yet"
        if newest is None
        else f"last backup taken {_ago(now, newest.taken_at)} ago (one is due every {parameters['hours']} hours)"
    )
    return [
        Condition(
            record_type="backup",
            record_id=str(newest.id) if newest else "none",
            record_label="the database backups",
            detail=detail,
            link="/backups",
        )
    ]


def restore_unproven(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterable[Condition]:
    """No restore has proven a backup for ``days`` (the facility's dates: due that many days after the last that
    did), or the latest restore verification failed."""
    latest = session.scalars(
        select(RestoreVerification).order_by(*(column.desc() for column in restore.SORT_KEY)).limit(1)
    ).first()
    passed_at = restore.last_passed_at(session)
    proven_on = passed_at.astimezone(clock.facility_zone()).date() if passed_at else None
    due_on = proven_on + timedelta(days=parameters["days"]) if proven_on else None
    today = now.astimezone(clock.facility_zone()).date()
    if latest is not None and latest.outcome == RestoreOutcome.FAILED:
        detail, severity = f"the last restore verification, of {latest.file_name}, failed: {latest.detail}", "critical"
    elif due_on is None:
        detail, severity = "no restore has proven a backup yet", None
    elif today >= due_on:
        detail, severity = f"no restore has proven a backup since {proven_on} (due again on {due_on})", None
    else:
        return []
    return [
        Condition(
            record_type="restore_verification",
            record_id=str(latest.id) if latest else "none",
            record_label="the proof of the backups by restore",
            detail=detail[:1000],
            link="/backups",
            severity=severity,
        )
    ]


BACKUP_OVERDUE = ComplianceCheck(
    check_id="backups.backup-overdue",
    title="No recent backup",
    area="backups",
    severity="major",
    schedule="every 1h",
    run=backup_overdue,
    parameters={"hours": 26},
)
RESTORE_UNPROVEN = ComplianceCheck(
    check_id="backups.restore-unproven",
    title="Backups not proven by a recent restore",
    area="backups",
    severity="major",
    schedule="cron 0 7 * * *",
    run=restore_unproven,
    parameters={"days": 8},
)
