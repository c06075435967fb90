"""Alembic wiring: where the revisions live and whether a database is current."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).parent


class SchemaBehind(RuntimeError):
    """The database is not at the schema this code needs, so the LIMS serves nothing until it is upgraded.

    Not a domain error: no request caused it and none succeeds (503) until an operator runs the migrations.
    """

    status_code = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` inside the connection's transaction."""
    command.upgrade(alembic_config(connection), revision)


def assert_current(connection: Connection) -> None:
    """Raise :class:`SchemaBehind` unless the database is at the code's head."""
    current = current_revision(connection)
    expected = head_revision()
    if current != expected:
        raise SchemaBehind(
            f"The database schema is at revision {current or 'none (empty database)'} "
            f"but this version of the LIMS needs {expected}. "
            "Run `lims db upgrade` and start the LIMS again."
        )
