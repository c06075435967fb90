"""The lab's audit trail: an event for each record the generator made and each signature it applied, sign-ins and
refusals around them, and the demo's own events, all in one chain in the order they happened.

The chain is hashed with the LIMS's own functions (``lims.audit.chain``), so ``lims audit verify`` checks it as any
other; each copied signature has its ``signature.applied`` event recording it as it stands, as the LIMS writes.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection

from bench.lab.tables import CHUNK, Row, write_rows
from lims.audit import chain as audit_chain
from lims.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent
from lims.signatures.models import ElectronicSignature
from lims.signatures.trail import APPLIED, applied_details

_EVENTS = AuditEvent.__table__
_STAFF_ADDRESSES = [f"10.12.{subnet}.{host}" for subnet in (1, 2) for host in (21, 34, 57, 88, 102, 140)]
_UNKNOWN_ADDRESSES = ["198.51.100.7", "203.0.113.45", "192.0.2.200"]
_REFUSED_PATHS = ["/admin/users", "/audit", "/batches/new", "/api/v1/batches"]


class Event(NamedTuple):
    """An event's fields but its sequence and previous hash, which the chain gives it."""

    recorded_at: datetime
    user_id: int | None
    user_name: str
    action: str
    entity_type: str | None
    entity_id: str | None
    changes: str | None
    reason: str | None
    request_id: str | None
    client_address: str | None


class Trail:
    """Events gathered while the records are made, then written as one chain with the events already there."""

    def __init__(self, users: dict[int, str], seed: int) -> None:
        self._users = users
        self._random = random.Random(seed)
        self.events: list[Event] = []

    def _request(self) -> tuple[str, str]:
        return self._random.randbytes(16).hex(), self._random.choice(_STAFF_ADDRESSES)

    def created(self, entity_type: str, row: Row, *, at: datetime, user_id: int | None) -> None:
        """A record created through a page, as the flush hooks record it: every column, from nothing."""
        changes = {name: [None, audit_chain.stable_value(value)] for name, value in row.items() if value is not None}
        request_id, address = self._request()
        self.events.append(
            Event(
                at,
                user_id,
                self._users.get(user_id, "command line") if user_id else "command line",
                "create",
                entity_type,
                str(row["id"]),
                audit_chain.canonical_json(changes),
                None,
                request_id,
                address,
            )
        )

    def signed(self, signature: Row) -> None:
        """The ``signature.applied`` event that vouches for a signature row."""
        details = audit_chain.stable_value_map(applied_details(ElectronicSignature(**signature)))
        request_id, address = self._request()
        self.events.append(
            Event(
                signature["signed_at"],
                signature["signer_id"],
                signature["printed_name"],
                APPLIED,
                signature["entity_type"],
                signature["entity_id"],
                audit_chain.canonical_json(details),
                None,
                request_id,
                address,
            )
        )

    def background(self, count: int, *, start: datetime, end: datetime) -> None:
        """``count`` sign-ins, sign-outs and refused requests between ``start`` and ``end``."""
        user_ids = sorted(self._users)
        span = (end - start).total_seconds()
        for _ in range(count):
            at = start + timedelta(seconds=self._random.random() * span)
            request_id, address = self._request()
            kind = self._random.random()
            if kind < 0.9:
                user_id = self._random.choice(user_ids)
                action = "login.success" if kind < 0.45 else "logout" if kind < 0.85 else "login.wrong_password"
                details: dict[str, Any] = {"username_typed": self._users[user_id]} if kind >= 0.85 else {}
                self.events.append(
                    Event(
                        at,
                        user_id,
                        self._users[user_id],
                        action,
                        "user_account",
                        str(user_id),
                        audit_chain.canonical_json(details) if details else None,
                        None,
                        request_id,
                        address,
                    )
                )
            else:
                path = self._random.choice(_REFUSED_PATHS)
                self.events.append(
                    Event(
                        at,
                        None,
                        "anonymous",
                        "access.refused",
                        None,
                        None,
                        audit_chain.canonical_json({"method": "GET", "path": path}),
                        None,
                        request_id,
                        self._random.choice(_UNKNOWN_ADDRESSES),
                    )
                )

    def write(self, connection: Connection) -> int:
        """Replace the chain with the events there are and those gathered, in time order; return how many."""
        existing = [
            _event_of(json.loads(payload))
            for (payload,) in connection.execute(select(AuditEvent.payload).order_by(AuditEvent.sequence))
        ]
        with _append_only_lifted(connection):
            connection.execute(delete(_EVENTS))
        # Python's sort is stable: events of the same moment keep the order they were recorded in.
        events = sorted([*existing, *self.events], key=lambda event: event.recorded_at)
        previous_hash = GENESIS_HASH
        rows: list[Row] = []
        for sequence, event in enumerate(events, start=1):
            fields = dict(zip(HASHED_FIELDS, (sequence, *event, previous_hash), strict=True))
            payload = audit_chain.canonical_payload(fields)
            previous_hash = audit_chain.event_hash(payload)
            rows.append({"sequence": sequence, "payload": payload, "hash": previous_hash})
            if len(rows) == CHUNK:
                write_rows(connection, _EVENTS, rows)
                rows = []
                print(f"\rlab: writing the audit trail {sequence:,}/{len(events):,}", end="", file=sys.stderr)
        write_rows(connection, _EVENTS, rows)
        print(f"\rlab: writing the audit trail {len(events):,}/{len(events):,}", file=sys.stderr)
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE audit_event"))
        return len(events)


@contextmanager
def _append_only_lifted(connection: Connection) -> Iterator[None]:
    """Let the demo's events be taken out, to go back in among the lab's history, in this transaction only."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        yield
        connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
        return
    triggers = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'")
    ).all()
    for name, _sql in triggers:
        connection.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _name, sql in triggers:
        connection.execute(text(sql))


def _event_of(values: list[Any]) -> Event:
    fields = dict(zip(HASHED_FIELDS, values, strict=True))
    fields["recorded_at"] = datetime.fromisoformat(fields["recorded_at"])
    return Event(*(fields[name] for name in Event._fields))
