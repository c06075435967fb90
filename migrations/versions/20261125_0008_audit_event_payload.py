"""Audit events keep their payload: the canonical text their hash covers, and the only copy of their fields.

The fields the trail is searched by become generated columns, which the
database refuses to set any other way, and a check holds the sequence to the
one the payload names; the others are read from the payload. Existing events
are carried over with the payload their hash was computed over, so the chain
verifies as before: nothing is re-hashed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 03:05:00
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FIELDS = (
    "sequence",
    "recorded_at",
    "user_id",
    "user_name",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "reason",
    "request_id",
    "client_address",
    "prev_hash",
)
_PREVIOUS_TABLE = "audit_event_0007"
_INDEXES = {
    "ix_audit_event_action": ["action", "sequence"],
    "ix_audit_event_entity": ["entity_type", "entity_id", "sequence"],
    "ix_audit_event_recorded_at": ["recorded_at"],
    "ix_audit_event_user": ["user_id", "sequence"],
}
_COPIED_PER_INSERT = 10_000

# Immutable although a text-to-time cast is not in general: the payload always writes its time in ISO 8601,
# in UTC, with the offset spelt out, which no time zone or date style setting reads differently.
_TIME_FUNCTION = """
CREATE FUNCTION lims_audit_time(payload text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT (payload::jsonb ->> 1)::timestamptz $$
"""


def _postgresql_item(index: int, kind: str) -> str:
    if kind == "time":
        return "lims_audit_time(payload)"
    value = f"((payload)::jsonb ->> {index})"
    return f"({value})::integer" if kind == "integer" else value


def _sqlite_item(index: int, kind: str) -> str:
    value = f"json_extract(payload, '$[{index}]')"
    return f"replace(substr({value}, 1, 26), 'T', ' ')" if kind == "time" else value


def _derived_columns(item: Callable[[int, str], str]) -> list[sa.Column]:
    def derived(name: str, type_: sa.types.TypeEngine, nullable: bool, kind: str = "text") -> sa.Column:
        expression = sa.text(item(_FIELDS.index(name), kind))
        return sa.Column(name, type_, sa.Computed(expression, persisted=True), nullable=nullable)

    return [
        derived("recorded_at", sa.DateTime(timezone=True), False, "time"),
        derived("user_id", sa.Integer(), True, "integer"),
        derived("action", sa.String(64), False),
        derived("entity_type", sa.String(64), True),
        derived("entity_id", sa.String(64), True),
    ]


def _payload(event: sa.Row) -> str:
    """The bytes the event's hash was computed over (lims.audit.service as of revision 0007), as text."""
    values = [getattr(event, field) for field in _FIELDS]
    recorded_at = event.recorded_at
    if recorded_at.tzinfo is None:  # SQLite keeps UTC without an offset
        recorded_at = recorded_at.replace(tzinfo=UTC)
    values[_FIELDS.index("recorded_at")] = recorded_at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def _set_aside_previous_table() -> None:
    """Rename the old table out of the way, with its index, trigger and key names, which the new one takes."""
    bind = op.get_bind()
    for name in _INDEXES:
        op.drop_index(name, table_name="audit_event")
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE audit_event RENAME CONSTRAINT pk_audit_event TO pk_{_PREVIOUS_TABLE}")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_event_no_{operation}")
    op.rename_table("audit_event", _PREVIOUS_TABLE)


def _finish_table() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "audit_event", columns, unique=False)
    make_append_only("audit_event")


def upgrade() -> None:
    bind = op.get_bind()
    on_postgresql = bind.dialect.name == "postgresql"
    _set_aside_previous_table()
    if on_postgresql:
        op.execute(_TIME_FUNCTION)
    events = op.create_table(
        "audit_event",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        *_derived_columns(_postgresql_item if on_postgresql else _sqlite_item),
        sa.PrimaryKeyConstraint("sequence", name="pk_audit_event"),
        sa.CheckConstraint(
            "substr(payload, 1, length(CAST(sequence AS TEXT)) + 2) = '[' || CAST(sequence AS TEXT) || ','",
            name=op.f("ck_audit_event_payload_sequence"),
        ),
    )
    previous = sa.table(
        _PREVIOUS_TABLE,
        sa.column("hash"),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
        *(sa.column(field) for field in _FIELDS if field != "recorded_at"),
    )
    total = bind.execute(sa.select(sa.func.count()).select_from(previous)).scalar_one()
    copied = bind.execute(
        sa.select(previous).order_by(previous.c.sequence).execution_options(yield_per=_COPIED_PER_INSERT)
    )
    done = 0
    for chunk in copied.partitions():
        bind.execute(
            sa.insert(events),
            [{"sequence": event.sequence, "payload": _payload(event), "hash": event.hash} for event in chunk],
        )
        done += len(chunk)
        if total > _COPIED_PER_INSERT:  # a trail that takes a while: say how far the copy is
            print(f"\raudit events carried over: {done:,}/{total:,}", end="" if done < total else "\n", file=sys.stderr)
    op.drop_table(_PREVIOUS_TABLE)
    _finish_table()


def downgrade() -> None:
    bind = op.get_bind()
    _set_aside_previous_table()
    op.create_table(
        "audit_event",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_audit_event"),
    )
    item = _postgresql_item if bind.dialect.name == "postgresql" else _sqlite_item
    stored = {"sequence", "recorded_at", "user_id", "action", "entity_type", "entity_id"}
    values = [field if field in stored else item(index, "text") for index, field in enumerate(_FIELDS)]
    op.execute(
        f"INSERT INTO audit_event ({', '.join(_FIELDS)}, hash) "
        f"SELECT {', '.join(values)}, hash FROM {_PREVIOUS_TABLE} ORDER BY sequence"
    )
    op.drop_table(_PREVIOUS_TABLE)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION lims_audit_time(text)")
    _finish_table()
