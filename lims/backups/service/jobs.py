"""The scheduler's backup jobs: a backup every day, and every week the newest one proven by a restore."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from lims.audit import anchors as audit_anchors
from lims.backups.errors import BackupUnreadable
from lims.backups.service import backups, restore

logger = logging.getLogger("lims.backups")


def back_up(session: Session, config: Mapping[str, Any]) -> str:
    """Back up the database into LIMS_BACKUP_DIR, with its manifest, and record it."""
    path, manifest = backups.take_backup(config["DATABASE_URL"], config["BACKUP_DIR"])
    backups.record_backup(session, path, manifest)
    return f"{path} written, SHA-256 {manifest.sha256[:16]}…, audit chain head event {manifest.head_sequence}"


def verify_newest_backup(session: Session, config: Mapping[str, Any]) -> str:
    """Restore the newest backup in LIMS_BACKUP_DIR into a scratch database, verify it there and record the
    outcome (unsigned: QA or a manager signs it on the Backups page)."""
    newest = backups.newest_backup_file(config["BACKUP_DIR"])
    if newest is None:
        logger.error("No backup with its manifest in %s to verify.", config["BACKUP_DIR"])
        return f"no backup with its manifest in {config['BACKUP_DIR']} to verify"
    try:
        result = restore.verify_backup(
            newest,
            live_url=config["DATABASE_URL"],
            checkpoints=audit_anchors.read_checkpoints(config["AUDIT_CHECKPOINT_PATH"]),
        )
    except BackupUnreadable as refusal:
        logger.error("The newest backup was refused: %s", refusal.message)
        return refusal.message
    verification = restore.record_verification(session, result)
    if not result.passed:
        logger.error("Restore verification of %s failed: %s", newest.name, result.detail)
    return f"restore verification of {newest.name} {verification.outcome.value}"
