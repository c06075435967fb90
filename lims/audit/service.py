"""Appending to the audit chain, and the flush hooks that audit controlled records."""
from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
import logging
import os
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, event, func, inspect, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, Session, UOWTransaction
from sqlalchemy.orm.attributes import History

from lims import clock
from lims.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent, Controlled
from lims.db import Base
from lims.errors import Conflict, InvalidInput, RecordNotFound
from lims.units import Measurement

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


#: Events read and checked together. Large enough that a statement's own cost does not count.
VERIFY_BATCH = 10_000
#: Batches read ahead of the one being hashed, so that neither the database nor the hashing waits on the other.
_BATCHES_READ_AHEAD = 2

#: One batch of the chain after ``after``: how many events, the last one's sequence, the payloads a line each
#: (JSON holds no raw line break) and the hashes, each framed as a payload ends: ,"<hash>"] (see _batch_holds).
#: Either engine's string aggregate keeps the order of the sorted subquery; were it ever not to, the batch would
#: fail the bulk check and be walked event by event, which reports only real breaks.
_READ_BATCH = """
SELECT count(*) AS events, max(sequence) AS last_sequence, {aggregate}(payload, {line_break}) AS payloads,
       {aggregate}(',"' || hash || '"]', '') AS framed_hashes
FROM (SELECT sequence, payload, hash FROM audit_event WHERE sequence > :after ORDER BY sequence LIMIT :size) batch
"""
_READ_BATCH_ON = {
    "postgresql": text(_READ_BATCH.format(aggregate="string_agg", line_break="chr(10)")),
    "sqlite": text(_READ_BATCH.format(aggregate="group_concat", line_break="char(10)")),
}
_FRAME = len(',"' + GENESIS_HASH + '"]')


@dataclass(frozen=True)
class _Batch:
    after: int
    events: int
    last_sequence: int
    payloads: str
    framed_hashes: str

    def hash_at(self, sequence: int) -> str:
        start = (sequence - self.after - 1) * _FRAME + 2
        return self.framed_hashes[start:start + 64]

    @property
    def last_hash(self) -> str:
        return self.hash_at(self.last_sequence)


def _read_batches(connection: Connection, batch_size: int) -> Iterator[_Batch]:
    statement, after = _READ_BATCH_ON[connection.dialect.name], 0
    while True:
        row = connection.execute(statement, {"after": after, "size": batch_size}).one()
        if not row.events:
            return
        yield _Batch(after, row.events, row.last_sequence, row.payloads, row.framed_hashes)
        after = row.last_sequence


def _batch_holds(batch: _Batch, previous_hash: str, anchors: _Anchors) -> bool:
    """Whether every event of the batch is in its place, linked, unaltered and as the checkpoints recorded it.

    Checked in bulk, which keeps pace with bare hashing; a batch that fails is walked event by event
    (``_first_break``) to find what is wrong and where.
    """
    if batch.last_sequence - batch.after != batch.events or len(batch.framed_hashes) != batch.events * _FRAME:
        return False
    payloads = batch.payloads.encode().split(b"\n")
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


def verify_chain(
    connection: Connection,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    progress: Callable[[int], None] | None = None,
    batch_size: int = VERIFY_BATCH,
) -> Verification:
    """Recompute every hash and link in order, compare the chain with every checkpoint; report the first break.

    While batches are hashed here, the database reads the next ones on the other core.
    """
    checkpoints = tuple(checkpoints)
    anchors = _Anchors(checkpoints)
    checked, previous_hash = 0, GENESIS_HASH
    in_flight: deque[tuple[_Batch, str, Future[bool]]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as hasher:
        for batch in chain(_read_batches(connection, batch_size), [None]):
            if batch is not None:
                in_flight.append((batch, previous_hash, hasher.submit(_batch_holds, batch, previous_hash, anchors)))
                previous_hash = batch.last_hash
            while in_flight and (batch is None or len(in_flight) > _BATCHES_READ_AHEAD):
                checked_batch, hash_before, holds = in_flight.popleft()
                if not holds.result():
                    first_break = _first_break(connection, checked_batch, hash_before, checkpoints, anchors)
                    if first_break is not None:
                        hasher.shutdown(cancel_futures=True)
                        return first_break
                checked += checked_batch.events
                if progress is not None:
                    progress(checked_batch.events)
    return Verification(checked, previous_hash, checkpoints, _checkpoint_beyond_head(anchors, checked))


def _checkpoint_beyond_head(anchors: _Anchors, head_sequence: int) -> ChainBreak | None:
    checkpoint = anchors.beyond(head_sequence)
    if checkpoint is None:
        return None
    return ChainBreak(head_sequence + 1, BreakKind.CHECKPOINT_MISMATCH,
                      f"the chain ends at event {head_sequence} but the checkpoint written "
                      f"{checkpoint.written_at.isoformat(timespec='seconds')} recorded event {checkpoint.sequence}")


def _break_at(sequence: int, position: int, *, link_holds: bool, hash_holds: bool) -> ChainBreak:
    """The first thing wrong with the event at ``position`` in the chain, checked in the order the chain is built."""
    if sequence != position:
        return ChainBreak(position, BreakKind.GAP, f"events {position} to {sequence - 1} are missing")
    if not link_holds:
        return ChainBreak(sequence, BreakKind.BROKEN_LINK, "its prev_hash is not the hash of the event before it")
    if not hash_holds:
        return ChainBreak(sequence, BreakKind.HASH_MISMATCH,
                          "its content does not match its hash: it was altered after it was written")
    return ChainBreak(sequence, BreakKind.CHECKPOINT_MISMATCH,
                      "the chain was rewritten since a checkpoint recorded this event")


def _first_break(connection: Connection, batch: _Batch, previous_hash: str,
                 checkpoints: tuple[Checkpoint, ...], anchors: _Anchors) -> Verification | None:
    """Walk a batch that failed the bulk check event by event; the verification up to its first break, if any."""
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
            return Verification(position - 1, head_hash, checkpoints,
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
