"""The audit event table and the marker for records under GMP control."""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lims.db import Base

#: prev_hash of the first event.
GENESIS_HASH = "0" * 64


class Controlled:
    """Marks a model under GMP control: every create, update and delete is audited.

    Updates and deletes need a reason. Columns in ``audit_system_fields`` are
    maintained by the system (last sign-in and the like): changing only those
    is not an audited edit, because the action that changes them is audited
    as an event of its own. Values of ``audit_redacted_fields`` are recorded
    as changed without their content.
    """

    audit_system_fields: ClassVar[frozenset[str]] = frozenset()
    audit_redacted_fields: ClassVar[frozenset[str]] = frozenset()


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_id", "sequence"),
        Index("ix_audit_event_user", "user_id", "sequence"),
        Index("ix_audit_event_action", "action", "sequence"),
        Index("ix_audit_event_recorded_at", "recorded_at"),
    )

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime]
    user_id: Mapped[int | None]
    user_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    # Canonical JSON text, hashed exactly as stored.
    changes: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
