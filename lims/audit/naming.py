"""Records named as people call them in the audit trail: "batch CART-HLX19-260002", "lot IL2-001-260518-001".

The areas declare how (``Registry.record_names``); the trail asks once per type for the records a page shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, String, cast, literal, null, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from lims import registry
from lims.registry import RecordName, RecordNames

#: (entity type, entity id): a record an audit event names
RecordKey = tuple[str, str]


def record_ids(entity_ids: Iterable[str]) -> list[int]:
    """The ids of records with a single whole-number key, as events name them (so the key's index serves)."""
    return [int(entity_id) for entity_id in entity_ids if entity_id.isascii() and entity_id.isdigit()]


def named_by_column(
    model: Any,
    kind: str,
    identifier: InstrumentedAttribute[str],
    *,
    referent: InstrumentedAttribute[str] | None = None,
    identifier_hint: str = "",
) -> RecordNames:
    """Records known by a unique column (a batch number), found by it in the trail's filter."""

    def name(ids: list[int]) -> Select[*tuple[Any, ...]]:
        return select(model.id, identifier, referent if referent is not None else null()).where(model.id.in_(ids))

    def find(session: Session, typed: str) -> str | None:
        found = session.scalar(select(model.id).where(identifier == typed))
        return None if found is None else str(found)

    return RecordNames(model.__tablename__, kind, name, find, identifier_hint)


def _declaration(entity_type: str) -> RecordNames | None:
    return registry.record_names_of(entity_type)


def name_records(session: Session, keys: Iterable[RecordKey]) -> dict[RecordKey, RecordName]:
    """The names of the records in one statement however many types they are of (a union of each type's query);
    records of undeclared types or gone are left out."""
    ids_by_type: dict[str, set[str]] = {}
    for entity_type, entity_id in keys:
        ids_by_type.setdefault(entity_type, set()).add(entity_id)
    queries = []
    for entity_type, ids in sorted(ids_by_type.items()):
        declaration = _declaration(entity_type)
        wanted = record_ids(ids)
        if declaration is None or not wanted:
            continue
        named = declaration.name(sorted(wanted)).subquery()
        record_id, identifier, referent = named.c
        queries.append(
            select(
                literal(entity_type, String).label("entity_type"),
                cast(record_id, String).label("entity_id"),
                cast(identifier, String).label("identifier"),
                cast(referent, String).label("referent"),
            )
        )
    if not queries:
        return {}
    rows = session.execute(union_all(*queries) if len(queries) > 1 else queries[0])
    return {
        (entity_type, entity_id): RecordName(identifier, referent)
        for entity_type, entity_id, identifier, referent in rows
    }


def record_label(entity_type: str, entity_id: str, names: Mapping[RecordKey, RecordName]) -> str:
    """A record as the trail shows it: "batch CART-HLX19-260002", or its table and id where none is declared."""
    declaration = _declaration(entity_type)
    name = names.get((entity_type, entity_id))
    if declaration is None or name is None:
        return f"{entity_type.replace('_', ' ')} {entity_id}"
    return f"{declaration.kind} {name.identifier}"


def referent_label(entity_type: str, entity_id: str, names: Mapping[RecordKey, RecordName]) -> str | None:
    """A record as another refers to it ("Thi Nguyen", "Culture volume"), or None where it has no name."""
    name = names.get((entity_type, entity_id))
    if name is None:
        return None
    return name.referent or name.identifier


def filter_value(entity_type: str, entity_id: str, names: Mapping[RecordKey, RecordName]) -> str:
    """What the trail's filter takes for the record: its business identifier where its area finds it by one."""
    declaration = _declaration(entity_type)
    name = names.get((entity_type, entity_id))
    if declaration is None or declaration.find is None or name is None:
        return entity_id
    return name.identifier
