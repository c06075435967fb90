"""The trail exported as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from sqlalchemy.orm import Session

from lims.audit import chain as audit_chain
from lims.audit import trail as audit_trail
from lims.audit.chain import stable_value
from lims.audit.models import AuditEvent
from lims.csv_export import csv_lines as export_lines

CSV_HEADER = (
    "sequence",
    "recorded_at_utc",
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
    "hash",
)


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The CSV export, header first, one line per event."""
    return export_lines(
        CSV_HEADER,
        (
            (
                item.sequence,
                stable_value(item.recorded_at),
                item.user_id,
                item.user_name,
                item.action,
                item.entity_type,
                item.entity_id,
                item.changes,
                item.reason,
                item.request_id,
                item.client_address,
                item.prev_hash,
                item.hash,
            )
            for item in events
        ),
    )


def export_events(
    session: Session,
    criteria: audit_trail.EventFilter,
    *,
    filters: Mapping[str, str],
    reading_session: Callable[[], Session],
) -> Iterator[str]:
    """Record the export of the events matching ``criteria`` (asked for as ``filters``), then give its CSV lines.

    The lines are read through ``reading_session()`` only as they are taken: a streamed response takes them after
    the request's transaction, with this export's own event, is committed.
    """
    audit_chain.record(session, "audit.exported", details=dict(filters))
    return _lines(criteria, reading_session)


def _lines(criteria: audit_trail.EventFilter, reading_session: Callable[[], Session]) -> Iterator[str]:
    yield from csv_lines(audit_trail.matching_events(reading_session(), criteria))
