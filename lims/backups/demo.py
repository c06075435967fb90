"""The demo's backup: `lims demo` ends by backing up what it loaded and proving the backup by a restore that QA
signs, as the scheduler would each night, so a fresh demo's compliance dashboard does not open on a missing one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from lims.audit import anchors as audit_anchors
from lims.backups.models import RestoreVerification
from lims.backups.service import backups, restore
from lims.demo_support import acting_as, demo_user
from lims.identity.demo_accounts import demo_password


def prove_demo_backup(session: Session, config: Mapping[str, Any]) -> RestoreVerification | None:
    """Back up the committed demo data into LIMS_BACKUP_DIR as the demo's administrator and record its restore
    verification, signed by the demo's QA officer; None, with nothing done, when a restore has proven a backup
    already (the demo run again)."""
    if restore.last_passed_at(session) is not None:
        return None
    path, manifest = backups.take_backup(config["DATABASE_URL"], config["BACKUP_DIR"])
    with acting_as(session, demo_user(session, "a.rossi")):
        backups.record_backup(session, path, manifest)
    result = restore.verify_backup(
        path,
        live_url=config["DATABASE_URL"],
        checkpoints=audit_anchors.read_checkpoints(config["AUDIT_CHECKPOINT_PATH"]),
    )
    qa = demo_user(session, "q.okafor")
    with acting_as(session, qa):
        return restore.record_verification(session, result, user=qa, password=demo_password(qa.username))
