"""Taking a backup: the file, its manifest, and the backup's record in the live LIMS."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.backups.models import Backup
from lims.backups.service import engines
from lims.backups.service.engines import Progress
from lims.backups.service.manifest import (
    Manifest,
    chain_head,
    file_sha256,
    manifest_path,
    record_counts,
    write_manifest,
)
from lims.db import Base
from lims.pagination import KeysetPage, page_after

SORT_KEY = (Backup.taken_at, Backup.id)
_SUFFIX = {"sqlite": ".sqlite3", "postgresql": ".dump"}


def lims_tables() -> list[str]:
    """The tables of every installed area, whose rows a manifest counts."""
    return [table.name for table in Base.metadata.sorted_tables]


def take_backup(url: str, folder: Path, *, progress: Progress = engines.quiet) -> tuple[Path, Manifest]:
    """Back up the database at ``url`` into ``folder``; write its manifest beside it. Nothing is recorded yet."""
    engine = engines.engine_of(url)
    folder.mkdir(parents=True, exist_ok=True)
    taken_at = clock.now()
    destination = folder / f"lims-{taken_at:%Y%m%dT%H%M%S%fZ}{_SUFFIX[engine]}"
    tables = lims_tables()
    try:
        if engine == "sqlite":
            engines.backup_sqlite(url, destination, progress)
            # Read from the copy itself: the manifest states what the file holds, whatever the LIMS did meanwhile.
            with engines.reading_sqlite(destination) as copy:
                counts, head, revision = record_counts(copy, tables), chain_head(copy), engines.schema_revision(copy)
        else:
            counts, head, revision = engines.backup_postgresql(url, destination, tables, progress)
        size = destination.stat().st_size
        with progress("Computing the SHA-256", size) as advance:
            sha256 = file_sha256(destination, advance)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    manifest = Manifest(
        file_name=destination.name,
        engine=engine,
        taken_at=taken_at,
        size_bytes=size,
        sha256=sha256,
        schema_revision=revision,
        head_sequence=head[0],
        head_hash=head[1],
        record_counts=counts,
    )
    write_manifest(destination, manifest)
    return destination, manifest


def record_backup(session: Session, path: Path, manifest: Manifest) -> Backup:
    """Record the backup in the live LIMS (its page lists it; the compliance check reads its age)."""
    backup = Backup(
        taken_at=manifest.taken_at,
        file_name=manifest.file_name,
        folder=str(path.parent),
        engine=manifest.engine,
        size_bytes=manifest.size_bytes,
        sha256=manifest.sha256,
        head_sequence=manifest.head_sequence,
        head_hash=manifest.head_hash,
        records=manifest.records,
    )
    session.add(backup)
    session.flush()
    return backup


def newest_backup_file(folder: Path) -> Path | None:
    """The newest backup in ``folder`` that has its manifest (the names sort by the time they were taken)."""
    candidates = sorted(
        path for path in folder.glob("lims-*") if not path.name.endswith(".json") and manifest_path(path).is_file()
    )
    return candidates[-1] if candidates else None


def backup_of(session: Session, sha256: str) -> Backup | None:
    return session.scalar(select(Backup).where(Backup.sha256 == sha256))


def list_backups(session: Session, *, after: tuple[datetime, int] | None = None, limit: int = 25) -> KeysetPage[Backup]:
    """A page of the backups taken, newest first."""
    return page_after(session, select(Backup), SORT_KEY, after=after, limit=limit, descending=True)


def last_backup_at(session: Session) -> datetime | None:
    return session.scalar(select(Backup.taken_at).order_by(*(column.desc() for column in SORT_KEY)).limit(1))
