"""The backups' compliance checks at their boundary, with a pinned clock: before, on and after the backup or the
proof by restore falls due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims import clock
from lims.backups import compliance
from lims.backups.models import Backup, RestoreOutcome, RestoreVerification

TAKEN_AT = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
HOURS = {"hours": 26}
DAYS = {"days": 8}


def backup(db_session, taken_at=TAKEN_AT) -> Backup:
    record = Backup(
        taken_at=taken_at,
        file_name=f"lims-{taken_at:%Y%m%dT%H%M%S}.sqlite3",
        folder="/backups",
        engine="sqlite",
        size_bytes=4096,
        sha256=f"{taken_at:%Y%m%d%H%M%S}".ljust(64, "0"),
        head_sequence=10,
        head_hash="a" * 64,
        records=42,
    )
    db_session.add(record)
    db_session.flush()
    return record


def verification(db_session, outcome=RestoreOutcome.PASSED, verified_at=TAKEN_AT) -> RestoreVerification:
    record = RestoreVerification(
        file_name="lims-20261130T013000.sqlite3",
        sha256="b" * 64,
        verified_at=verified_at,
        run_by="compliance scheduler",
        outcome=outcome,
        detail="Record counts differ from the manifest: user_account: 2 rows, the manifest says 3.",
        head_sequence=10,
        records=42,
    )
    db_session.add(record)
    db_session.flush()
    return record


def test_no_backup_at_all_is_a_finding(db_session):
    [condition] = compliance.backup_overdue(db_session, TAKEN_AT, HOURS)
    assert (condition.record_id, condition.detail, condition.link) == ("none", "no backup taken yet", "/backups")


@pytest.mark.parametrize(
    ("after", "found"), [(timedelta(hours=25), False), (timedelta(hours=26), True), (timedelta(hours=27), True)]
)
def test_a_backup_falls_due_its_hours_after_the_last(db_session, after, found):
    taken = backup(db_session)
    conditions = list(compliance.backup_overdue(db_session, TAKEN_AT + after, HOURS))
    assert bool(conditions) == found
    if found:
        assert conditions[0].record_id == str(taken.id)
        assert (
            conditions[0].detail
            == f"last backup taken {int(after.total_seconds() // 3600)} hours ago (one is due every 26 hours)"
        )


@pytest.mark.parametrize(("days", "found"), [(7, None), (8, "due again on 2026-12-08"), (9, "due again on 2026-12-08")])
def test_a_restore_proof_falls_due_its_days_after_the_last_that_passed(db_session, days, found):
    verification(db_session)
    with clock.frozen(TAKEN_AT):
        conditions = list(compliance.restore_unproven(db_session, TAKEN_AT + timedelta(days=days), DAYS))
    assert [condition.detail for condition in conditions] == (
        [f"no restore has proven a backup since 2026-11-30 ({found})"] if found else []
    )


def test_a_failed_restore_verification_is_a_critical_finding_at_once(db_session):
    verification(db_session)
    failed = verification(db_session, RestoreOutcome.FAILED, TAKEN_AT + timedelta(days=1))
    [condition] = compliance.restore_unproven(db_session, TAKEN_AT + timedelta(days=1, hours=1), DAYS)
    assert condition.severity == "critical" and condition.record_id == str(failed.id)
    assert condition.detail.startswith("the last restore verification, of lims-20261130T013000.sqlite3, failed: ")


def test_never_proven_is_a_finding(db_session):
    [condition] = compliance.restore_unproven(db_session, TAKEN_AT, DAYS)
    assert condition.detail == "no restore has proven a backup yet"
