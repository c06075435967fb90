"""The audit trail report: the events of a record with all its parts (a batch with its steps, entries and
deviations), of a user, or of a range of days, oldest first, each with its changes as the viewer shows them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session

from lims.audit import chain as audit_chain
from lims.audit import display as audit_display
from lims.audit import naming as audit_naming
from lims.audit import trail as audit_trail
from lims.audit.display import Shown
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.identity.service.users import get_user
from lims.reports.service.dates import day_range, end_of, start_of
from lims.reports.service.generation import Column, Content, ReportType, Setting

#: events named at a time: the records they name are looked up once per type for each such batch
NAMED_TOGETHER = 500


def prepare(session: Session, parameters: dict[str, Any], setting: Setting) -> Content:
    entity_type, entity_id = audit_trail.record_filter(session, parameters["entity_type"], parameters["entity_id"])
    stated: list[tuple[str, str]] = []
    records: tuple[tuple[str, str], ...] = ()
    if entity_type and entity_id:
        record = audit_trail.controlled_record(session, entity_type, entity_id)
        records = tuple(audit_trail.record_and_parts(record))
        key = audit_chain.entity_key(record)
        label = audit_naming.record_label(*key, audit_naming.name_records(session, [key]))
        stated.append(("Record", f"{label}, with its parts" if len(records) > 1 else label))
    elif entity_type:
        stated.append(("Records", f"every {entity_type.replace('_', ' ')}"))
    user_id = parameters["user_id"]
    if user_id is not None:
        user = get_user(session, user_id)
        stated.append(("User", f"{user.full_name} ({user.username})"))
    stated.append(("Days", day_range(parameters["date_from"], parameters["date_to"])))
    criteria = audit_trail.EventFilter(
        entity_type=entity_type if entity_type and not entity_id else None,
        records=records,
        user_id=user_id,
        recorded_from=start_of(parameters["date_from"], setting.zone),
        recorded_until=end_of(parameters["date_to"], setting.zone),
    )

    def rows(reading: Session) -> Iterator[Sequence[str]]:
        events = audit_trail.matching_events(reading, criteria)
        while batch := list(islice(events, NAMED_TOGETHER)):
            yield from _rows(reading, batch, setting)

    return Content(stated, rows)


def _rows(session: Session, events: list[AuditEvent], setting: Setting) -> Iterator[Sequence[str]]:
    keys = [(event.entity_type, event.entity_id) for event in events if event.entity_type and event.entity_id]
    names = audit_naming.name_records(session, [*keys, *audit_display.references(events)])

    def shown(value: Shown | None) -> str:
        if value is None:
            return "—"
        return setting.times.local(value.moment) if value.moment is not None else value.text

    for event in events:
        record = (
            audit_naming.record_label(event.entity_type, event.entity_id, names)
            if event.entity_type and event.entity_id
            else ""
        )
        changes = "\n".join(
            f"{change.field}: {shown(change.old)} → {shown(change.new)}"
            if change.old is not None
            else f"{change.field}: {shown(change.new)}"
            for change in audit_display.changes(event, names)
        )
        yield (
            str(event.sequence),
            setting.times.local(event.recorded_at),
            event.user_name or "",
            event.action,
            record,
            changes,
            event.reason or "",
        )


REPORT = ReportType(
    key="audit-trail",
    title="Audit trail report",
    purpose="Every recorded event of a record with all its parts (a batch with its steps, entries, release tests "
    "and deviations), of a user, or of a range of days, oldest first.",
    columns=(
        Column("Event", 50),
        Column("Recorded", 60),
        Column("User", 60),
        Column("Action", 48),
        Column("Record", 75),
        Column("Changes", 146),
        Column("Reason", 71),
    ),
    roles=frozenset({RoleName.QA, RoleName.ADMIN}),
    prepare=prepare,
)
