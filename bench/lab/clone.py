"""Copies of a record made through the LIMS, with everything that belongs to it, as new records of their own.

A template is a record the demo made through the services (a released batch, say) and every row that hangs from
it: rows whose foreign keys name a row of the template, and rows that name one by type and id (an equipment use
of a batch step, a signature of a test result). A copy gives each row a new id, points every reference within the
template at the copy's rows, moves every date and time by the same number of days, and takes the changes its
maker asks for (a batch number). What it does not know of, a column another area adds, it copies as it stands.

Signatures and content hashes cover what a record says, and a copy says other things (its batch number): they
are recomputed by the records' own ``signed_content`` on transient ORM objects built from the copy's rows, so
they hold for the copy exactly as for a record signed through the LIMS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, RelationshipDirection, Session

from bench.lab.tables import Row, is_day, is_time, largest_id, read_rows, shifted, table
from lims.db import Base
from lims.signatures import service as signatures
from lims.signatures.models import ElectronicSignature

#: rows that name another row by its table and id rather than by a foreign key: (type column, id column)
SOFT_REFERENCES = {
    "equipment_use": ("record_type", "record_id"),
    "lot_consumption": ("record_type", "record_id"),
    "test_result": ("tested_type", "tested_id"),
    "electronic_signature": ("entity_type", "entity_id"),
}
_SIGNATURES = "electronic_signature"
#: what no signed content reads, so no ORM object is built of it
_NOT_SIGNED_CONTENT = frozenset({_SIGNATURES, "equipment_use", "lot_consumption"})
#: the audit trail is written apart (bench.lab.trail)
# A lab's client submissions and their feed are not part of the batch line a lab is cloned from.
_NEVER_COPIED = frozenset({"audit_event", "submission", "sample", "client_event", "webhook", "webhook_delivery"})


@dataclass
class Template:
    """Rows of a record and all its parts, by table, in the order tables are inserted."""

    rows: dict[str, list[Row]]

    def pruned(self, keep: Callable[[str, Row], bool]) -> Template:
        """The template without the rows ``keep`` refuses, nor any row that names one of those."""
        kept = {name: [row for row in rows if keep(name, row)] for name, rows in self.rows.items()}
        changed = True
        while changed:
            changed = False
            ids = {name: {row["id"] for row in rows} for name, rows in kept.items()}
            for name, rows in kept.items():
                remaining = [row for row in rows if not _names_a_missing_row(name, row, self.rows, ids)]
                if len(remaining) != len(rows):
                    kept[name], changed = remaining, True
        return Template(kept)

    def only(self, name: str) -> Row:
        (row,) = self.rows[name]
        return row


def _names_a_missing_row(name: str, row: Row, every: dict[str, list[Row]], kept: dict[str, set[int]]) -> bool:
    for column in table(name).columns:
        for key in column.foreign_keys:
            target = key.column.table.name
            value = row[column.name]
            if (
                target in kept
                and value is not None
                and value not in kept[target]
                and value in {r["id"] for r in every[target]}
            ):
                return True
    if name in SOFT_REFERENCES:
        type_column, id_column = SOFT_REFERENCES[name]
        target = row[type_column]
        if target in kept and int(row[id_column]) in {r["id"] for r in every[target]}:
            return int(row[id_column]) not in kept[target]
    return False


def collect(connection: Connection, roots: dict[str, list[int]], *, leave_out: Iterable[str] = ()) -> Template:
    """The roots and every row that hangs from them (see the module's docstring), except the tables left out."""
    left_out = _NEVER_COPIED | frozenset(leave_out)
    found: dict[str, dict[int, Row]] = {
        name: {row["id"]: row for row in read_rows(connection, table(name), table(name).c.id.in_(ids))}
        for name, ids in roots.items()
    }
    grew = True
    while grew:
        grew = False
        for candidate in Base.metadata.sorted_tables:
            if candidate.name in left_out or "id" not in candidate.c:
                continue
            conditions: list[ColumnElement[bool]] = [
                column.in_(list(found[key.column.table.name]))
                for column in candidate.columns
                for key in column.foreign_keys
                if key.column.table.name in found and key.column.table.name != candidate.name
            ]
            if candidate.name in SOFT_REFERENCES:
                type_column, id_column = SOFT_REFERENCES[candidate.name]
                conditions += [
                    and_(candidate.c[type_column] == name, candidate.c[id_column].in_([str(i) for i in ids]))
                    for name, ids in found.items()
                ]
            if not conditions:
                continue
            rows = read_rows(connection, candidate, or_(*conditions))
            known = found.setdefault(candidate.name, {})
            new = [row for row in rows if row["id"] not in known]
            if new:
                known.update((row["id"], row) for row in new)
                grew = True
    order = [t.name for t in Base.metadata.sorted_tables]
    return Template({name: list(found[name].values()) for name in order if found.get(name)})


class Ids:
    """New ids for each table, after the largest there is."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._next: dict[str, int] = {}

    def take(self, name: str, count: int) -> int:
        """The first of ``count`` consecutive new ids of ``name``."""
        if name not in self._next:
            self._next[name] = largest_id(self._connection, table(name)) + 1
        first = self._next[name]
        self._next[name] += count
        return first

    def tables(self) -> list[str]:
        return list(self._next)


@dataclass
class Copy:
    rows: dict[str, list[Row]]
    #: the copy's id of each template row, by table
    new_ids: dict[str, dict[int, int]] = field(default_factory=dict)

    def of(self, name: str, template_id: int) -> Row:
        new_id = self.new_ids[name][template_id]
        return next(row for row in self.rows[name] if row["id"] == new_id)


def copy(template: Template, ids: Ids, *, days: int) -> Copy:
    """A copy of ``template`` with new ids, its references within itself followed, dates moved by ``days``."""
    new_ids = {
        name: dict(zip((row["id"] for row in rows), range(ids.take(name, len(rows)), 10**12), strict=False))
        for name, rows in template.rows.items()
    }
    copied: dict[str, list[Row]] = {}
    for name, rows in template.rows.items():
        plan = _plan(name, frozenset(template.rows))
        out = []
        for row in rows:
            new = dict(row)
            new["id"] = new_ids[name][row["id"]]
            for column, target in plan.references:
                value = row[column]
                if value is not None and value in new_ids[target]:
                    new[column] = new_ids[target][value]
            if plan.soft is not None:
                type_column, id_column = plan.soft
                target_ids = new_ids.get(row[type_column])
                if target_ids is not None and int(row[id_column]) in target_ids:
                    new[id_column] = str(target_ids[int(row[id_column])])
            for column in plan.times:
                new[column] = shifted(row[column], days)
            out.append(new)
        copied[name] = out
    return Copy(copied, new_ids)


@dataclass(frozen=True)
class _Plan:
    references: tuple[tuple[str, str], ...]
    soft: tuple[str, str] | None
    times: tuple[str, ...]


_plans: dict[tuple[str, frozenset[str]], _Plan] = {}


def _plan(name: str, tables_in_template: frozenset[str]) -> _Plan:
    key = (name, tables_in_template)
    if key not in _plans:
        of = table(name)
        _plans[key] = _Plan(
            references=tuple(
                (column.name, fk.column.table.name)
                for column in of.columns
                for fk in column.foreign_keys
                if fk.column.table.name in tables_in_template
            ),
            soft=SOFT_REFERENCES.get(name),
            times=tuple(column.name for column in of.columns if is_time(column) or is_day(column)),
        )
    return _plans[key]


# Signatures and content hashes


class SignedContent:
    """Recomputes what signatures cover for copies, with the records' own ``signed_content``.

    Records outside a copy that its signed content reads (a subject's protocol, a result's test definition) are
    loaded once through ``session``, which is only read from.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._outside: dict[tuple[type, Any], Any] = {}
        self._mappers = {_table_name(mapper): mapper for mapper in Base.registry.mappers}

    def apply(self, copied: Copy) -> None:
        """Set every ``content_hash`` in the copy, and every signature's hashes, to what they are for the copy."""
        objects = self._transient_objects(copied.rows)
        hashes: dict[tuple[str, int], str] = {}

        def content_hash(name: str, record_id: int) -> str:
            if (name, record_id) not in hashes:
                hashes[name, record_id] = signatures.content_hash(objects[name][record_id])
            return hashes[name, record_id]

        for name, rows in copied.rows.items():
            if name == _SIGNATURES or "content_hash" not in table(name).c:
                continue
            for row in rows:
                row["content_hash"] = content_hash(name, row["id"])
        for row in copied.rows.get(_SIGNATURES, []):
            row["content_hash"] = content_hash(row["entity_type"], int(row["entity_id"]))
            row["binding_hash"] = signatures._binding_hash(ElectronicSignature(**row))

    def _transient_objects(self, rows: dict[str, list[Row]]) -> dict[str, dict[int, Any]]:
        objects: dict[str, dict[int, Any]] = {}
        for name, table_rows in rows.items():
            if name in _NOT_SIGNED_CONTENT or name not in self._mappers:
                continue
            mapper = self._mappers[name]
            keys = [(prop.key, prop.columns[0].name) for prop in mapper.column_attrs]
            made = objects[name] = {}
            for row in table_rows:
                instance = mapper.class_manager.new_instance()
                # Straight into the instance's state: attributes read what is there, and nothing tracks changes.
                instance.__dict__.update({key: row[column] for key, column in keys if column in row})
                made[row["id"]] = instance
        for name, made in objects.items():
            self._link(self._mappers[name], made, objects)
        return objects

    def _link(self, mapper: Mapper[Any], made: dict[int, Any], objects: dict[str, dict[int, Any]]) -> None:
        for relationship in mapper.relationships:
            target_name = _table_name(relationship.mapper)
            if relationship.direction == RelationshipDirection.MANYTOONE:
                (local,) = relationship.local_columns
                key = mapper.get_property_by_column(local).key
                for instance in made.values():
                    value = getattr(instance, key)
                    if value is None:
                        target = None
                    elif target_name in objects and value in objects[target_name]:
                        target = objects[target_name][value]
                    else:
                        target = self._outside_record(relationship.mapper.class_, value)
                    instance.__dict__[relationship.key] = target
            elif relationship.direction == RelationshipDirection.ONETOMANY and target_name in objects:
                (remote,) = relationship.remote_side
                remote_key = relationship.mapper.get_property_by_column(remote).key
                children: dict[Any, list[Any]] = {}
                for child in objects[target_name].values():
                    children.setdefault(getattr(child, remote_key), []).append(child)
                order = _order_keys(relationship.mapper, relationship.order_by)
                for instance_id, instance in made.items():
                    found = children.get(instance_id, [])
                    found.sort(key=lambda child: tuple(getattr(child, name) for name in order))
                    instance.__dict__[relationship.key] = found

    def _outside_record(self, model: type, record_id: Any) -> Any:
        key = (model, record_id)
        if key not in self._outside:
            self._outside[key] = self._session.get(model, record_id)
        return self._outside[key]


def _order_keys(mapper: Mapper[Any], order_by: Any) -> list[str]:
    if not order_by:
        return ["id"]
    return [mapper.get_property_by_column(column).key for column in order_by]


def _table_name(mapper: Mapper[Any]) -> str:
    return str(getattr(mapper.local_table, "name", ""))
