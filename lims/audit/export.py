"""The trail exported as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice

from sqlalchemy.orm import Session

from lims.audit import chain as audit_chain
from lims.audit import display as audit_display
from lims.audit import naming as audit_naming
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
    "record",
    "changes",
    "changes_named",
    "reason",
    "request_id",
    "client_address",
    "prev_hash",
    "hash",
)
#: events named together: one query per record type for each this many, however long the export
NAMED_TOGETHER = 2000


def csv_lines(events: Iterable[AuditEvent], session: Session) -> Iterator[str]:
    """The CSV export, header first, one line per event: each field as the chain holds it, and beside the record
    and the changes the names people know them by ("batch CART-HLX19-260002", "entered by: Thi Nguyen")."""
    return export_lines(CSV_HEADER, (row for chunk in _chunks(events) for row in _named_rows(session, chunk)))


def _chunks(events: Iterable[AuditEvent]) -> Iterator[list[AuditEvent]]:
    remaining = iter(events)
    while chunk := list(islice(remaining, NAMED_TOGETHER)):
        yield chunk


def _named_rows(session: Session, events: list[AuditEvent]) -> Iterator[tuple[object, ...]]:
    keys = [(item.entity_type, item.entity_id) for item in events if item.entity_type and item.entity_id]
    names = audit_naming.name_records(session, [*keys, *audit_display.references(events)])
    for item in events:
        record = (
            audit_naming.record_label(item.entity_type, item.entity_id, names)
            if item.entity_type and item.entity_id
            else ""
        )
        yield (
            item.sequence,
            stable_value(item.recorded_at),
            item.user_id,
            item.user_name,
            item.action,
            item.entity_type,
            item.entity_id,
            record,
            item.changes,
            "; ".join(_change_text(change) for change in audit_display.changes(item, names)),
            item.reason,
            item.request_id,
            item.client_address,
            item.prev_hash,
            item.hash,
        )


def _change_text(change: audit_display.Change) -> str:
    old, new = audit_display.written_out(change.old), audit_display.written_out(change.new)
    if old is None:
        return f"{change.field}: {new}"
    return f"{change.field}: {old} → {new}"


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
    session = reading_session()
    yield from csv_lines(audit_trail.matching_events(session, criteria), session)
