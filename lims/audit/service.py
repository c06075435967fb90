"""Appending to the audit chain, and the flush hooks that audit controlled records."""
from __future__ import annotations

import csv
import enum
import gc
import hashlib
import io
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import chain
from multiprocessing.connection import Connection as MultiprocessingConnection
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, create_engine, event, func, inspect, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, UOWTransaction
from sqlalchemy.orm.attributes import History
from sqlalchemy.pool import NullPool

from lims import clock
from lims.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent, Controlled
from lims.db import Base
from lims.errors import Conflict, InvalidInput, RecordNotFound
from lims.units.measurement import Measurement

logger = logging.getLogger("lims.audit")

_ACTOR = "lims.audit.actor"
_REASON = "lims.audit.reason"
_HEAD = "lims.audit.head"
_PENDING = "lims.audit.pending"
# pg_advisory_xact_lock key that serialises appends ("LIMSAUDT").
CHAIN_LOCK_KEY = 0x4C494D5341554454
_EVENT_TABLE = AuditEvent.__table__
REDACTED = "[redacted]"


class DeletionRefused(Conflict):
    """Regulated records are never hard-deleted; deletion is a status change with a reason."""


class ReasonRequired(InvalidInput):
    def __init__(self, message: str = "Give the reason for this change.") -> None:
        super().__init__(message, field="reason")


@dataclass(frozen=True)
class Actor:
    """Who a session's changes are attributed to, and where the request came from."""

    user_id: int | None
    name: str
    request_id: str | None = None
    client_address: str | None = None


SYSTEM = Actor(None, "system")


def act_as(session: Session, actor: Actor) -> None:
    """Attribute what ``session`` records from now on to ``actor``."""
    session.info[_ACTOR] = actor


def current_actor(session: Session) -> Actor:
    return session.info.get(_ACTOR, SYSTEM)


def attribute_to(session: Session, user_id: int, name: str) -> None:
    """Attribute what follows to a user who just proved who they are, keeping the request's details."""
    act_as(session, replace(current_actor(session), user_id=user_id, name=name))


@contextmanager
def reason_for_change(session: Session, reason: str | None) -> Iterator[None]:
    """Make ``reason`` the recorded reason of the changes made inside the block, and of no change made before it."""
    stated = (reason or "").strip()
    if not stated:
        raise ReasonRequired()
    # Changes still pending from before the block are flushed without this reason, or refused for want of one.
    session.flush()
    previous = session.info.get(_REASON)
    session.info[_REASON] = stated
    try:
        yield
        session.flush()
    finally:
        if previous is None:
            session.info.pop(_REASON, None)
        else:
            session.info[_REASON] = previous


def stable_value(value: Any) -> Any:
    """Return ``value`` as JSON whose text never varies for the same value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, enum.Enum):
        return stable_value(value.value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Measurement):
        return f"{stable_value(value.value)} {value.unit}".rstrip()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [stable_value(item) for item in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_RECORDED_AT = HASHED_FIELDS.index("recorded_at")


def canonical_payload(fields: Mapping[str, Any]) -> str:
    """An event's payload, the text its hash covers: a JSON array of its HASHED_FIELDS, times in UTC."""
    values = [fields[field] for field in HASHED_FIELDS]
    recorded_at = values[_RECORDED_AT]
    if isinstance(recorded_at, datetime):
        values[_RECORDED_AT] = stable_value(recorded_at)
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def event_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def _reserve_next(connection: Connection) -> tuple[int, str]:
    head = connection.info.get(_HEAD)
    if head is None:
        if connection.dialect.name == "postgresql":
            # Held to the end of the transaction: no other writer reads the
            # head until this one's events are committed or rolled back.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
        # SQLite needs no lock here: its transactions begin IMMEDIATE (see lims.db).
        latest = connection.execute(
            select(AuditEvent.sequence, AuditEvent.hash).order_by(AuditEvent.sequence.desc()).limit(1)
        ).first()
        head = (latest.sequence, latest.hash) if latest else (0, GENESIS_HASH)
    return head[0] + 1, head[1]


def append(
    session: Session,
    action: str,
    *,
    entity_type: str | None = None,
    entity_id: Any = None,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Append one event to the chain in the session's transaction; return the stored row.

    ``changes`` holds values already made stable (``stable_value``), as the flush hooks and ``record`` make them.
    """
    actor = current_actor(session)
    connection = session.connection()
    sequence, prev_hash = _reserve_next(connection)
    row: dict[str, Any] = {
        "sequence": sequence,
        "recorded_at": clock.now(),
        "user_id": actor.user_id,
        "user_name": actor.name,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "changes": None if changes is None else canonical_json(changes),
        "reason": reason if reason is not None else session.info.get(_REASON),
        "request_id": actor.request_id,
        "client_address": actor.client_address,
        "prev_hash": prev_hash,
    }
    row["payload"] = canonical_payload(row)
    row["hash"] = event_hash(row["payload"])
    _defer_insert(connection, {"sequence": sequence, "payload": row["payload"], "hash": row["hash"]})
    connection.info[_HEAD] = (sequence, row["hash"])
    if logger.isEnabledFor(logging.INFO):
        fields = {field: row[field] for field in (*HASHED_FIELDS, "hash")}
        logger.info(canonical_json(stable_value_map(fields)), extra={"audit_event": fields})
    return row


#: The driver's own insert of an event, by dialect: Core's per-statement work would cost more than the insert.
_EVENT_INSERT = {
    dialect: f"INSERT INTO {_EVENT_TABLE.name} (sequence, payload, hash) VALUES ({placeholders})"
    for dialect, placeholders in [("postgresql", "%(sequence)s, %(payload)s, %(hash)s"),
                                  ("sqlite", ":sequence, :payload, :hash")]
}


def _defer_insert(connection: Connection, event_row: dict[str, Any]) -> None:
    """Queue an event row for insertion.

    Every audited change pays for its event, and a round trip per event costs more than the change's own
    statement on a networked database. So events wait on the connection and go in together, as one
    executemany through the driver, when anything reads the audit table, when a savepoint starts or
    ends and when the transaction commits (see the connection hooks below): the change and its event
    still commit or roll back together, and an event that cannot be written fails the commit.
    """
    connection.info.setdefault(_PENDING, []).append(event_row)


def _write_pending(connection: Connection, *_args: Any) -> None:
    pending = connection.info.pop(_PENDING, None)
    if pending:
        connection.exec_driver_sql(_EVENT_INSERT[connection.dialect.name], pending)


def stable_value_map(values: dict[str, Any]) -> dict[str, Any]:
    return {key: stable_value(value) for key, value in values.items()}


def record(session: Session, action: str, *, entity: Any = None, details: dict[str, Any] | None = None,
           reason: str | None = None) -> dict[str, Any]:
    """Audit an event that is not a record change (a login, an export, a refusal)."""
    entity_type, entity_id = (entity_key(entity) if entity is not None else (None, None))
    return append(session, action, entity_type=entity_type, entity_id=entity_id,
                  changes=None if details is None else stable_value_map(details), reason=reason)


def entity_key(instance: Any) -> tuple[str, str]:
    # Read from the columns: a row inserted by the flush under way has no identity key yet.
    primary_key = inspect(instance).mapper.primary_key_from_instance(instance)
    return instance.__tablename__, "-".join(str(part) for part in primary_key)


# Automatic auditing of controlled records


@lru_cache(maxsize=None)
def _columns_of_composites(mapper: Mapper[Any]) -> dict[str, list[str]]:
    """The attribute keys of each composite's columns: a quantity is recorded whole, value with its unit, not as
    the two columns it is kept in. Fixed per mapper, and asked on every audited change."""
    return {composite.key: [mapper.get_property_by_column(column).key for column in composite.columns]
            for composite in mapper.composites}


def _composite_history(instance: Controlled, key: str, column_keys: list[str]) -> tuple[Any, Any]:
    """(old, new) of a composite attribute, built from its columns' histories; None where every column is None."""
    state = inspect(instance)
    olds, news = [], []
    for column_key in column_keys:
        history = state.attrs[column_key].history
        unchanged = history.unchanged[0] if history.unchanged else None
        olds.append(history.deleted[0] if history.deleted else unchanged)
        news.append(history.added[0] if history.added else unchanged)
    composite_class = state.mapper.composites[key].composite_class

    def whole(values: list[Any]) -> Any:
        return None if all(value is None for value in values) else composite_class(*values)

    return whole(olds), whole(news)


def _label(item: Any) -> str:
    return str(item)


def _column_changes(instance: Controlled, *, include_unchanged: bool) -> dict[str, list[Any]]:
    state = inspect(instance)
    mapper = state.mapper
    columns_of_composites = _columns_of_composites(mapper)
    in_composites = {key for keys in columns_of_composites.values() for key in keys}
    # A new record lists every attribute; on an update only those the unit of
    # work saw modified can have history, so the rest need not be looked at.
    keys = [*mapper.column_attrs.keys(), *mapper.relationships.keys()] if include_unchanged \
        else list(state.committed_state)
    changes: dict[str, list[Any]] = {}
    for composite_key, column_keys in columns_of_composites.items():
        if composite_key not in instance.audit_system_fields and (
                include_unchanged or any(key in state.committed_state for key in column_keys)):
            old, new = _composite_history(instance, composite_key, column_keys)
            if include_unchanged or old != new:
                changes[composite_key] = [stable_value(old), stable_value(new)]
    for key in keys:
        if key in instance.audit_system_fields or key in in_composites:
            continue
        if key in mapper.column_attrs:
            history: History = state.attrs[key].history
            if history.has_changes():
                old = history.deleted[0] if history.deleted else None
                new = history.added[0] if history.added else None
            elif include_unchanged:
                old, new = None, state.dict.get(key)
            else:
                continue
            if key in instance.audit_redacted_fields:
                old, new = (REDACTED if old is not None else None), REDACTED
            changes[key] = [stable_value(old), stable_value(new)]
        # Of the relationships, only many-to-many links live outside the record's own columns.
        elif key in mapper.relationships and mapper.relationships[key].secondary is not None:
            history = state.attrs[key].history
            if history.has_changes():
                kept = [_label(item) for item in history.unchanged]
                changes[key] = [
                    sorted(kept + [_label(item) for item in history.deleted]),
                    sorted(kept + [_label(item) for item in history.added]),
                ]
    return changes


@event.listens_for(Session, "before_flush")
def _refuse_deletes_and_require_reasons(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    for instance in session.deleted:
        if isinstance(instance, Controlled):
            raise DeletionRefused(f"This {instance.__tablename__.replace('_', ' ')} is a regulated record and is never "
                                  "deleted: retire, cancel or void it with a reason instead.")
    if session.info.get(_REASON):
        return
    for instance in session.dirty:
        if isinstance(instance, Controlled) and _column_changes(instance, include_unchanged=False):
            raise ReasonRequired(f"Give the reason for changing this {instance.__tablename__.replace('_', ' ')}.")


@event.listens_for(Session, "after_flush")
def _audit_flushed_changes(session: Session, _context: UOWTransaction) -> None:
    for instance in list(session.new):
        if isinstance(instance, Controlled):
            entity_type, entity_id = entity_key(instance)
            append(session, "create", entity_type=entity_type, entity_id=entity_id,
                   changes=_column_changes(instance, include_unchanged=True))
    for instance in list(session.dirty):
        if isinstance(instance, Controlled):
            changes = _column_changes(instance, include_unchanged=False)
            if changes:
                entity_type, entity_id = entity_key(instance)
                append(session, "update", entity_type=entity_type, entity_id=entity_id, changes=changes)


@event.listens_for(Engine, "begin")
@event.listens_for(Engine, "rollback")
@event.listens_for(Engine, "rollback_savepoint")
def _forget_head(connection: Connection, *_args: Any) -> None:
    # The head is cached on the connection, shared by every session that works
    # in its transaction, and holds while that transaction holds the chain: a
    # new transaction, or a rollback that may undo appends, ends it. Pending
    # events never outlive a savepoint's start (see below), so those a savepoint
    # rollback discards are all its own.
    connection.info.pop(_HEAD, None)
    connection.info.pop(_PENDING, None)


event.listen(Engine, "commit", _write_pending)
event.listen(Engine, "savepoint", _write_pending)
event.listen(Engine, "release_savepoint", _write_pending)


@event.listens_for(Engine, "before_cursor_execute")
def _write_pending_before_reading(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if _PENDING in connection.info and _EVENT_TABLE.name in statement:
        _write_pending(connection)


# Verification and anchoring


class BreakKind(enum.StrEnum):
    HASH_MISMATCH = "hash mismatch"
    BROKEN_LINK = "broken link"
    GAP = "gap"
    CHECKPOINT_MISMATCH = "head disagrees with checkpoint"


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    kind: BreakKind
    detail: str


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str
    written_at: datetime


class _Anchors:
    """The hashes the checkpoints recorded, by sequence: every one must still hold, not only the latest.

    Each checkpoint anchors the head as it then was; were only the latest compared, a chain rewritten
    before it was written would pass as anchored.
    """

    def __init__(self, checkpoints: Sequence[Checkpoint]) -> None:
        self._recorded: dict[int, list[Checkpoint]] = {}
        # A checkpoint of an empty chain (sequence 0) anchors no event.
        for checkpoint in checkpoints:
            if checkpoint.sequence > 0:
                self._recorded.setdefault(checkpoint.sequence, []).append(checkpoint)
        #: the anchored events' sequences, ascending
        self.sequences = sorted(self._recorded)

    def disagreeing(self, sequence: int, hash_value: str) -> Checkpoint | None:
        """The first checkpoint that recorded another hash for event ``sequence``, if any."""
        return next((checkpoint for checkpoint in self._recorded.get(sequence, ()) if checkpoint.hash != hash_value),
                    None)

    def between(self, after: int, last: int) -> list[int]:
        """The anchored sequences in ``after`` < sequence <= ``last``."""
        return self.sequences[bisect_right(self.sequences, after):bisect_right(self.sequences, last)]

    def beyond(self, head_sequence: int) -> Checkpoint | None:
        """The checkpoint of the furthest event past ``head_sequence``, if one recorded such an event."""
        if not self.sequences or self.sequences[-1] <= head_sequence:
            return None
        return self._recorded[self.sequences[-1]][0]


@dataclass(frozen=True)
class Verification:
    #: the events verified, from the first: the chain holds up to this sequence
    events_checked: int
    head_hash: str
    #: every checkpoint the chain was compared with, in the order they were written
    checkpoints: tuple[Checkpoint, ...]
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None

    @property
    def head_sequence(self) -> int:
        """The last event verified; the chain is gap-free from 1, so its sequence is the count."""
        return self.events_checked

    def summary(self) -> str:
        if self.first_break is not None:
            return (f"Audit trail broken at event {self.first_break.sequence}: "
                    f"{self.first_break.kind.value} ({self.first_break.detail}).")
        if not self.checkpoints:
            anchored = "; not anchored: no checkpoint written yet, so a rewrite of the whole chain would not show"
        else:
            latest = self.checkpoints[-1]
            compared = "the checkpoint" if len(self.checkpoints) == 1 else f"all {len(self.checkpoints)} checkpoints"
            anchored = (f"; matches {compared}, the latest of event {latest.sequence} "
                        f"written {latest.written_at.isoformat(timespec='seconds')}")
        return f"Audit trail intact: {self.events_checked} events, head {self.head_sequence} {self.head_hash[:16]}…{anchored}."


def count_events(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(_EVENT_TABLE)).scalar_one()


#: Events read and checked together: enough that a statement's own cost does not count, few enough that the
#: database assembles each batch in memory it reuses (at 10,000 PostgreSQL spent more time faulting in fresh
#: pages for the batch than reading it).
VERIFY_BATCH = 2_000
#: Batches read ahead of the one being hashed, so that neither the database nor the hashing waits on the other.
_BATCHES_READ_AHEAD = 2
#: A long chain is checked in parts, one a core, each by a process of its own (hashing in Python holds the
#: interpreter, so threads would take turns); a part shorter than this is checked sooner than a process starts.
EVENTS_PER_PROCESS = 100_000

#: SQLite: one batch of a part of the chain, as a statement of its own (an in-process read costs no round trip):
#: how many events, the last one's sequence, the payloads a line each (JSON holds no raw line break) and the
#: hashes, each framed as a payload ends: ,"<hash>"] (see _batch_holds). The string aggregate keeps the order of
#: the sorted subquery; were it ever not to, the batch would fail the bulk check and be walked event by event,
#: which reports only real breaks.
_READ_BATCH_ON_SQLITE = text("""
SELECT count(*) AS events, max(sequence) AS last_sequence, group_concat(payload, char(10)) AS payloads,
       group_concat(',"' || hash || '"]', '') AS framed_hashes
FROM (SELECT sequence, payload, hash FROM audit_event WHERE sequence > :after AND sequence <= :last
      ORDER BY sequence LIMIT :size) batch
""")
#: PostgreSQL: the same batches, one per range of sequences, streamed by one COPY: no round trip a batch, and the
#: server assembles each batch in memory it reuses, where a statement a batch faulted in fresh pages each time.
_COPY_BATCHES_ON_POSTGRESQL = """
COPY (SELECT batch.* FROM generate_series(0, (%(last)s - %(after)s - 1) / %(size)s) AS number, LATERAL (
        SELECT count(*), max(sequence), string_agg(payload, chr(10)), string_agg(',"' || hash || '"]', '')
        FROM (SELECT sequence, payload, hash FROM audit_event
              WHERE sequence > %(after)s + number * %(size)s
                AND sequence <= least(%(after)s + (number + 1) * %(size)s, %(last)s)
              ORDER BY sequence) events) batch)
TO STDOUT (FORMAT BINARY)
"""
_FRAME = len(',"' + GENESIS_HASH + '"]')


@dataclass(frozen=True)
class _Part:
    """The events after ``after`` up to ``last``, checked as one."""

    after: int
    last: int


@dataclass(frozen=True)
class _Batch:
    after: int
    events: int
    last_sequence: int
    #: UTF-8, one payload a line
    payloads: bytes
    framed_hashes: str

    def hash_at(self, sequence: int) -> str:
        start = (sequence - self.after - 1) * _FRAME + 2
        return self.framed_hashes[start:start + 64]

    @property
    def last_hash(self) -> str:
        return self.hash_at(self.last_sequence)


@dataclass(frozen=True)
class _Outcome:
    """How far a part of the chain holds: up to which event, its hash, and what is wrong after it, if anything."""

    verified_to: int
    head_hash: str
    first_break: ChainBreak | None = None


def _read_batches(connection: Connection, part: _Part, batch_size: int) -> Iterator[_Batch]:
    """The batches of ``part``; each batch's ``after`` is the last event read before it, so a gap fails its check."""
    read = _copy_rows if connection.dialect.name == "postgresql" else _select_rows
    after = part.after
    with closing(read(connection, part, batch_size)) as rows:
        for events, last_sequence, payloads, framed_hashes in rows:
            if events:
                yield _Batch(after, events, last_sequence, payloads, framed_hashes.decode())
                after = last_sequence


def _select_rows(connection: Connection, part: _Part, batch_size: int) -> Iterator[tuple[int, int, bytes, bytes]]:
    after = part.after
    while after < part.last:
        row = connection.execute(_READ_BATCH_ON_SQLITE, {"after": after, "last": part.last, "size": batch_size}).one()
        if not row.events:
            return
        yield row.events, row.last_sequence, row.payloads.encode(), row.framed_hashes.encode()
        after = row.last_sequence


def _copy_rows(connection: Connection, part: _Part, batch_size: int) -> Iterator[tuple[int, int, bytes, bytes]]:
    if part.last <= part.after:
        return
    # The plan's estimated cost would have it compiled first, which takes longer than running it.
    jit = connection.exec_driver_sql("SHOW jit").scalar_one()
    connection.exec_driver_sql("SET LOCAL jit = off")
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(_COPY_BATCHES_ON_POSTGRESQL, {"after": part.after, "last": part.last, "size": batch_size}) as copy:
        # Texts read as the UTF-8 bytes they are sent as, which is what is hashed.
        copy.set_types(["int8", "int8", "bytea", "bytea"])
        rows = copy.rows()
        try:
            for row in rows:
                yield row
        finally:
            # A COPY left early holds the connection (and cancelling it would abort the transaction): read it out.
            for _unread in rows:
                pass
    connection.exec_driver_sql("SELECT set_config('jit', %(jit)s, true)", {"jit": jit})


def _batch_holds(batch: _Batch, previous_hash: str, anchors: _Anchors) -> bool:
    """Whether every event of the batch is in its place, linked, unaltered and as the checkpoints recorded it.

    Checked in bulk, which keeps pace with bare hashing; a batch that fails is walked event by event
    (``_first_break``) to find what is wrong and where.
    """
    if batch.last_sequence - batch.after != batch.events or len(batch.framed_hashes) != batch.events * _FRAME:
        return False
    payloads = batch.payloads.split(b"\n")
    if len(payloads) != batch.events:
        return False
    # A payload ends with its prev_hash, the last item of its JSON array: ,"<the hash before it>"]
    framed_previous = f',"{previous_hash}"]' + batch.framed_hashes[:-_FRAME]
    if b"".join([payload[-_FRAME:] for payload in payloads]) != framed_previous.encode():
        return False
    sha256 = hashlib.sha256
    if ',"' + '"],"'.join([sha256(payload).hexdigest() for payload in payloads]) + '"]' != batch.framed_hashes:
        return False
    return not any(anchors.disagreeing(sequence, batch.hash_at(sequence))
                   for sequence in anchors.between(batch.after, batch.last_sequence))


def _checked_batches(connection: Connection, part: _Part, previous_hash: str, anchors: _Anchors,
                     batch_size: int) -> Iterator[tuple[_Batch, str, bool]]:
    """Each batch of ``part``, the hash before it and whether it holds; hashed while the database reads the next."""
    in_flight: deque[tuple[_Batch, str, Future[bool]]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as hasher, \
            closing(_read_batches(connection, part, batch_size)) as batches:
        try:
            for batch in chain(batches, [None]):
                if batch is not None:
                    in_flight.append((batch, previous_hash, hasher.submit(_batch_holds, batch, previous_hash, anchors)))
                    previous_hash = batch.last_hash
                while in_flight and (batch is None or len(in_flight) > _BATCHES_READ_AHEAD):
                    checked, hash_before, holds = in_flight.popleft()
                    yield checked, hash_before, holds.result()
        finally:
            hasher.shutdown(cancel_futures=True)


def verify_chain(
    connection: Connection,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    progress: Callable[[int], None] | None = None,
    batch_size: int = VERIFY_BATCH,
    processes: int | None = None,
) -> Verification:
    """Recompute every hash and link in order, compare the chain with every checkpoint; report the first break.

    A chain of EVENTS_PER_PROCESS events a core or more is checked in as many parts at once, all but the last
    by worker processes with connections of their own (``processes`` sets how many parts). A worker only
    says whether its part holds; every part it cannot vouch for, because it is broken or because the
    worker cannot see it (events not yet committed, a database only this connection reaches), is checked
    again through ``connection``, which alone decides what is reported.
    """
    checkpoints = tuple(checkpoints)
    anchors = _Anchors(checkpoints)
    report = progress or (lambda _events: None)
    head = connection.execute(select(func.max(AuditEvent.sequence))).scalar() or 0
    parts = _parts(connection, head, processes)
    hashes_before = _hashes_before(connection, parts)
    with _Workers(connection.engine, parts[:-1], hashes_before, anchors, batch_size) as workers:
        def report_with_workers(events: int) -> None:
            report(events)
            workers.forward_progress(report)

        last_part = _verify_part(connection, parts[-1], hashes_before[-1], anchors, batch_size, report_with_workers)
        for index, part in enumerate(parts[:-1]):
            if workers.part_holds(index, report):
                continue
            outcome = _verify_part(connection, part, hashes_before[index], anchors, batch_size,
                                   _unreported(report, workers.reported[index]))
            if outcome.first_break is not None:
                return Verification(outcome.verified_to, outcome.head_hash, checkpoints, outcome.first_break)
            if outcome.verified_to < part.last:
                return Verification(outcome.verified_to, outcome.head_hash, checkpoints,
                                    _missing_after(connection, outcome.verified_to))
    first_break = last_part.first_break or _checkpoint_beyond_head(anchors, last_part.verified_to)
    return Verification(last_part.verified_to, last_part.head_hash, checkpoints, first_break)


def processes_for(events: int) -> int:
    """How many processes verify a chain of ``events`` at once: one a core, each with EVENTS_PER_PROCESS or more."""
    return max(1, min(os.cpu_count() or 1, events // EVENTS_PER_PROCESS))


def _parts(connection: Connection, head: int, processes: int | None) -> list[_Part]:
    if processes is None:
        processes = processes_for(head) if _shared_database(connection) else 1
    processes = max(1, min(processes, head))
    bounds = [head * number // processes for number in range(processes + 1)]
    return [_Part(after, last) for after, last in zip(bounds, bounds[1:])]


def _shared_database(connection: Connection) -> bool:
    """Whether another process can open the database ``connection`` is on (an in-memory SQLite one it cannot)."""
    url = connection.engine.url
    if url.get_backend_name() != "sqlite":
        return True
    return (url.database or ":memory:") != ":memory:" and url.query.get("mode") != "memory"


def _hashes_before(connection: Connection, parts: list[_Part]) -> list[str]:
    """The stored hash of the event before each part: the link its first event must hold."""
    stored = dict(connection.execute(select(AuditEvent.sequence, AuditEvent.hash)
                                     .where(AuditEvent.sequence.in_([part.after for part in parts[1:]]))).all())
    # A missing event links nothing; the part before it reports the gap.
    return [GENESIS_HASH] + [stored.get(part.after, "") for part in parts[1:]]


def _unreported(progress: Callable[[int], None], already: int) -> Callable[[int], None]:
    """``progress``, passed only the events beyond the first ``already``, which a worker reported."""
    remaining = already

    def report(events: int) -> None:
        nonlocal remaining
        skipped = min(events, remaining)
        remaining -= skipped
        if events > skipped:
            progress(events - skipped)

    return report


def _verify_part(connection: Connection, part: _Part, previous_hash: str, anchors: _Anchors, batch_size: int,
                 progress: Callable[[int], None]) -> _Outcome:
    verified_to, head_hash = part.after, previous_hash
    while True:
        verified_to, head_hash, failed = _check_in_bulk(connection, _Part(verified_to, part.last), head_hash, anchors,
                                                        batch_size, progress)
        if failed is None:
            return _Outcome(verified_to, head_hash)
        # Walked once the reading has stopped: the connection reads one thing at a time.
        broken = _first_break(connection, *failed, anchors)
        if broken is not None:
            return broken
        verified_to, head_hash = failed[0].last_sequence, failed[0].last_hash
        progress(failed[0].events)


def _check_in_bulk(connection: Connection, part: _Part, previous_hash: str, anchors: _Anchors, batch_size: int,
                   progress: Callable[[int], None]) -> tuple[int, str, tuple[_Batch, str] | None]:
    """How far ``part`` holds, batch by batch: the last event and hash of the batches that held, then the first batch
    that did not and the hash before it, if any. Its reading has stopped when this returns."""
    verified_to, head_hash = part.after, previous_hash
    with closing(_checked_batches(connection, part, previous_hash, anchors, batch_size)) as batches:
        for batch, hash_before, holds in batches:
            if not holds:
                return verified_to, head_hash, (batch, hash_before)
            verified_to, head_hash = batch.last_sequence, batch.last_hash
            progress(batch.events)
    return verified_to, head_hash, None


def _missing_after(connection: Connection, verified_to: int) -> ChainBreak:
    following = connection.execute(select(func.min(AuditEvent.sequence))
                                   .where(AuditEvent.sequence > verified_to)).scalar()
    return _break_at(following, verified_to + 1, link_holds=False, hash_holds=False)


class _Workers:
    """Worker processes checking parts of the chain, each reporting the events it checked, then whether its part holds.

    Forked, so a worker starts at once with what it needs; it opens a connection of its own and keeps
    nothing it inherited.
    """

    def __init__(self, engine: Engine, parts: list[_Part], hashes_before: list[str], anchors: _Anchors,
                 batch_size: int) -> None:
        self.engine, self.parts, self.hashes_before, self.anchors = engine, parts, hashes_before, anchors
        self.batch_size = batch_size
        #: events each worker has reported checked
        self.reported = [0] * len(parts)
        self._holds: list[bool | None] = [None] * len(parts)
        self._readers: list[MultiprocessingConnection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []

    def __enter__(self) -> _Workers:
        context = multiprocessing.get_context("fork")
        for index, part in enumerate(self.parts):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_check_part_in_worker, daemon=True, name=f"audit-verify-{index + 1}",
                                      args=(self.engine, part, self.hashes_before[index], self.anchors,
                                            self.batch_size, writer))
            process.start()
            writer.close()
            self._readers.append(reader)
            self._processes.append(process)
        return self

    def __exit__(self, *_exception: Any) -> None:
        for process in self._processes:
            process.kill()
            process.join()
        for reader in self._readers:
            reader.close()

    def forward_progress(self, progress: Callable[[int], None]) -> None:
        """Pass on what the workers have reported so far, without waiting for more."""
        for index, reader in enumerate(self._readers):
            while self._holds[index] is None and reader.poll():
                self._receive(index, progress)

    def part_holds(self, index: int, progress: Callable[[int], None]) -> bool:
        """Wait for the worker of part ``index`` to finish; whether its part holds."""
        while self._holds[index] is None:
            self.forward_progress(progress)
            if self._holds[index] is None:
                multiprocessing.connection.wait([self._readers[index]])
                self._receive(index, progress)
        return bool(self._holds[index])

    def _receive(self, index: int, progress: Callable[[int], None]) -> None:
        try:
            kind, value = self._readers[index].recv()
        except (EOFError, OSError):
            kind, value = "holds", False  # the worker died: its part is checked here instead
        if kind == "checked":
            self.reported[index] += value
            progress(value)
        else:
            self._holds[index] = value


def _check_part_in_worker(parent_engine: Engine, part: _Part, previous_hash: str, anchors: _Anchors, batch_size: int,
                          results: MultiprocessingConnection) -> None:
    # What the process inherited is the parent's to collect: a connection finalised here would close the parent's.
    gc.freeze()
    holds = False
    try:
        engine = _engine_for_worker(parent_engine)
        try:
            with engine.connect() as connection:
                verified_to, _head_hash, failed = _check_in_bulk(
                    connection, part, previous_hash, anchors, batch_size,
                    lambda events: results.send(("checked", events)))
            holds = failed is None and verified_to == part.last
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - the calling process checks the part itself
        logger.warning("A worker could not check audit events %d to %d; the calling process checks them.",
                       part.after + 1, part.last, exc_info=True)
    results.send(("holds", holds))
    results.close()


def _engine_for_worker(parent_engine: Engine) -> Engine:
    """The parent's engine with a pool of its own, its dialect already set up; on SQLite a plain engine instead,
    because the LIMS begins every SQLite transaction IMMEDIATE, as a writer, and a worker only reads."""
    if parent_engine.dialect.name == "sqlite":
        return create_engine(parent_engine.url, poolclass=NullPool)
    # The pool's connections are the parent's: left alone, not closed.
    parent_engine.dispose(close=False)
    return parent_engine


def _checkpoint_beyond_head(anchors: _Anchors, head_sequence: int) -> ChainBreak | None:
    checkpoint = anchors.beyond(head_sequence)
    if checkpoint is None:
        return None
    return ChainBreak(head_sequence + 1, BreakKind.CHECKPOINT_MISMATCH,
                      f"the chain ends at event {head_sequence} but the checkpoint written "
                      f"{checkpoint.written_at.isoformat(timespec='seconds')} recorded event {checkpoint.sequence}")


def _break_at(sequence: int | None, position: int, *, link_holds: bool, hash_holds: bool) -> ChainBreak:
    """The first thing wrong with the event at ``position`` in the chain, checked in the order the chain is built.

    ``sequence`` is that of the event found there; None if none follows.
    """
    if sequence is None:
        return ChainBreak(position, BreakKind.GAP, f"events from {position} on are missing")
    if sequence != position:
        return ChainBreak(position, BreakKind.GAP, f"events {position} to {sequence - 1} are missing")
    if not link_holds:
        return ChainBreak(sequence, BreakKind.BROKEN_LINK, "its prev_hash is not the hash of the event before it")
    if not hash_holds:
        return ChainBreak(sequence, BreakKind.HASH_MISMATCH,
                          "its content does not match its hash: it was altered after it was written")
    return ChainBreak(sequence, BreakKind.CHECKPOINT_MISMATCH,
                      "the chain was rewritten since a checkpoint recorded this event")


def _first_break(connection: Connection, batch: _Batch, previous_hash: str, anchors: _Anchors) -> _Outcome | None:
    """Walk a batch that failed the bulk check event by event; how far the chain holds up to its first break."""
    position, head_hash = batch.after + 1, previous_hash
    rows = connection.execute(
        select(AuditEvent.sequence, AuditEvent.payload, AuditEvent.hash)
        .where(AuditEvent.sequence > batch.after).order_by(AuditEvent.sequence).limit(batch.events)
    )
    for row in rows:
        # Exactly "its last item is head_hash", as the database holds payloads to valid JSON.
        link_holds = row.payload.endswith(f',"{head_hash}"]')
        hash_holds = event_hash(row.payload) == row.hash
        if row.sequence != position or not link_holds or not hash_holds or anchors.disagreeing(row.sequence, row.hash):
            return _Outcome(position - 1, head_hash,
                            _break_at(row.sequence, position, link_holds=link_holds, hash_holds=hash_holds))
        position, head_hash = position + 1, row.hash
    return None


class AnchorRefused(Conflict):
    """The chain no longer holds what an earlier checkpoint recorded: anchoring it now would vouch for a rewrite."""


#: Anchored sequences looked up in one statement when a new checkpoint is written.
_ANCHOR_LOOKUP = 1000


def write_checkpoint(connection: Connection, path: Path) -> Checkpoint:
    """Append the chain's current head to the checkpoint file outside the database.

    Refused while any earlier checkpoint disagrees with the chain: the new one would anchor the rewrite.
    """
    _refuse_if_rewritten(connection, read_checkpoints(path))
    head = connection.execute(
        select(AuditEvent.sequence, AuditEvent.hash).order_by(AuditEvent.sequence.desc()).limit(1)
    ).first()
    checkpoint = Checkpoint(head.sequence if head else 0, head.hash if head else GENESIS_HASH, clock.now())
    path.parent.mkdir(parents=True, exist_ok=True)
    line = canonical_json({"sequence": checkpoint.sequence, "hash": checkpoint.hash,
                           "written_at": stable_value(checkpoint.written_at)})
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return checkpoint


def _refuse_if_rewritten(connection: Connection, checkpoints: Sequence[Checkpoint]) -> None:
    anchors = _Anchors(checkpoints)
    for start in range(0, len(anchors.sequences), _ANCHOR_LOOKUP):
        wanted = anchors.sequences[start:start + _ANCHOR_LOOKUP]
        held = dict(connection.execute(select(AuditEvent.sequence, AuditEvent.hash)
                                       .where(AuditEvent.sequence.in_(wanted))).all())
        for sequence in wanted:
            # A missing event disagrees with every hash recorded for it.
            checkpoint = anchors.disagreeing(sequence, held.get(sequence, ""))
            if checkpoint is not None:
                now = "no longer has the hash it recorded" if sequence in held else "is missing"
                raise AnchorRefused(
                    f"No checkpoint written: event {sequence}, anchored by the checkpoint written "
                    f"{checkpoint.written_at.isoformat(timespec='seconds')}, {now}. "
                    "Run `lims audit verify` and investigate before anchoring the chain again.")


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint written to ``path``, oldest first; none if the file does not exist yet."""
    if not path.exists():
        return []
    checkpoints = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            checkpoints.append(Checkpoint(int(data["sequence"]), str(data["hash"]),
                                          datetime.fromisoformat(data["written_at"])))
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidInput(f"Line {number} of the checkpoint file {path} is not a checkpoint: {error}") from error
    return checkpoints


# Reading the trail


@dataclass(frozen=True)
class EventFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    #: (entity type, entity id) of every record whose events match, when a history spans a record and its parts
    records: tuple[tuple[str, str], ...] = ()
    user_id: int | None = None
    #: any of these actions
    actions: tuple[str, ...] = ()
    recorded_from: datetime | None = None
    #: exclusive upper bound
    recorded_until: datetime | None = None
    text: str = ""


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    #: pass as ``before`` to get the next (older) page; None on the last page
    next_before: int | None
    #: pass as ``after`` to get the previous (newer) page; None on the first page
    previous_after: int | None = None


def _filtered(criteria: EventFilter) -> Select[tuple[AuditEvent]]:
    query = select(AuditEvent)
    if criteria.entity_type:
        query = query.where(AuditEvent.entity_type == criteria.entity_type)
    if criteria.entity_id:
        query = query.where(AuditEvent.entity_id == criteria.entity_id)
    if criteria.records:
        ids_by_type: dict[str, list[str]] = {}
        for entity_type, entity_id in criteria.records:
            ids_by_type.setdefault(entity_type, []).append(entity_id)
        query = query.where(or_(*(and_(AuditEvent.entity_type == entity_type, AuditEvent.entity_id.in_(ids))
                                  for entity_type, ids in ids_by_type.items())))
    if criteria.user_id is not None:
        query = query.where(AuditEvent.user_id == criteria.user_id)
    if criteria.actions:
        query = query.where(AuditEvent.action.in_(criteria.actions))
    if criteria.recorded_from is not None:
        query = query.where(AuditEvent.recorded_at >= criteria.recorded_from)
    if criteria.recorded_until is not None:
        query = query.where(AuditEvent.recorded_at < criteria.recorded_until)
    if criteria.text:
        # The payload holds the text as JSON does, and the changes as JSON within JSON: escaped once or twice.
        escaped_once = json.dumps(criteria.text.lower(), ensure_ascii=False)[1:-1]
        escaped_twice = json.dumps(escaped_once, ensure_ascii=False)[1:-1]
        query = query.where(or_(*(func.lower(AuditEvent.payload).contains(text_in_payload, autoescape=True)
                                  for text_in_payload in dict.fromkeys((escaped_once, escaped_twice)))))
    return query


def search_events(session: Session, criteria: EventFilter, *, before: int | None = None, after: int | None = None,
                  limit: int = 50) -> EventPage:
    """A page of the events matching ``criteria``, newest first (keyset pagination).

    The newest page; or, with ``before``, the one just older than that sequence; or, with ``after``, the one
    just newer. Both come from a page's links, so the page they lead to has a neighbour on the side it was
    reached from.
    """
    if before is not None and after is not None:
        raise InvalidInput("Page towards older or towards newer events, not both at once.", field="after")
    query = _filtered(criteria)
    if after is not None:
        rows = list(session.scalars(query.where(AuditEvent.sequence > after)
                                    .order_by(AuditEvent.sequence).limit(limit + 1)))
        events = rows[:limit][::-1]
        return EventPage(events, events[-1].sequence if events else None,
                         events[0].sequence if len(rows) > limit else None)
    if before is not None:
        query = query.where(AuditEvent.sequence < before)
    rows = list(session.scalars(query.order_by(AuditEvent.sequence.desc()).limit(limit + 1)))
    events = rows[:limit]
    return EventPage(events, events[-1].sequence if len(rows) > limit else None,
                     events[0].sequence if before is not None and events else None)


def matching_events(session: Session, criteria: EventFilter) -> Iterator[AuditEvent]:
    """Every event matching ``criteria``, oldest first, fetched in batches."""
    return session.scalars(_filtered(criteria).order_by(AuditEvent.sequence).execution_options(yield_per=2000))


CSV_HEADER = ("sequence", "recorded_at_utc", "user_id", "user_name", "action", "entity_type", "entity_id",
              "changes", "reason", "request_id", "client_address", "prev_hash", "hash")
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> str:
    """Render a cell so that no spreadsheet evaluates it as a formula."""
    cell = "" if value is None else str(value)
    return f"'{cell}" if cell.startswith(_FORMULA_TRIGGERS) else cell


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The CSV export, header first, one line per event."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
        return buffer.getvalue()

    yield line(CSV_HEADER)
    for item in events:
        yield line((item.sequence, stable_value(item.recorded_at), item.user_id, item.user_name, item.action,
                    item.entity_type, item.entity_id, item.changes, item.reason, item.request_id,
                    item.client_address, item.prev_hash, item.hash))


def describe_changes(event_row: AuditEvent) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for a record change; (detail, None, value) for other events."""
    if not event_row.changes:
        return []
    data = json.loads(event_row.changes)
    # "delete" stays for trails written before controlled records could no longer be deleted.
    if event_row.action in {"create", "update", "delete"}:
        return [(field, values[0], values[1]) for field, values in data.items()]
    return [(field, None, value) for field, value in data.items()]


def _controlled_models() -> dict[str, type[Controlled]]:
    return {mapper.class_.__tablename__: mapper.class_ for mapper in Base.registry.mappers
            if issubclass(mapper.class_, Controlled)}


def controlled_entity_types() -> list[str]:
    """Table names of every model under GMP control."""
    return sorted(_controlled_models())


def controlled_record(session: Session, entity_type: str, entity_id: str) -> Controlled:
    """The controlled record an audit event names."""
    model = _controlled_models().get(entity_type)
    if model is None:
        raise InvalidInput(f"{entity_type!r} is not a type of controlled record.", field="entity_type")
    not_an_id = InvalidInput(f"{entity_id!r} is not the id of a {entity_type.replace('_', ' ')}.", field="entity_id")
    try:
        primary_key = [int(part) for part in entity_id.split("-")]
    except ValueError:
        raise not_an_id from None
    if len(primary_key) != len(inspect(model).primary_key) or not all(0 < part < 2**63 for part in primary_key):
        raise not_an_id
    record = session.get(model, primary_key if len(primary_key) > 1 else primary_key[0])
    if record is None:
        raise RecordNotFound(f"There is no {entity_type.replace('_', ' ')} {entity_id}.")
    return record


def record_and_parts(record: Controlled) -> list[tuple[str, str]]:
    """The entity keys of ``record`` and of the parts its history includes (``audit_parts``), at any depth."""
    keys = [entity_key(record)]
    for relationship in record.audit_parts:
        for part in getattr(record, relationship):
            keys += record_and_parts(part)
    return keys
