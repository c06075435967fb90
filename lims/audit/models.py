"""The audit event table and the marker for records under GMP control."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Literal

from sqlalchemy import BigInteger, CheckConstraint, Computed, Index, String, Text, event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Mapper, mapped_column
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from lims.db import Base

#: prev_hash of the first event.
GENESIS_HASH = "0" * 64


class Controlled:
    """Marks a model under GMP control: every create and update is audited, and none is ever deleted.

    Updates need a reason. Columns in ``audit_system_fields`` are
    maintained by the system (last sign-in and the like): changing only those
    is not an audited edit, because the action that changes them is audited
    as an event of its own. Values of ``audit_redacted_fields`` are recorded
    as changed without their content.
    """

    __tablename__: str
    audit_system_fields: ClassVar[frozenset[str]] = frozenset()
    audit_redacted_fields: ClassVar[frozenset[str]] = frozenset()
    #: Relationships to the records a record is made of (a batch step's parameters, say), whose changes are
    #: part of its history: the record's page links to the events of the record and all its parts.
    audit_parts: ClassVar[tuple[str, ...]] = ()

    def part_label(self) -> str | None:
        """What people call this record among the parts of the record it belongs to ("step 3. Activation"), for
        messages about the whole record; None where it has no such name (its type and id stand in for it)."""
        return None


@event.listens_for(Mapper, "before_mapper_configured")
def _load_old_values_of_controlled_columns(mapper: Mapper[Any], class_: type) -> None:
    # An attribute that was expired (after a commit or rollback) or deferred has no old value in memory when it is
    # set; the audit event must still carry the exact old value, so setting it loads the old one first.
    if issubclass(class_, Controlled):
        # A quantity's columns take their setting from the composite over them, so it is set there too.
        for mapped_property in (*mapper.column_attrs, *mapper.composites):
            mapped_property.active_history = True


#: The fields an event's hash covers, in the order its payload lists them.
HASHED_FIELDS = (
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


class PayloadItem(ColumnElement[Any]):
    """The value of one field in an event's payload, read by the database (the expression of a generated column).

    PostgreSQL needs an immutable expression here, which a cast of text to a time is not; its time goes
    through ``lims_audit_time``, which migration 0008 creates: an immutable function, because the payload
    always writes its time in UTC with the offset spelt out.
    """

    inherit_cache = True

    def __init__(self, field: str, kind: Literal["text", "integer", "time"] = "text") -> None:
        self.index = HASHED_FIELDS.index(field)
        self.kind = kind


@compiles(PayloadItem, "postgresql")
def _payload_item_on_postgresql(item: PayloadItem, _compiler: Any, **_options: Any) -> str:
    if item.kind == "time":
        return "lims_audit_time(payload)"
    value = f"((payload)::jsonb ->> {item.index})"
    return f"({value})::integer" if item.kind == "integer" else value


@compiles(PayloadItem, "sqlite")
def _payload_item_on_sqlite(item: PayloadItem, _compiler: Any, **_options: Any) -> str:
    value = f"json_extract(payload, '$[{item.index}]')"
    # SQLite keeps times as text in the form SQLAlchemy writes them: UTC, a space for the T, no offset.
    return f"replace(substr({value}, 1, 26), 'T', ' ')" if item.kind == "time" else value


class RecordedValue(ColumnElement[Any]):
    """As text, the old or the new value of one field among an event's recorded changes (``changes``), read by the
    database: where a record's row is gone, its events alone tell what it belonged to."""

    # The field and the value asked for are the statement's own: they key its compiled form too.
    _traverse_internals = [  # noqa: RUF012 (typed by SQLAlchemy's base, a list)
        ("field", InternalTraversal.dp_string),
        ("position", InternalTraversal.dp_plain_obj),
    ]
    inherit_cache = True
    type = String()

    def __init__(self, field: str, which: Literal["old", "new"]) -> None:
        self.field = field
        self.position = 0 if which == "old" else 1


@compiles(RecordedValue, "postgresql")
def _recorded_value_on_postgresql(value: RecordedValue, _compiler: Any, **_options: Any) -> str:
    changes = f"((payload)::jsonb ->> {HASHED_FIELDS.index('changes')})::jsonb"
    return f"({changes} -> '{value.field}' ->> {value.position})"


@compiles(RecordedValue, "sqlite")
def _recorded_value_on_sqlite(value: RecordedValue, _compiler: Any, **_options: Any) -> str:
    changes = f"json_extract(payload, '$[{HASHED_FIELDS.index('changes')}]')"
    return f"CAST(json_extract({changes}, '$.\"{value.field}\"[{value.position}]') AS TEXT)"


_PAYLOAD_NAMES_ITS_SEQUENCE = (
    "substr(payload, 1, length(CAST(sequence AS TEXT)) + 2) = '[' || CAST(sequence AS TEXT) || ','"
)


def _from_payload(field: str, *args: Any, kind: Literal["text", "integer", "time"] = "text") -> Any:
    return mapped_column(*args, Computed(PayloadItem(field, kind), persisted=True))


class _InPayload:
    """A field of an event that the trail is not searched by, read from its payload when shown."""

    def __set_name__(self, _owner: type, name: str) -> None:
        self.index = HASHED_FIELDS.index(name)

    def __get__(self, event: AuditEvent | None, _owner: type) -> Any:
        return self if event is None else event.fields[self.index]


class AuditEvent(Base):
    """One event of the chain. ``payload`` is the record: the canonical JSON array of HASHED_FIELDS, stored as
    hashed. The database derives the fields the trail is searched by from it, refuses to set them any other
    way, and checks that the sequence is the one the payload names; the other fields are read from the
    payload here. So what the viewer filters and shows is exactly what the hash covers, and verifying needs
    only the payloads and their hashes."""

    __tablename__ = "audit_event"
    __table_args__ = (
        # The one field the database cannot derive (a generated column cannot be SQLite's primary key), checked.
        CheckConstraint(_PAYLOAD_NAMES_ITS_SEQUENCE, name="payload_sequence"),
        Index("ix_audit_event_entity", "entity_type", "entity_id", "sequence"),
        Index("ix_audit_event_user", "user_id", "sequence"),
        Index("ix_audit_event_action", "action", "sequence"),
        Index("ix_audit_event_recorded_at", "recorded_at"),
    )

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = _from_payload("recorded_at", kind="time")
    user_id: Mapped[int | None] = _from_payload("user_id", kind="integer")
    action: Mapped[str] = _from_payload("action", String(64))
    entity_type: Mapped[str | None] = _from_payload("entity_type", String(64))
    entity_id: Mapped[str | None] = _from_payload("entity_id", String(64))

    user_name = _InPayload()
    #: Canonical JSON text, as it stands in the payload.
    changes = _InPayload()
    reason = _InPayload()
    request_id = _InPayload()
    client_address = _InPayload()
    prev_hash = _InPayload()

    @cached_property
    def fields(self) -> list[Any]:
        """The payload read: the values of HASHED_FIELDS, in order (the time as its ISO text)."""
        return json.loads(self.payload)
