"""`lims demo` ends with a backup of what it loaded, proven by a restore the demo's QA officer signs, so a fresh
demo's compliance dashboard opens without a missing-backup finding; run again, it takes no second one."""

from __future__ import annotations

from sqlalchemy import select

from lims import clock
from lims.backups import compliance
from lims.backups.models import Backup, RestoreOutcome, RestoreVerification
from lims.identity.service.users import user_by_username
from lims.signatures import service as signatures
from tests.lims.backups.test_commands import count


def test_the_demo_is_backed_up_and_proven_by_a_signed_restore_once(run, db_session, app):
    # Before the demo, both backup checks would raise a finding.
    assert compliance.backup_overdue(db_session, clock.now(), {"hours": 26})
    assert compliance.restore_unproven(db_session, clock.now(), {"days": 8})

    first = run("demo")
    assert first.exit_code == 0, first.output
    backup = db_session.scalars(select(Backup)).one()
    assert f"{backup.file_name} proven." in first.output
    assert (app.config["BACKUP_DIR"] / backup.file_name).is_file()
    verification = db_session.scalars(select(RestoreVerification)).one()
    assert verification.outcome == RestoreOutcome.PASSED and verification.backup_id == backup.id
    qa = user_by_username(db_session, "q.okafor")
    [(signature, status)] = signatures.signatures_of(db_session, verification)
    assert (signature.signer_id, status) == (qa.id, signatures.SignatureStatus.VALID)
    assert list(compliance.backup_overdue(db_session, clock.now(), {"hours": 26})) == []
    assert list(compliance.restore_unproven(db_session, clock.now(), {"days": 8})) == []

    again = run("demo")
    assert again.exit_code == 0, again.output
    assert "A restore has proven a backup already." in again.output
    assert (count(db_session, Backup), count(db_session, RestoreVerification)) == (1, 1)
    assert sorted(path.name for path in app.config["BACKUP_DIR"].iterdir()) == [
        backup.file_name,
        f"{backup.file_name}.manifest.json",
    ]
