"""What backups contribute: their page, the signing of restore verifications, and the scheduler's daily backup
and weekly restore verification. `lims backup` and `lims restore` are top-level commands (lims.cli)."""

from __future__ import annotations

from lims.backups import compliance, views
from lims.backups.models import RestoreVerification
from lims.backups.service import jobs, restore
from lims.registry import AreaJob, Registry
from lims.signatures.service import NextStep, SignableType


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.signable(
        SignableType(
            RestoreVerification,
            {restore.MEANING: restore.SIGNERS},
            before_signing=restore.check_signed_once,
            name=lambda verification: f"the restore verification of {verification.file_name}",
            next_step=lambda _session, verification, _meaning, _user: NextStep(
                f"The restore verification of {verification.file_name} is signed.", "Backups", "backups.index"
            ),
        )
    )
    # Daily in the night's quiet hour; proven each Sunday morning (crontab, the facility's time zone).
    registry.area_job(
        AreaJob("backup", "Back up the database with its manifest", None, jobs.back_up, schedule="cron 30 1 * * *")
    )
    registry.area_job(
        AreaJob(
            "restore-verify",
            "Prove the newest backup by restoring it into a scratch database",
            None,
            jobs.verify_newest_backup,
            schedule="cron 30 3 * * 0",
        )
    )
    registry.compliance_check(compliance.BACKUP_OVERDUE)
    registry.compliance_check(compliance.RESTORE_UNPROVEN)
