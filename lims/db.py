"""Database plumbing: the declarative base, engines and the request session."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from flask import current_app, g
from sqlalchemy import DateTime, Engine, Enum, MetaData, Table, create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import MANYTOONE, DeclarativeBase, Mapper, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from lims.errors import RecordNotFound

#: Stable constraint names, so alembic revisions name the same thing on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime; use lims.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def string_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    """A column of an enum's values, stored as text with a check constraint (the same on both engines)."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        length=32,
        create_constraint=True,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}
    # Every model maps a table of its own (SQLAlchemy allows any FROM clause, such as a join).
    __table__: ClassVar[Table]


#: The PostgreSQL advisory lock ("LIMSAUDT") that a writing transaction takes before its first write or row lock
#: and holds to its end. Every writer takes the same lock first, so no two writers ever wait on each other's rows
#: in opposite orders (a deadlock); the audit chain relies on it to append one transaction at a time.
WRITE_LOCK_KEY = 0x4C494D5341554454
_WRITE_LOCK_HELD = "lims.db.write_lock_held"
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "MERGE")
#: How a statement that locks rows says so: the row-locking clauses (``SELECT … FOR UPDATE`` and kin, as SQLAlchemy
#: writes them or in lower case) and the advisory locks a rule takes.
_LOCK_MARKS = (
    *(
        spelling
        for clause in ("FOR UPDATE", "FOR NO KEY UPDATE", "FOR SHARE", "FOR KEY SHARE")
        for spelling in (clause, clause.lower())
    ),
    "pg_advisory_xact_lock",
)
#: Planning every statement for its own values: the LIMS's statements filter on columns whose values are very
#: unequally common (a status: 500 batches in progress of 10,000) and on partial indexes, which a generic plan of a
#: prepared statement (used after its fifth run on a connection) cannot take into account; one was ten times slower.
_POSTGRESQL_OPTIONS = "-c plan_cache_mode=force_custom_plan"


def writes_or_locks(statement: str) -> bool:
    """Whether ``statement`` writes or locks rows, and so needs the write lock first.

    Plain substring tests rather than a regular expression: this runs before every statement, and searching a long
    SELECT for a case-insensitive pattern cost more than a tenth of a millisecond.
    """
    return statement[:16].lstrip().upper().startswith(_WRITE_VERBS) or any(mark in statement for mark in _LOCK_MARKS)


def hold_write_lock(connection: Connection) -> None:
    """Take the write lock in ``connection``'s transaction unless it holds it already.

    SQLite needs none: its transactions begin IMMEDIATE (see ``create_engine_for``), which serialises writers.
    """
    if connection.dialect.name != "postgresql" or connection.info.get(_WRITE_LOCK_HELD):
        return
    connection.info[_WRITE_LOCK_HELD] = True
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": WRITE_LOCK_KEY})


def _lock_before_writing(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if not connection.info.get(_WRITE_LOCK_HELD) and writes_or_locks(statement):
        hold_write_lock(connection)


def _write_lock_released(connection: Connection, *_args: Any) -> None:
    # An advisory transaction lock ends with the transaction; rolling back to a savepoint keeps it.
    connection.info.pop(_WRITE_LOCK_HELD, None)


def create_engine_for(url: str, **options: Any) -> Engine:
    """Create an engine with the per-engine settings the LIMS relies on, the audit hooks in place."""
    # Imported here: the audit modules build on this module's Base.
    from lims.audit import hooks as audit_hooks

    audit_hooks.install()
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": _POSTGRESQL_OPTIONS}, **options)
        event.listen(engine, "before_cursor_execute", _lock_before_writing)
        for transaction_end in ("begin", "commit", "rollback"):
            event.listen(engine, transaction_end, _write_lock_released)
        return engine
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy
        # emits BEGIN itself (see the "begin" hook) once this is off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Take the write lock up front: a WAL reader cannot later upgrade a
        # stale snapshot, so deferred writers would fail instead of waiting,
        # and the audit chain needs its appends serialised.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass
class Database:
    """The engine and session factory one app uses (``app.extensions['lims.db']``)."""

    engine: Engine
    #: what every session starts with in its ``info`` (where the audit trail's checkpoint file is)
    session_info: dict[str, Any] = field(default_factory=dict)
    session_factory: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False, info=self.session_info)

    def bind_to(self, connection: Connection) -> None:
        """Run every session inside ``connection``'s transaction (tests roll it back)."""
        self.session_factory = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint", info=self.session_info
        )


Record = TypeVar("Record")
#: the ids a record can have (an integer key); one beyond names no record, and the database would refuse it
STORABLE_IDS = range(1, 2**31)


def get_record(session: Session, model: type[Record], record_id: int, label: str) -> Record:
    """Load a record by id, or raise RecordNotFound naming what was looked for."""
    record = session.get(model, record_id) if record_id in STORABLE_IDS else None
    if record is None:
        raise RecordNotFound(f"There is no {label} with id {record_id}.")
    return record


def get_child(
    session: Session,
    model: type[Record],
    record_id: int,
    *,
    parent: Any,
    label: str,
    parent_label: str,
    field: str | None = None,
) -> Record:
    """Load a record by id among those of ``parent``, or raise RecordNotFound naming both.

    A record of another parent is answered exactly as an id never used: an address or a form that names a
    parent and a child reaches only that parent's children. ``field`` is the form field that named the child.
    """
    link = _link_to_parent(model, type(parent))
    not_found = RecordNotFound(f"{parent_label} has no {label} with id {record_id}.", field=field)
    if record_id not in STORABLE_IDS:
        raise not_found
    record = session.scalar(select(model).where(inspect(model).primary_key[0] == record_id, link == parent.id))
    if record is None:
        raise not_found
    return record


def _link_to_parent(model: type, parent_model: type) -> Any:
    """The column of ``model`` holding the id of its ``parent_model`` record (its one many-to-one link to it)."""
    mapper: Mapper[Any] = inspect(model)
    links = [
        link for link in mapper.relationships if link.mapper.class_ is parent_model and link.direction is MANYTOONE
    ]
    if len(links) != 1 or len(links[0].local_columns) != 1:
        raise TypeError(f"{model.__name__} has no single link to a {parent_model.__name__}.")
    (column,) = links[0].local_columns
    return column


def lock_for_update(session: Session, record: Any) -> None:
    """Reload ``record`` and hold its row until the transaction ends, so that a rule checked on it holds.

    PostgreSQL locks the row (SELECT … FOR UPDATE, after the write lock, as every row lock): a concurrent writer
    waits, then sees this one's outcome. SQLite needs nothing: its transactions begin IMMEDIATE, so writers never
    overlap.
    """
    session.refresh(record, with_for_update=True)


def serialise_numbering(session: Session, series: str) -> None:
    """Let one transaction at a time draw the next number of ``series`` (deviation numbers and the like)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:series))"), {"series": series})


def database() -> Database:
    return current_app.extensions["lims.db"]


def get_session() -> Session:
    """Return the session of the current request or CLI command."""
    if "db_session" not in g:
        g.db_session = database().session_factory()
    return g.db_session


def keep_changes_despite_refusal() -> None:
    """Commit this request's changes even though it answers with an error.

    A refused login still has to count the failed attempt.
    """
    g.keep_changes_on_refusal = True


def changes_kept_despite_refusal() -> bool:
    return bool(g.get("keep_changes_on_refusal"))


def record_at_request_end(work: Callable[[Session], None]) -> None:
    """Have ``work`` run as the request ends, and commit it whether the request's own changes are kept or not.

    What a request notes about itself (the activity of a signed-in session) holds even when it is refused;
    done last, its writes hold their rows for an instant only.
    """
    g.setdefault("request_end_work", []).append(work)


def finish_request_session(status_code: int) -> None:
    """Commit a successful request's work; roll back a refused one. Then commit what it records at its end."""
    db_session: Session | None = g.pop("db_session", None)
    end_work: list[Callable[[Session], None]] = g.pop("request_end_work", [])
    if db_session is None:
        return
    try:
        if not (status_code < 400 or g.pop("keep_changes_on_refusal", False)):
            db_session.rollback()
        for work in end_work:
            work(db_session)
        db_session.commit()
    finally:
        db_session.close()


def close_request_session(_exc: BaseException | None = None) -> None:
    db_session: Session | None = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
