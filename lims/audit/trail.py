"""Reading the trail: filtered pages of events for the viewer, and the controlled records events name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, inspect, or_, select
from sqlalchemy.orm import Session

from lims import registry
from lims.audit.chain import entity_key
from lims.audit.errors import NoRecordCalled, NotARecordId, PagedBothWays, RecordTypeNeeded, UnknownRecordType
from lims.audit.models import AuditEvent, Controlled
from lims.db import Base
from lims.errors import RecordNotFound


@dataclass(frozen=True)
class EventFilter:
    entity_type: str | None = None
    entity_id: str | None = None
    #: (entity type, entity id) of every record whose events match, when a history spans a record and its parts
    records: tuple[tuple[str, str], ...] = ()
    user_id: int | None = None
    #: any of these actions
    actions: tuple[str, ...] = ()
    recorded_from: datetime | None = None
    #: exclusive upper bound
    recorded_until: datetime | None = None
    text: str = ""
    #: the newest event to include (a document shows the trail as it stood when it was generated)
    through_sequence: int | None = None


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    #: pass as ``before`` to get the next (older) page; None on the last page
    next_before: int | None
    #: pass as ``after`` to get the previous (newer) page; None on the first page
    previous_after: int | None = None


def _filtered(criteria: EventFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if criteria.entity_type:
        query = query.where(AuditEvent.entity_type == criteria.entity_type)
    if criteria.entity_id:
        query = query.where(AuditEvent.entity_id == criteria.entity_id)
    if criteria.records:
        ids_by_type: dict[str, list[str]] = {}
        for entity_type, entity_id in criteria.records:
            ids_by_type.setdefault(entity_type, []).append(entity_id)
        query = query.where(
            or_(
                *(
                    and_(AuditEvent.entity_type == entity_type, AuditEvent.entity_id.in_(ids))
                    for entity_type, ids in ids_by_type.items()
                )
            )
        )
    if criteria.user_id is not None:
        query = query.where(AuditEvent.user_id == criteria.user_id)
    if criteria.actions:
        query = query.where(AuditEvent.action.in_(criteria.actions))
    if criteria.recorded_from is not None:
        query = query.where(AuditEvent.recorded_at >= criteria.recorded_from)
    if criteria.recorded_until is not None:
        query = query.where(AuditEvent.recorded_at < criteria.recorded_until)
    if criteria.through_sequence is not None:
        query = query.where(AuditEvent.sequence <= criteria.through_sequence)
    if criteria.text:
        # The payload holds the text as JSON does, and the changes as JSON within JSON: escaped once or twice.
        escaped_once = json.dumps(criteria.text.lower(), ensure_ascii=False)[1:-1]
        escaped_twice = json.dumps(escaped_once, ensure_ascii=False)[1:-1]
        query = query.where(
            or_(
                *(
                    func.lower(AuditEvent.payload).contains(text_in_payload, autoescape=True)
                    for text_in_payload in dict.fromkeys((escaped_once, escaped_twice))
                )
            )
        )
    return query


def search_events(
    session: Session, criteria: EventFilter, *, before: int | None = None, after: int | None = None, limit: int = 50
) -> EventPage:
    """A page of the events matching ``criteria``, newest first (keyset pagination).

    The newest page; or, with ``before``, the one just older than that sequence; or, with ``after``, the one
    just newer. Both come from a page's links, so the page they lead to has a neighbour on the side it was
    reached from.
    """
    if before is not None and after is not None:
        raise PagedBothWays("Page towards older or towards newer events, not both at once.", field="after")
    query = _filtered(criteria)
    if after is not None:
        rows = list(
            session.scalars(query.where(AuditEvent.sequence > after).order_by(AuditEvent.sequence).limit(limit + 1))
        )
        events = rows[:limit][::-1]
        return EventPage(
            events, events[-1].sequence if events else None, events[0].sequence if len(rows) > limit else None
        )
    if before is not None:
        query = query.where(AuditEvent.sequence < before)
    rows = list(session.scalars(query.order_by(AuditEvent.sequence.desc()).limit(limit + 1)))
    events = rows[:limit]
    return EventPage(
        events,
        events[-1].sequence if len(rows) > limit else None,
        events[0].sequence if before is not None and events else None,
    )


def matching_events(session: Session, criteria: EventFilter) -> Iterator[AuditEvent]:
    """Every event matching ``criteria``, oldest first, fetched in batches."""
    return session.scalars(_filtered(criteria).order_by(AuditEvent.sequence).execution_options(yield_per=2000))


def describe_changes(event_row: AuditEvent) -> list[tuple[str, Any, Any]]:
    """(field, old, new) for a record change; (detail, None, value) for other events."""
    if not event_row.changes:
        return []
    data = json.loads(event_row.changes)
    # "delete" stays for trails written before controlled records could no longer be deleted.
    if event_row.action in {"create", "update", "delete"}:
        return [(field, values[0], values[1]) for field, values in data.items()]
    return [(field, None, value) for field, value in data.items()]


def controlled_models() -> dict[str, type[Controlled]]:
    return {
        mapper.class_.__tablename__: mapper.class_
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, Controlled)
    }


def controlled_entity_types() -> list[str]:
    """Table names of every model under GMP control."""
    return sorted(controlled_models())


def record_filter(session: Session, entity_type: str, typed: str) -> tuple[str, str]:
    """The (type, id) of the record the filter names: by its business identifier (batch number, lot number)
    where its area declares one, else by its id (the links from record pages carry ids)."""
    if not entity_type:
        if typed:
            raise RecordTypeNeeded("Choose the type of the record you name.", field="entity_type")
        return "", ""
    model = controlled_models().get(entity_type)
    if model is None:
        raise UnknownRecordType(f"{entity_type!r} is not a type of controlled record.", field="entity_type")
    if not typed:
        return entity_type, ""
    names = registry.record_names_of(entity_type)
    if names is not None and names.find is not None:
        found = names.find(session, typed)
        if found is not None:
            return entity_type, found
        if (
            not (typed.isascii() and typed.isdigit())
            or not 0 < int(typed) < 2**63
            or session.get(model, int(typed)) is None
        ):
            hint = f" Enter {names.identifier_hint}." if names.identifier_hint else ""
            raise NoRecordCalled(f"There is no {names.kind} called {typed!r}.{hint}", field="entity_id")
        return entity_type, typed
    _primary_key(model, entity_type, typed)
    return entity_type, typed


def _primary_key(model: type[Controlled], entity_type: str, entity_id: str) -> list[int]:
    not_an_id = NotARecordId(f"{entity_id!r} is not the id of a {entity_type.replace('_', ' ')}.", field="entity_id")
    try:
        primary_key = [int(part) for part in entity_id.split("-")]
    except ValueError:
        raise not_an_id from None
    if len(primary_key) != len(inspect(model).primary_key) or not all(0 < part < 2**63 for part in primary_key):
        raise not_an_id
    return primary_key


def controlled_record(session: Session, entity_type: str, entity_id: str) -> Controlled:
    """The controlled record an audit event names."""
    model = controlled_models().get(entity_type)
    if model is None:
        raise UnknownRecordType(f"{entity_type!r} is not a type of controlled record.", field="entity_type")
    primary_key = _primary_key(model, entity_type, entity_id)
    record = session.get(model, primary_key if len(primary_key) > 1 else primary_key[0])
    if record is None:
        raise RecordNotFound(f"There is no {entity_type.replace('_', ' ')} {entity_id}.")
    return record


def record_and_parts(record: Controlled) -> list[tuple[str, str]]:
    """The entity keys of ``record`` and of the parts its history includes (``audit_parts``), at any depth."""
    keys = [entity_key(record)]
    for relationship in record.audit_parts:
        for part in getattr(record, relationship):
            keys += record_and_parts(part)
    return keys
