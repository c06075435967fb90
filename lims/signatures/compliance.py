"""The signatures' compliance check: signatures that a later change of their record invalidated, and that nobody
has signed again since.

One query finds the candidates: the latest signature of each record and meaning whose record, or one of the parts
it is made of (``audit_parts``, at any depth: a master record version's steps and their parameters), the audit trail
shows changed after it, with each record or part that changed. The trail names a part by its own type and id, not by
the record it belongs to, so the query joins each part's events to the record through the parts' tables, one branch
per path of parts; a part whose row is gone (deleted, in trails from before controlled records could no longer be
deleted) is joined through the record its deletion event recorded it belonging to. Their records are then read, one
query per type of record with their parts, and the signed content recomputed: only a change to what was signed
invalidates a signature.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, inspect, select, text, union
from sqlalchemy.orm import RelationshipProperty, Session, aliased, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from lims import registry
from lims.audit.chain import entity_key
from lims.audit.models import AuditEvent, Controlled, RecordedValue
from lims.registry import ComplianceCheck, Condition
from lims.signatures.models import ElectronicSignature, Signable
from lims.signatures.service import content_hash, name_of

#: a relationship from a record to its parts, then from those to theirs, down to the parts the path ends at
PartPath = tuple[RelationshipProperty[Any], ...]

#: how a finding says what an event did to a record or part, the strongest first where one saw several
_DONE = {"create": "added", "delete": "removed", "update": "changed"}
#: how many changed records and parts a finding names before it counts the rest
_NAMED = 3


def _part_paths(model: type[Any]) -> list[PartPath]:
    """Every path from ``model`` to the records its history includes (``audit_parts``), at any depth."""
    paths: list[PartPath] = []
    for name in getattr(model, "audit_parts", ()):
        relationship = inspect(model).relationships[name]
        paths.append((relationship,))
        paths += [(relationship, *deeper) for deeper in _part_paths(relationship.mapper.class_)]
    return paths


def _reference(relationship: RelationshipProperty[Any]) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """(the owner's key, the part's column that refers to it) of a relationship from a record to its parts."""
    ((owner_key, part_column),) = relationship.local_remote_pairs or ()
    return owner_key, part_column


def _key_of(model: type[Any]) -> ColumnElement[Any]:
    (key,) = inspect(model).primary_key
    return key


def _not_signed_again() -> ColumnElement[bool]:
    later = aliased(ElectronicSignature)
    return ~(
        select(later.id)
        .where(
            later.entity_type == ElectronicSignature.entity_type,
            later.entity_id == ElectronicSignature.entity_id,
            later.meaning == ElectronicSignature.meaning,
            later.signed_at > ElectronicSignature.signed_at,
        )
        .exists()
    )


def _changes_after_signing(*conditions: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    return select(
        ElectronicSignature.id.label("signature_id"), AuditEvent.action, AuditEvent.entity_type, AuditEvent.entity_id
    ).where(AuditEvent.recorded_at > ElectronicSignature.signed_at, _not_signed_again(), *conditions)


def _own_changes() -> Select[*tuple[Any, ...]]:
    return _changes_after_signing(
        AuditEvent.entity_type == ElectronicSignature.entity_type,
        AuditEvent.entity_id == ElectronicSignature.entity_id,
        AuditEvent.action == "update",
    )


def _changes_of_parts(model: type[Any], path: PartPath) -> Select[*tuple[Any, ...]]:
    """Events of the parts at the end of ``path`` from ``model``'s records after their signatures: from a record's
    signatures down the parts' tables to the parts' events."""
    owner_key, column = _reference(path[0])
    query = _changes_after_signing(ElectronicSignature.entity_type == model.__tablename__).select_from(
        ElectronicSignature
    )
    # Every signable record has a whole-number key: its signatures' entity ids are its key as text.
    query = query.join(column.table, column == cast(ElectronicSignature.entity_id, owner_key.type))
    for relationship in path[1:]:
        owner_key, column = _reference(relationship)
        query = query.join(column.table, column == owner_key)
    part = path[-1].mapper.class_
    return query.join(
        AuditEvent,
        and_(
            AuditEvent.entity_type == part.__tablename__,
            AuditEvent.entity_id == cast(_key_of(part), String),
            AuditEvent.action.in_(("create", "update")),
        ),
    )


def _deletions_of_parts(model: type[Any], path: PartPath) -> Select[*tuple[Any, ...]]:
    """Deletion events of the parts at the end of ``path`` after the signatures of the record they belonged to:
    from the event, through the owner it recorded, up the parts' tables to the record's signatures."""
    part = path[-1].mapper.class_
    _owner_key, column = _reference(path[-1])
    owner: ColumnElement[Any] = RecordedValue(path[-1].mapper.get_property_by_column(column).key, "old")
    query = _changes_after_signing(ElectronicSignature.entity_type == model.__tablename__).select_from(AuditEvent)
    for relationship in reversed(path[:-1]):
        _owner_key, column = _reference(relationship)
        key = _key_of(relationship.mapper.class_)
        query = query.join(column.table, key == cast(owner, key.type))
        owner = cast(column, String)
    return query.join(
        ElectronicSignature,
        and_(ElectronicSignature.entity_type == model.__tablename__, ElectronicSignature.entity_id == owner),
    ).where(AuditEvent.entity_type == part.__tablename__, AuditEvent.action == "delete")


def _loading_parts(model: type[Any]) -> list[LoaderOption]:
    """Options that load ``model``'s records with all their parts: a statement per path, however many records."""
    options: list[LoaderOption] = []
    for path in _part_paths(model):
        option = selectinload(path[0].class_attribute)
        for relationship in path[1:]:
            option = option.selectinload(relationship.class_attribute)
        options.append(option)
    return options


def _parts_of(record: Controlled, owner: tuple[str, str]) -> dict[tuple[str, str], tuple[Controlled, tuple[str, str]]]:
    """Each part of ``record`` (at any depth, in their order) by its key, with the key of the record it is part of."""
    parts: dict[tuple[str, str], tuple[Controlled, tuple[str, str]]] = {}
    for relationship in record.audit_parts:
        for part in getattr(record, relationship):
            key = entity_key(part)
            parts[key] = (part, owner)
            parts.update(_parts_of(part, key))
    return parts


def _unnamed(entity_type: str, entity_id: str) -> str:
    return f"{entity_type.replace('_', ' ')} {entity_id}"


def _what_changed(record: Signable, name: str, changes: Mapping[tuple[str, str], str]) -> str:
    """The record and parts that changed, as the lab says it ("step 3. Expansion of CART-HLX19 v1 changed"): the
    record first, its parts in their order, then parts no longer there."""
    own = entity_key(record)
    parts = _parts_of(record, own) if isinstance(record, Controlled) else {}

    def named(key: tuple[str, str]) -> str:
        if key == own:
            return name
        part, owner = parts[key]
        return f"{part.part_label() or _unnamed(*key)} of {named(owner)}"

    order = [own, *parts]
    told = [f"{named(key)} {_DONE[changes[key]]}" for key in order if key in changes]
    told += [f"{_unnamed(*key)} of {name} {_DONE[changes[key]]}" for key in sorted(set(changes) - set(order))]
    rest = f"; and {len(told) - _NAMED} more of its parts" if len(told) > _NAMED else ""
    return "; ".join(told[:_NAMED]) + rest


@contextmanager
def _not_compiled_first(session: Session) -> Iterator[None]:
    """On PostgreSQL, without compiling the plan of the statements run inside first (JIT): the candidates' plan of many
    branches has an estimated cost that would have it compiled, which takes longer than running it (2 s of 3.8 s over
    a lab of 10,000 batches)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    jit = session.execute(text("SELECT current_setting('jit'), set_config('jit', 'off', true)")).scalar_one()
    yield
    session.execute(text("SELECT set_config('jit', :jit, true)"), {"jit": jit})


def invalidated_signatures(session: Session, _now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Signatures whose record's signed content changed after them, not signed again with the same meaning."""
    signables = registry.current().signables
    branches = [_own_changes()]
    for signable in signables.values():
        for path in _part_paths(signable.model):
            branches += [_changes_of_parts(signable.model, path), _deletions_of_parts(signable.model, path)]
    changed = union(*branches).subquery()
    with _not_compiled_first(session):
        rows = session.execute(
            select(ElectronicSignature, changed.c.action, changed.c.entity_type, changed.c.entity_id).join(
                changed, changed.c.signature_id == ElectronicSignature.id
            )
        ).all()
    changes: dict[int, dict[tuple[str, str], str]] = {}
    by_type: dict[str, dict[int, ElectronicSignature]] = {}
    for signature, action, entity_type, entity_id in rows:
        by_type.setdefault(signature.entity_type, {})[signature.id] = signature
        done = changes.setdefault(signature.id, {})
        key = (entity_type, entity_id)
        if key not in done or list(_DONE).index(action) < list(_DONE).index(done[key]):
            done[key] = action
    for entity_type, signatures in by_type.items():
        signable_type = signables.get(entity_type)
        if signable_type is None:
            continue
        model = signable_type.model
        records = {
            str(record.id): record
            for record in session.scalars(
                select(model)
                .options(*_loading_parts(model))
                .where(model.id.in_({int(signature.entity_id) for signature in signatures.values()}))
            )
        }
        for signature in signatures.values():
            record = records.get(signature.entity_id)
            if record is None or content_hash(record) == signature.content_hash:
                continue
            name = name_of(record)
            yield Condition(
                "electronic_signature",
                str(signature.id),
                f"{signature.meaning.value} signature of {name}",
                f"{_what_changed(record, name, changes[signature.id])} after {signature.printed_name} signed it as "
                f"{signature.meaning.value} on {signature.signed_at.date().isoformat()}; it has not been signed again",
            )


CHECKS = (
    ComplianceCheck(
        "signatures.invalidated-not-resigned",
        "Signatures invalidated by later changes and not signed again",
        "signatures",
        "major",
        "every 1h",
        invalidated_signatures,
    ),
)
