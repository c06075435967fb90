"""Rows in and out of the lab database in bulk: Core reads, COPY on PostgreSQL, executemany on SQLite.

The generator writes millions of rows; the ORM (and with it the audit hooks) would take hours for what these take
minutes. Rows are dicts keyed by column name, holding the values the ORM would hold (enums, datetimes, Decimals):
each column's own bind processor turns them into what the driver takes, as Core's insert would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, func, select, text
from sqlalchemy.engine import Connection

from lims.db import Base

Row = dict[str, Any]

#: rows sent to the database at once
CHUNK = 20_000


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def stored_columns(of: Table) -> list[Column[Any]]:
    """The columns an insert sets: all but those the database computes."""
    return [column for column in of.columns if column.computed is None]


def _python_type(column: Column[Any]) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def is_time(column: Column[Any]) -> bool:
    return _python_type(column) is datetime


def is_day(column: Column[Any]) -> bool:
    return _python_type(column) is date


def read_rows(connection: Connection, of: Table, *criteria: Any) -> list[Row]:
    query = select(*stored_columns(of)).where(*criteria).order_by(*of.primary_key.columns)
    return [dict(row) for row in connection.execute(query).mappings()]


def largest_id(connection: Connection, of: Table) -> int:
    return connection.execute(select(func.max(of.c.id))).scalar() or 0


def write_rows(connection: Connection, of: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (each with every stored column) into ``of``: COPY on PostgreSQL, executemany elsewhere."""
    for first in range(0, len(rows), CHUNK):
        chunk = rows[first : first + CHUNK]
        if connection.dialect.name == "postgresql":
            _copy(connection, of, chunk)
        else:
            connection.execute(of.insert(), list(chunk))


def _copy(connection: Connection, of: Table, rows: Iterable[Row]) -> None:
    columns = stored_columns(of)
    processors: list[Callable[[Any], Any] | None] = [
        column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect) for column in columns
    ]
    names = [column.name for column in columns]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    quoted = ", ".join(f'"{name}"' for name in names)
    with cursor.copy(f'COPY "{of.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None or value is None else process(value)
                    for value, process in zip((row[name] for name in names), processors, strict=True)
                ]
            )


def defer_foreign_keys(connection: Connection) -> None:
    """Check foreign keys at commit: rows that name each other (an entry and its correction) go in together."""
    if connection.dialect.name == "sqlite":
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))


def reset_id_sequences(connection: Connection, names: Iterable[str]) -> None:
    """After explicit ids: PostgreSQL's sequences continue after the largest id (SQLite does so by itself)."""
    if connection.dialect.name != "postgresql":
        return
    for name in names:
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM \"{name}\"))")
        )


def shifted(value: datetime | date | None, days: int) -> Any:
    return None if value is None else value + timedelta(days=days)
