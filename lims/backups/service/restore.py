"""Proving a backup by restoring it: into a scratch database, where the audit chain and every signature are
verified and the record counts and the chain's head compared with the manifest; the outcome is recorded, and
signed, in the live LIMS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import pool, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.audit import verification as audit_verification
from lims.audit.anchors import Checkpoint
from lims.backups.errors import BackupUnreadable
from lims.backups.models import RestoreOutcome, RestoreVerification
from lims.backups.service import engines
from lims.backups.service.backups import backup_of
from lims.backups.service.engines import Progress
from lims.backups.service.manifest import Manifest, chain_head, check_file, read_manifest, record_counts
from lims.db import create_engine_for, get_record
from lims.identity.models import RoleName, User
from lims.identity.service.sign_in import reauthenticate
from lims.pagination import KeysetPage, page_after
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import SignatureMeaning

MEANING = SignatureMeaning.VERIFIED
#: who signs a restore verification: those who answer for the data's keeping
SIGNERS = frozenset({RoleName.QA, RoleName.MANAGER, RoleName.ADMIN})
SORT_KEY = (RestoreVerification.verified_at, RestoreVerification.id)


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    passed: bool
    #: what was found, sentence by sentence
    findings: tuple[str, ...]
    head_sequence: int | None
    records: int | None

    @property
    def detail(self) -> str:
        return " ".join(self.findings)


def verify_backup(
    backup: Path, *, live_url: str, checkpoints: Sequence[Checkpoint], progress: Progress = engines.quiet
) -> RestoreResult:
    """Restore ``backup`` into a scratch database and check it there against its manifest and the checkpoints of
    the chain written up to its head; a file that is not what its manifest says is refused unrestored."""
    manifest = read_manifest(backup)
    with progress("Checking the SHA-256", manifest.size_bytes) as advance:
        check_file(backup, manifest, advance)
    if manifest.engine == "postgresql" and engines.engine_of(live_url) != "postgresql":
        raise BackupUnreadable(
            "A PostgreSQL backup is restored on the PostgreSQL server the LIMS runs on; this LIMS runs on SQLite."
        )
    restoring = (
        engines.restored_sqlite(backup)
        if manifest.engine == "sqlite"
        else engines.restored_postgresql(live_url, backup, len(manifest.record_counts), progress)
    )
    with restoring as scratch_url:
        engine = create_engine_for(scratch_url, poolclass=pool.NullPool)
        try:
            with Session(engine) as session:
                connection = session.connection()
                counts = record_counts(connection, manifest.record_counts)
                head = chain_head(connection)
                anchored = [checkpoint for checkpoint in checkpoints if checkpoint.sequence <= manifest.head_sequence]
                with progress("Verifying the audit chain", head[0]) as advance:
                    verification = audit_verification.verify_trail(session, checkpoints=anchored, progress=advance)
                session.rollback()
        finally:
            engine.dispose()
    return _judged(manifest, counts, head, verification)


def _judged(
    manifest: Manifest,
    counts: dict[str, int],
    head: tuple[int, str],
    verification: audit_verification.Verification,
) -> RestoreResult:
    findings = [f"Restored {manifest.file_name} (SHA-256 {manifest.sha256[:16]}… as its manifest records)."]
    differing = [
        f"{name}: {counts[name]:,} rows, the manifest says {expected:,}"
        for name, expected in sorted(manifest.record_counts.items())
        if counts[name] != expected
    ]
    if differing:
        findings.append(f"Record counts differ from the manifest: {'; '.join(differing)}.")
    else:
        findings.append(f"{sum(counts.values()):,} records in {len(counts)} tables, as the manifest counts.")
    if head != (manifest.head_sequence, manifest.head_hash):
        findings.append(
            f"The audit chain's head is event {head[0]} ({head[1][:12]}…), not event {manifest.head_sequence} "
            f"({manifest.head_hash[:12]}…) as the manifest records."
        )
    else:
        findings.append(f"The audit chain's head is event {head[0]}, as the manifest records.")
    findings.append(verification.summary())
    passed = not differing and head == (manifest.head_sequence, manifest.head_hash) and verification.intact
    return RestoreResult(manifest, passed, tuple(findings), head[0], sum(counts.values()))


def check_signed_once(
    session: Session, verification: RestoreVerification, _meaning: SignatureMeaning, _user: User
) -> None:
    """A verification is signed once: by whoever ran it, or afterwards by one person on the Backups page."""
    if verification.id is not None and signatures.signatures_of(session, verification):
        raise SignatureRefused(f"The restore verification of {verification.file_name} is signed already.")


def check_may_sign(session: Session, user: User, *, password: str, client_address: str | None) -> None:
    """Refuse, before the restore begins, anyone who may not sign its verification or gives a wrong password."""
    signatures.check_may_sign(session, RestoreVerification(), MEANING, user)
    reauthenticate(
        session, user, password=password, client_address=client_address, purpose="signing a restore verification"
    )


def record_verification(
    session: Session,
    result: RestoreResult,
    *,
    user: User | None = None,
    password: str | None = None,
    client_address: str | None = None,
) -> RestoreVerification:
    """Record the restore's outcome in the live LIMS, signed by ``user`` when one ran it (the scheduler's is
    signed afterwards on its page)."""
    actor = audit_context.current_actor(session)
    verification = RestoreVerification(
        backup=backup_of(session, result.manifest.sha256),
        file_name=result.manifest.file_name,
        sha256=result.manifest.sha256,
        verified_at=clock.now(),
        run_by=user.full_name if user else actor.name,
        run_by_id=user.id if user else None,
        outcome=RestoreOutcome.PASSED if result.passed else RestoreOutcome.FAILED,
        detail=result.detail,
        head_sequence=result.head_sequence,
        records=result.records,
    )
    session.add(verification)
    session.flush()
    if user is not None and password is not None:
        signatures.sign(
            session, verification, meaning=MEANING, user=user, password=password, client_address=client_address
        )
    return verification


def get_verification(session: Session, verification_id: int) -> RestoreVerification:
    return get_record(session, RestoreVerification, verification_id, "restore verification")


def list_verifications(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int = 25
) -> KeysetPage[RestoreVerification]:
    """A page of the restore verifications, newest first."""
    return page_after(session, select(RestoreVerification), SORT_KEY, after=after, limit=limit, descending=True)


def last_passed_at(session: Session) -> datetime | None:
    """When a restore last proved a backup whole."""
    return session.scalar(
        select(RestoreVerification.verified_at)
        .where(RestoreVerification.outcome == RestoreOutcome.PASSED)
        .order_by(*(column.desc() for column in SORT_KEY))
        .limit(1)
    )
