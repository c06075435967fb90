"""What the audit tests share: the events read back, a moment to freeze the clock at, texts that test exactness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit.models import AuditEvent

MOMENT = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

TRICKY_TEXTS = [
    'quote " backslash \\ slash /',
    "line\nbreak\ttab\rreturn\b\f",
    "control \x01\x1f del \x7f",
    "µL ≥ 37 °C – naïve 漢字 🧬",
    "line separator \u2028 paragraph \u2029",
    "</script><b>&amp;</b>",
    "",
]


def events(session: Session, **criteria: Any) -> list[AuditEvent]:
    """The events with the given field values, in the chain's order."""
    query = select(AuditEvent).order_by(AuditEvent.sequence)
    for name, value in criteria.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.scalars(query))
