"""What each database engine does to back up and to restore: SQLite through its online backup API, PostgreSQL
through pg_dump (custom format, in a snapshot the manifest is read in) and pg_restore into a scratch database."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import URL, Connection, make_url

from lims.backups.errors import BackupFailed, BackupToolMissing
from lims.backups.service.manifest import chain_head, record_counts

#: (label, total) -> a context giving the function that reports progress toward ``total``
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]

#: SQLite pages copied at a time, so that the LIMS's own writers get the database in between
_PAGES_AT_A_TIME = 1024


@contextmanager
def quiet(_label: str, _total: int) -> Iterator[Callable[[int], None]]:
    """Progress nobody watches (the scheduler's)."""
    yield lambda _done: None


def engine_of(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise BackupFailed(f"The LIMS backs up SQLite and PostgreSQL databases, not {backend}.")
    return backend


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or "mode=memory" in url:
        raise BackupFailed("An in-memory SQLite database has no file to back up.")
    return Path(database)


# SQLite


def backup_sqlite(url: str, destination: Path, progress: Progress) -> None:
    """Copy the live database page by page with SQLite's online backup API (writers carry on meanwhile), into a
    self-contained file: no write-ahead log beside it."""
    source = sqlite3.connect(f"file:{sqlite_path(url)}?mode=ro", uri=True)
    target = sqlite3.connect(destination)
    try:
        total = source.execute("PRAGMA page_count").fetchone()[0]
        with progress("Copying database pages", total) as advance:
            copied = 0

            def report(_status: int, remaining: int, pages: int) -> None:
                nonlocal copied
                advance(pages - remaining - copied)
                copied = pages - remaining

            source.backup(target, pages=_PAGES_AT_A_TIME, progress=report)
        target.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as error:
        raise BackupFailed(f"SQLite could not back up {sqlite_path(url)}: {error}.") from error
    finally:
        target.close()
        source.close()


def reading_sqlite(path: Path) -> AbstractContextManager[Connection]:
    """A connection that only reads the SQLite file at ``path`` (no pragma, no hooks)."""
    return _reading(f"sqlite:///{path}")


@contextmanager
def restored_sqlite(backup: Path) -> Iterator[str]:
    """A scratch copy of an SQLite backup, removed afterwards: its URL."""
    with tempfile.TemporaryDirectory(prefix="lims-restore-") as folder:
        scratch = Path(folder) / "restored.sqlite3"
        shutil.copyfile(backup, scratch)
        yield f"sqlite:///{scratch}"


# PostgreSQL


def _tool(name: str, server_major: int) -> str:
    """The path of ``name`` (pg_dump, pg_restore), refused unless it is of the server's major version or newer."""
    path = shutil.which(name)
    if path is None:
        raise BackupToolMissing(
            f"{name} is not installed: install the PostgreSQL {server_major} client tools "
            f"(apt-get install postgresql-client-{server_major})."
        )
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", version)
    if match is None or int(match.group(1)) < server_major:
        raise BackupToolMissing(
            f"{name} is version {version.strip() or 'unknown'}, older than the PostgreSQL {server_major} server: "
            f"install postgresql-client-{server_major}."
        )
    return path


def _server_major(connection: Connection) -> int:
    return int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The database as pg_dump and pg_restore name it, and their environment: the password goes in PGPASSWORD,
    never on a command line other users can read."""
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def _run(command: list[str], environment: dict[str, str], progress: Callable[[int], None], marker: str) -> None:
    """Run a pg tool in verbose mode, advancing ``progress`` by one for each line of its log holding ``marker``."""
    log: list[str] = []
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=environment) as process:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line.rstrip())
            if marker in line:
                progress(1)
    if process.returncode != 0:
        errors = [line for line in log if "error" in line.lower()] or log[-3:]
        raise BackupFailed(f"{Path(command[0]).name} failed: {' '.join(errors)[:1000]}")


def backup_postgresql(
    url: str, destination: Path, tables: list[str], progress: Progress
) -> tuple[dict[str, int], tuple[int, str], str | None]:
    """Dump the database in pg_dump's custom format within one snapshot, and read in that same snapshot the
    record counts and the chain's head the manifest states: the manifest describes exactly what the file holds."""
    engine = create_engine(url, poolclass=pool.NullPool, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(text("SET TRANSACTION READ ONLY"))
            pg_dump = _tool("pg_dump", _server_major(connection))
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = record_counts(connection, tables)
            head = chain_head(connection)
            revision = schema_revision(connection)
            database, environment = _libpq(make_url(url))
            with progress("Dumping tables", len(tables)) as advance:
                _run(
                    [
                        pg_dump,
                        "--format=custom",
                        "--verbose",
                        f"--snapshot={snapshot}",
                        f"--file={destination}",
                        database,
                    ],
                    environment,
                    advance,
                    "dumping contents of table",
                )
    finally:
        engine.dispose()
    return counts, head, revision


@contextmanager
def restored_postgresql(live_url: str, backup: Path, tables: int, progress: Progress) -> Iterator[str]:
    """A scratch database on the live database's server with the backup restored into it, dropped afterwards."""
    live = make_url(live_url)
    scratch = live.set(database=f"lims_restore_{uuid.uuid4().hex[:12]}")
    server = create_engine(
        live.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
        poolclass=pool.NullPool,
    )
    try:
        with server.connect() as connection:
            pg_restore = _tool("pg_restore", _server_major(connection))
            connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
        try:
            database, environment = _libpq(scratch)
            with progress("Restoring tables", tables) as advance:
                _run(
                    [
                        pg_restore,
                        "--no-owner",
                        "--no-privileges",
                        "--exit-on-error",
                        "--verbose",
                        f"--dbname={database}",
                        str(backup),
                    ],
                    environment,
                    advance,
                    "processing data for table",
                )
            yield scratch.render_as_string(hide_password=False)
        finally:
            with server.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
    finally:
        server.dispose()


# Both


@contextmanager
def _reading(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def schema_revision(connection: Connection) -> str | None:
    """The alembic revision of the database ``connection`` reads."""
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
