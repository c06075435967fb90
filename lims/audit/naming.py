"""Records named as people call them in the audit trail: "batch CART-HLX19-260002", "lot IL2-001-260518-001".

The areas declare how (``Registry.record_names``); the trail asks once per type for the records a page shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
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

    def name(session: Session, ids: list[str]) -> Mapping[str, RecordName]:
        columns = [model.id, identifier] + ([referent] if referent is not None else [])
        rows = session.execute(select(*columns).where(model.id.in_(record_ids(ids))))
        return {str(row[0]): RecordName(row[1], row[2] if referent is not None else None) for row in rows}

    def find(session: Session, typed: str) -> str | None:
        found = session.scalar(select(model.id).where(identifier == typed))
        return None if found is None else str(found)

    return RecordNames(model.__tablename__, kind, name, find, identifier_hint)


def _declaration(entity_type: str) -> RecordNames | None:
    return registry.record_names_of(entity_type)


def name_records(session: Session, keys: Iterable[RecordKey]) -> dict[RecordKey, RecordName]:
    """The names of the records, one query per type; records of undeclared types or gone are left out."""
    ids_by_type: dict[str, set[str]] = {}
    for entity_type, entity_id in keys:
        ids_by_type.setdefault(entity_type, set()).add(entity_id)
    names: dict[RecordKey, RecordName] = {}
    for entity_type, ids in ids_by_type.items():
        declaration = _declaration(entity_type)
        if declaration is None:
            continue
        for entity_id, name in declaration.name(session, sorted(ids)).items():
            names[(entity_type, entity_id)] = name
    return names


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
