"""A backup's manifest, written beside it: the file's SHA-256 and size, the audit chain's head and the record
counts per table it holds. A restore is checked against it, and a file that is not what it says is refused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, table
from sqlalchemy.engine import Connection

from lims.audit.models import GENESIS_HASH, AuditEvent
from lims.backups.errors import BackupUnreadable

FORMAT = 1
SUFFIX = ".manifest.json"
#: read a megabyte at a time when hashing a backup
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Manifest:
    file_name: str
    #: "sqlite" or "postgresql"
    engine: str
    taken_at: datetime
    size_bytes: int
    sha256: str
    schema_revision: str | None
    head_sequence: int
    head_hash: str
    record_counts: Mapping[str, int]

    @property
    def records(self) -> int:
        return sum(self.record_counts.values())

    def as_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "file": self.file_name,
                "engine": self.engine,
                "taken_at": self.taken_at.isoformat(),
                "size_bytes": self.size_bytes,
                "sha256": self.sha256,
                "schema_revision": self.schema_revision,
                "audit_head": {"sequence": self.head_sequence, "hash": self.head_hash},
                "record_counts": dict(sorted(self.record_counts.items())),
            },
            indent=2,
        )


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + SUFFIX)


def write_manifest(backup: Path, manifest: Manifest) -> Path:
    path = manifest_path(backup)
    path.write_text(manifest.as_json() + "\n", encoding="utf-8")
    return path


def read_manifest(backup: Path) -> Manifest:
    """The manifest beside ``backup``; refused if it is missing or not one `lims backup` wrote."""
    path = manifest_path(backup)
    if not backup.is_file():
        raise BackupUnreadable(f"There is no backup file {backup}.")
    if not path.is_file():
        raise BackupUnreadable(
            f"The backup {backup.name} has no manifest ({path.name}) beside it: without its SHA-256 and record "
            "counts it cannot be proven whole."
        )
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        head = data["audit_head"]
        manifest = Manifest(
            file_name=str(data["file"]),
            engine=str(data["engine"]),
            taken_at=datetime.fromisoformat(data["taken_at"]),
            size_bytes=int(data["size_bytes"]),
            sha256=str(data["sha256"]),
            schema_revision=data.get("schema_revision"),
            head_sequence=int(head["sequence"]),
            head_hash=str(head["hash"]),
            record_counts={str(name): int(count) for name, count in data["record_counts"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BackupUnreadable(f"The manifest {path.name} is not one `lims backup` wrote ({error}).") from None
    if data.get("format") != FORMAT or manifest.engine not in {"sqlite", "postgresql"}:
        raise BackupUnreadable(f"The manifest {path.name} is of a format this LIMS does not read.")
    return manifest


def file_sha256(path: Path, progress: Callable[[int], None]) -> str:
    """The SHA-256 of the file at ``path``, reporting each chunk's bytes to ``progress``."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            progress(len(chunk))
    return digest.hexdigest()


def check_file(backup: Path, manifest: Manifest, progress: Callable[[int], None]) -> None:
    """Refuse ``backup`` unless its size and SHA-256 are those its manifest records."""
    size = backup.stat().st_size
    if size != manifest.size_bytes:
        shorter = "truncated" if size < manifest.size_bytes else "added to"
        raise BackupUnreadable(
            f"The backup {backup.name} is {size:,} bytes but its manifest records {manifest.size_bytes:,}: the file "
            f"was {shorter} after it was written. It is not restored."
        )
    found = file_sha256(backup, progress)
    if found != manifest.sha256:
        raise BackupUnreadable(
            f"The SHA-256 of the backup {backup.name} is {found}, not {manifest.sha256} as its manifest records: "
            "the file was changed or damaged after it was written. It is not restored."
        )


def record_counts(connection: Connection, tables: Iterable[str]) -> dict[str, int]:
    """The rows of each of ``tables``, counted by the database."""
    return {name: connection.execute(select(func.count()).select_from(table(name))).scalar_one() for name in tables}


def chain_head(connection: Connection) -> tuple[int, str]:
    """The audit chain's newest event: its sequence and hash (0 and the genesis hash for an empty chain)."""
    newest = connection.execute(
        select(AuditEvent.sequence, AuditEvent.hash).order_by(AuditEvent.sequence.desc()).limit(1)
    ).first()
    return (0, GENESIS_HASH) if newest is None else (newest.sequence, newest.hash)
