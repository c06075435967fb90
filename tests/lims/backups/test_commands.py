"""`lims backup` and `lims restore --verify` as an operator runs them, the scheduler's jobs, and the Backups page."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from lims import scheduler
from lims.backups.models import Backup, RestoreOutcome, RestoreVerification
from lims.identity.models import LoginAttempt, RoleName
from lims.signatures import service as signatures
from tests.helpers import PASSWORD, login


def count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def backed_up(run, folder: Path) -> Path:
    result = run("backup", "--to", str(folder))
    assert result.exit_code == 0, result.output
    [path] = [path for path in folder.iterdir() if not path.name.endswith(".json")]
    return path


def test_an_operator_backs_up_and_proves_the_backup_with_a_signed_verification(run, db_session, create_user, tmp_path):
    qa = create_user(RoleName.QA, username="q.backup")
    db_session.commit()
    path = backed_up(run, tmp_path / "backups")
    assert count(db_session, Backup) == 1
    proven = run("restore", "--verify", str(path), "--as", "q.backup", env={"LIMS_AS_PASSWORD": PASSWORD})
    assert proven.exit_code == 0, proven.output
    assert "Audit trail intact" in proven.output and f"signed by {qa.full_name}" in proven.output
    verification = db_session.scalars(select(RestoreVerification)).one()
    assert verification.outcome == RestoreOutcome.PASSED and verification.backup.file_name == path.name
    [(signature, status)] = signatures.signatures_of(db_session, verification)
    assert signature.signer_id == qa.id and status == signatures.SignatureStatus.VALID


def test_a_corrupted_backup_exits_non_zero_with_the_reason_and_records_nothing(run, db_session, tmp_path):
    path = backed_up(run, tmp_path / "backups")
    content = bytearray(path.read_bytes())
    content[100] ^= 0xFF
    path.write_bytes(bytes(content))
    refused = run("restore", "--verify", str(path))
    assert refused.exit_code == 1
    assert "changed or damaged after it was written. It is not restored." in refused.output
    assert count(db_session, RestoreVerification) == 0


def test_a_wrong_signing_password_stops_before_restoring_and_counts(run, db_session, create_user, tmp_path):
    qa = create_user(RoleName.QA, username="q.backup")
    db_session.commit()
    path = backed_up(run, tmp_path / "backups")
    refused = run("restore", "--verify", str(path), "--as", "q.backup", env={"LIMS_AS_PASSWORD": "wrong-pass-1"})
    assert refused.exit_code == 1 and "nothing was signed" in refused.output
    assert count(db_session, RestoreVerification) == 0
    assert db_session.scalar(select(func.count()).where(LoginAttempt.user_id == qa.id)) == 1


def test_a_technician_cannot_sign_a_restore_verification(run, db_session, create_user, tmp_path):
    create_user(RoleName.TECHNICIAN, username="t.backup")
    db_session.commit()
    path = backed_up(run, tmp_path / "backups")
    refused = run("restore", "--verify", str(path), "--as", "t.backup", env={"LIMS_AS_PASSWORD": PASSWORD})
    assert refused.exit_code == 1 and "Your role may not sign" in refused.output


def test_the_scheduler_backs_up_and_proves_the_newest_backup_unsigned(app, db_session):
    checks = {check.job_id: check for check in scheduler.scheduled_checks(app.config)}
    assert "written" in scheduler.run_check(app, checks["backup"])
    assert scheduler.run_check(app, checks["restore-verify"]).endswith("passed")
    verification = db_session.scalars(select(RestoreVerification)).one()
    assert verification.run_by_id is None and signatures.signatures_of(db_session, verification) == []


def test_the_backups_page_lists_them_for_qa_and_offers_the_signature(app, run, db_session, create_user, tmp_path):
    path = backed_up(run, tmp_path / "backups")
    assert run("restore", "--verify", str(path)).exit_code == 0
    qa = create_user(RoleName.QA)
    technician = create_user(RoleName.TECHNICIAN)
    db_session.commit()
    browser = app.test_client()
    login(browser, qa)
    page = browser.get("/backups").text
    assert path.name in page and "Passed" in page and "/sign/restore_verification/" in page
    assert browser.get("/backups?verified_cursor=nonsense").status_code == 422
    outsider = app.test_client()
    login(outsider, technician)
    assert outsider.get("/backups").status_code == 403


def test_a_backup_that_is_not_there_is_refused_by_name(run, tmp_path):
    refused = run("restore", "--verify", str(tmp_path / "lims-missing.sqlite3"))
    assert refused.exit_code == 1 and "There is no backup file" in refused.output
