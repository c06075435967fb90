"""A record's audit trail as a document section: its events and its parts', named as the audit viewer names them.

The events are those of the viewer's history of the record with its parts (``lims.audit.trail.record_and_parts``),
plus the records the caller adds (a batch's deviations, its QC results), each grouped with the part it belongs to;
oldest first within each group, the groups in the order of the record's parts; and only up to the event the caller
names (the chain's head when the document was generated), so the section shows the trail as it stood then. The
changes read as in the viewer, but a record's creation lists only the fields given a value, and long hashes are
printed whole (paper cannot show them on demand).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reportlab.platypus import Flowable, Paragraph
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit import display, naming
from lims.audit import trail as audit_trail
from lims.audit.chain import entity_key
from lims.audit.models import GENESIS_HASH, AuditEvent, Controlled
from lims.audit.naming import RecordKey
from lims.documents.markup import text
from lims.documents.styles import BODY, H3
from lims.documents.tables import grid
from lims.documents.times import Times
from lims.registry import RecordName

HEADER = ["Event", "When, by whom", "Record", "Changes", "Reason"]
#: in millimetres of the text column's 180: wide enough for an action, a batch number, a field name unbroken
WIDTHS = [30, 34, 40, 48, 28]


@dataclass(frozen=True)
class ChainHead:
    """The newest event of the audit trail: its sequence number and hash (0 and the genesis hash for none)."""

    sequence: int
    hash: str


def chain_head(session: Session) -> ChainHead:
    """The audit trail's newest event as this transaction sees it."""
    newest = session.execute(
        select(AuditEvent.sequence, AuditEvent.hash).order_by(AuditEvent.sequence.desc()).limit(1)
    ).first()
    return ChainHead(0, GENESIS_HASH) if newest is None else ChainHead(newest.sequence, newest.hash)


def audit_trail_section(
    session: Session,
    record: Controlled,
    times: Times,
    *,
    through: int,
    also: Mapping[RecordKey, RecordKey] | None = None,
) -> list[Flowable]:
    """The events of ``record``, its parts and the records of ``also`` (each to the key of the part whose group it
    joins, or to itself), up to and including event ``through``: a heading per part, as the viewer names it, over
    a table of its events."""
    groups = display.part_groups(record) if record.audit_parts else {entity_key(record): entity_key(record)}
    groups.update(also or {})
    events = list(
        audit_trail.matching_events(session, audit_trail.EventFilter(records=tuple(groups), through_sequence=through))
    )
    if not events:
        return [Paragraph("No event recorded.", BODY)]
    names = naming.name_records(
        session,
        [
            *groups.values(),
            *((event.entity_type, event.entity_id) for event in events if event.entity_type and event.entity_id),
            *display.references(events),
        ],
    )
    flowables: list[Flowable] = []
    for group, grouped in display.grouped(events, groups):
        if group is not None:
            flowables.append(Paragraph(text(naming.record_label(*group, names)), H3))
        flowables.append(grid(HEADER, [_row(event, names, times) for event in grouped], WIDTHS))
    return flowables


def _row(event: AuditEvent, names: Mapping[RecordKey, RecordName], times: Times) -> list[str]:
    who = event.user_name + (f" from {event.client_address}" if event.client_address else "")
    record = naming.record_label(event.entity_type, event.entity_id or "", names) if event.entity_type else ""
    changes = [
        f"{change.field}: "
        + (f"{_shown(change.old, times)} → " if event.action in {"update", "delete"} else "")
        + _shown(change.new, times)
        for change in display.changes(event, names)
        # A record created lists the fields it was given: its empty ones would fill pages saying nothing.
        if not (event.action == "create" and change.new is None)
    ]
    return [
        f"{text(event.sequence)}<br/>{text(event.action)}",
        f"{text(times.local(event.recorded_at))}<br/>{text(who)}",
        text(record),
        "<br/>".join(text(change) for change in changes),
        text(event.reason),
    ]


def _shown(value: display.Shown | None, times: Times) -> str:
    if value is None:
        return "—"
    if value.moment is not None:
        return times.local(value.moment)
    if value.full is not None and value.text == f"{value.full[: display.HASH_SHOWN]}…":
        # A page shows a long hash shortened, the whole of it on demand; paper has no demand: it is printed whole.
        return value.full
    return value.text
