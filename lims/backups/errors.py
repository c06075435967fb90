"""The refusals of backups and restores."""

from __future__ import annotations

from lims.errors import Conflict, InvalidInput


class BackupUnreadable(InvalidInput):
    """A backup is restored only as it was written: a file whose SHA-256 or size is not its manifest's, a missing
    manifest or file, is refused unrestored."""


class BackupToolMissing(Conflict):
    """PostgreSQL is backed up and restored with pg_dump and pg_restore of the server's version or newer."""


class BackupFailed(Conflict):
    """The database could not be backed up or restored: the tool's own message says why."""
