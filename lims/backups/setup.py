"""What backups contribute: their page, the signing of restore verifications, and the scheduler's daily backup
and weekly restore verification. `lims backup` and `lims restore` are top-level commands (lims.cli)."""

from __future__ import annotations

from lims.backups import views
from lims.backups.models import RestoreVerification
from lims.backups.service import jobs, restore
from lims.registry import AreaJob, Registry
from lims.signatures.service import SignableType

DAY = 24 * 60 * 60


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.signable(
        SignableType(
            RestoreVerification,
            {restore.MEANING: restore.SIGNERS},
            before_signing=restore.check_signed_once,
            name=lambda verification: f"the restore verification of {verification.file_name}",
        )
    )
    registry.area_job(AreaJob("backup", "Back up the database with its manifest", DAY, jobs.back_up))
    registry.area_job(
        AreaJob(
            "restore-verify",
            "Prove the newest backup by restoring it into a scratch database",
            7 * DAY,
            jobs.verify_newest_backup,
        )
    )
