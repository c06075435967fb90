"""What someone with rights on the database could do to the audit trail, for the tests that must catch it."""

from __future__ import annotations

import json

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from lims.audit import chain as audit_chain
from lims.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent


def drop_append_only_triggers(connection: Connection, table: str = "audit_event") -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
    else:
        connection.execute(text(f"DROP TRIGGER {table}_no_update"))
        connection.execute(text(f"DROP TRIGGER {table}_no_delete"))


def alter_payload(connection: Connection, sequence: int, old: str, new: str) -> None:
    """Edit an event's payload in place, as an UPDATE would; the fields the database derives from it follow."""
    altered = connection.execute(
        text("UPDATE audit_event SET payload = replace(payload, :old, :new) WHERE sequence = :sequence"),
        {"old": old, "new": new, "sequence": sequence},
    )
    assert altered.rowcount == 1


def alter_action(connection: Connection, sequence: int, action: str) -> None:
    """Make an event say it was another action than the one recorded."""
    recorded = connection.execute(
        text("SELECT action FROM audit_event WHERE sequence = :sequence"), {"sequence": sequence}
    ).scalar_one()
    alter_payload(connection, sequence, f',"{recorded}",', f',"{action}",')


def relink_whole_chain(connection: Connection, *, from_sequence: int) -> None:
    """Alter an event and recompute every later hash, so that every link holds again."""
    previous = GENESIS_HASH
    stored = connection.execute(
        select(AuditEvent.sequence, AuditEvent.payload, AuditEvent.hash).order_by(AuditEvent.sequence)
    ).all()
    for sequence, payload, hash_value in stored:
        if sequence < from_sequence:
            previous = hash_value
            continue
        fields = dict(zip(HASHED_FIELDS, json.loads(payload), strict=True))
        if sequence == from_sequence:
            fields["reason"] = "history rewritten"
        fields["prev_hash"] = previous
        relinked = audit_chain.canonical_payload(fields)
        previous = audit_chain.event_hash(relinked)
        connection.execute(
            update(AuditEvent).where(AuditEvent.sequence == sequence).values(payload=relinked, hash=previous)
        )
