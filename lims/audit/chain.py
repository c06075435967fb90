"""The chain's events: their canonical payload and hash, and appending them in the session's transaction.

An append leaves state on the connection (the chain's head, the events waiting to be inserted); the connection
listeners that keep it right are here, and ``lims.audit.hooks`` hangs them on every engine.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lims import clock
from lims.audit.context import current_actor, stated_reason
from lims.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent
from lims.db import hold_write_lock
from lims.units.measurement import Measurement

logger = logging.getLogger("lims.audit")

_HEAD = "lims.audit.head"
_PENDING = "lims.audit.pending"
#: Session.info: the session committed an event that anchors the head (see ``anchors_the_head``)
ANCHOR_AT_COMMIT = "lims.audit.anchor_at_commit"
_EVENT_TABLE = AuditEvent.__table__


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
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [stable_value(item) for item in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


def stable_value_map(values: dict[str, Any]) -> dict[str, Any]:
    return {key: stable_value(value) for key, value in values.items()}


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


def entity_key(instance: Any) -> tuple[str, str]:
    """(entity type, entity id): how an event names the record it is about."""
    # Read from the columns: a row inserted by the flush under way has no identity key yet.
    primary_key = inspect(instance).mapper.primary_key_from_instance(instance)
    return instance.__tablename__, "-".join(str(part) for part in primary_key)


def _reserve_next(connection: Connection) -> tuple[int, str]:
    head = connection.info.get(_HEAD)
    if head is None:
        # Held to the end of the transaction: no other writer reads the head until this one's events are
        # committed or rolled back. A transaction that wrote anything holds it already.
        hold_write_lock(connection)
        latest = connection.execute(
            select(AuditEvent.sequence, AuditEvent.hash).order_by(AuditEvent.sequence.desc()).limit(1)
        ).first()
        head = (latest.sequence, latest.hash) if latest else (0, GENESIS_HASH)
    return head[0] + 1, head[1]


#: Actions whose commit anchors the head, besides every export ("export.…", "….exported").
_ANCHORING_ACTIONS = frozenset({"signature.applied", "report.generated"})


def anchors_the_head(action: str) -> bool:
    """Whether the commit of an event of ``action`` anchors the chain's head at once (``lims.audit.anchors``):
    a signature (a release or rejection among them), a generated report or an export, which people rely on
    outside the LIMS, so that none can be rewritten or removed unseen before the next scheduled checkpoint."""
    return action in _ANCHORING_ACTIONS or action.startswith("export.") or action.endswith(".exported")


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
        "reason": reason if reason is not None else stated_reason(session),
        "request_id": actor.request_id,
        "client_address": actor.client_address,
        "prev_hash": prev_hash,
    }
    row["payload"] = canonical_payload(row)
    row["hash"] = event_hash(row["payload"])
    _defer_insert(connection, {"sequence": sequence, "payload": row["payload"], "hash": row["hash"]})
    connection.info[_HEAD] = (sequence, row["hash"])
    if anchors_the_head(action):
        session.info[ANCHOR_AT_COMMIT] = True
    if logger.isEnabledFor(logging.INFO):
        fields = {field: row[field] for field in (*HASHED_FIELDS, "hash")}
        logger.info(canonical_json(stable_value_map(fields)), extra={"audit_event": fields})
    return row


def append_creations(session: Session, entity_type: str, created: Iterable[tuple[Any, dict[str, Any]]]) -> int:
    """Append a "create" event for each (entity id, changes) of records inserted together (a manifest's samples),
    in order, as ``append`` would one by one; return how many.

    The same events and chain as that loop, at a fraction of its cost: who acts, why, when and the connection are
    read once for the whole set, and the events wait together for the one insert ``_defer_insert`` makes.
    """
    actor = current_actor(session)
    connection = session.connection()
    sequence, prev_hash = _reserve_next(connection)
    shared = {
        "recorded_at": clock.now(),
        "user_id": actor.user_id,
        "user_name": actor.name,
        "action": "create",
        "entity_type": entity_type,
        "reason": stated_reason(session),
        "request_id": actor.request_id,
        "client_address": actor.client_address,
    }
    logging_events = logger.isEnabledFor(logging.INFO)
    pending = connection.info.setdefault(_PENDING, [])
    count = 0
    for entity_id, changes in created:
        row: dict[str, Any] = {
            **shared,
            "sequence": sequence,
            "entity_id": str(entity_id),
            "changes": canonical_json(changes),
            "prev_hash": prev_hash,
        }
        row["payload"] = canonical_payload(row)
        row["hash"] = prev_hash = event_hash(row["payload"])
        pending.append({"sequence": sequence, "payload": row["payload"], "hash": row["hash"]})
        if logging_events:
            fields = {field: row[field] for field in (*HASHED_FIELDS, "hash")}
            logger.info(canonical_json(stable_value_map(fields)), extra={"audit_event": fields})
        connection.info[_HEAD] = (sequence, prev_hash)
        sequence += 1
        count += 1
    return count


def record(
    session: Session,
    action: str,
    *,
    entity: Any = None,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Audit an event that is not a record change (a login, an export, a refusal)."""
    entity_type, entity_id = entity_key(entity) if entity is not None else (None, None)
    return append(
        session,
        action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=None if details is None else stable_value_map(details),
        reason=reason,
    )


#: The driver's own insert of an event, by dialect: Core's per-statement work would cost more than the insert.
_EVENT_INSERT = {
    dialect: f"INSERT INTO {_EVENT_TABLE.name} (sequence, payload, hash) VALUES ({placeholders})"
    for dialect, placeholders in [
        ("postgresql", "%(sequence)s, %(payload)s, %(hash)s"),
        ("sqlite", ":sequence, :payload, :hash"),
    ]
}


def _defer_insert(connection: Connection, event_row: dict[str, Any]) -> None:
    """Queue an event row for insertion.

    Every audited change pays for its event, and a round trip per event costs more than the change's own
    statement on a networked database. So events wait on the connection and go in together, as one
    executemany through the driver, when anything reads the audit table, when a savepoint starts or
    ends and when the transaction commits (see the listeners below): the change and its event
    still commit or roll back together, and an event that cannot be written fails the commit.
    """
    connection.info.setdefault(_PENDING, []).append(event_row)


# Connection listeners, hung on every engine by lims.audit.hooks.install


#: from how many waiting events PostgreSQL takes them by COPY: an executemany sends a statement an event
_COPY_FROM = 200


def write_pending_events(connection: Connection, *_args: Any) -> None:
    """On commit and at a savepoint's start or end: insert the events waiting on the connection."""
    pending = connection.info.pop(_PENDING, None)
    if not pending:
        return
    if len(pending) >= _COPY_FROM and connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {_EVENT_TABLE.name} (sequence, payload, hash) FROM STDIN") as copy:
            for event_row in pending:
                copy.write_row((event_row["sequence"], event_row["payload"], event_row["hash"]))
        return
    connection.exec_driver_sql(_EVENT_INSERT[connection.dialect.name], pending)


def write_pending_events_before_reading(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    """Before a statement that names the audit table: insert the events waiting on the connection first."""
    if _PENDING in connection.info and _EVENT_TABLE.name in statement:
        write_pending_events(connection)


def forget_head_and_pending_events(connection: Connection, *_args: Any) -> None:
    """When a transaction begins, or is rolled back to its start or to a savepoint."""
    # The head is cached on the connection, shared by every session that works
    # in its transaction, and holds while that transaction holds the chain: a
    # new transaction, or a rollback that may undo appends, ends it. Pending
    # events never outlive a savepoint's start (see above), so those a savepoint
    # rollback discards are all its own.
    connection.info.pop(_HEAD, None)
    connection.info.pop(_PENDING, None)
