"""Backups the LIMS took, and the restores that proved them: a backup counts once it was restored elsewhere and
found whole (EU GMP Annex 11 §7.2)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import User
from lims.signatures.service import ImmutableOnceSigned


class Backup(Controlled, Base):
    """A backup file written by `lims backup` or the scheduler, as its manifest describes it."""

    __tablename__ = "backup"
    __table_args__ = (Index("ix_backup_taken", "taken_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[datetime]
    #: the backup file's name in the folder it was written to, and that folder
    file_name: Mapped[str] = mapped_column(String(255))
    folder: Mapped[str] = mapped_column(Text)
    #: "sqlite" or "postgresql"
    engine: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: the audit chain's head in the backup
    head_sequence: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    #: rows the backup holds, all tables together (each table's count is in the manifest)
    records: Mapped[int] = mapped_column(BigInteger)


class RestoreOutcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class RestoreVerification(Controlled, ImmutableOnceSigned, Base):
    """A backup restored into a scratch database and checked there: its audit chain and signatures, its record
    counts and chain head against its manifest. Signed by whoever ran it from the command line, or afterwards by
    QA or a manager when the scheduler ran it."""

    __tablename__ = "restore_verification"
    __table_args__ = (Index("ix_restore_verification_verified", "verified_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the backup as the live LIMS recorded it, when it did (a copy from elsewhere is checked all the same)
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("backup.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime]
    #: who ran it: a user at the command line, or the compliance scheduler
    run_by: Mapped[str] = mapped_column(String(200))
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outcome: Mapped[RestoreOutcome] = mapped_column(string_enum(RestoreOutcome, "restore_outcome"))
    #: what was found, in the lab's words: the chain's verification, the counts, the head
    detail: Mapped[str] = mapped_column(Text)
    head_sequence: Mapped[int | None] = mapped_column(BigInteger)
    records: Mapped[int | None] = mapped_column(BigInteger)

    backup: Mapped[Backup | None] = relationship()
    run_by_user: Mapped[User | None] = relationship()

    def signed_content(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "sha256": self.sha256,
            "verified_at": self.verified_at,
            "outcome": self.outcome,
            "detail": self.detail,
            "head_sequence": self.head_sequence,
            "records": self.records,
        }
