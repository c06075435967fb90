"""Automatic auditing of controlled records: the listeners on every Session and Engine, and ``install`` to hang them.

Importing this module changes nothing; ``install`` does, and ``lims.db.create_engine_for`` calls it, so the hooks
are in place before any session on one of the LIMS's engines flushes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Mapper, Session, UOWTransaction
from sqlalchemy.orm.attributes import History

from lims.audit import anchors, chain
from lims.audit.context import stated_reason
from lims.audit.errors import DeletionRefused, ReasonRequired
from lims.audit.models import Controlled

REDACTED = "[redacted]"


@cache
def _columns_of_composites(mapper: Mapper[Any]) -> dict[str, list[str]]:
    """The attribute keys of each composite's columns: a quantity is recorded whole, value with its unit, not as
    the two columns it is kept in. Fixed per mapper, and asked on every audited change."""
    return {
        composite.key: [mapper.get_property_by_column(column).key for column in composite.columns]
        for composite in mapper.composites
    }


def _composite_history(instance: Controlled, key: str, column_keys: list[str]) -> tuple[Any, Any]:
    """(old, new) of a composite attribute, built from its columns' histories; None where every column is None."""
    state = inspect(instance)
    olds, news = [], []
    for column_key in column_keys:
        history = state.attrs[column_key].history
        unchanged = history.unchanged[0] if history.unchanged else None
        olds.append(history.deleted[0] if history.deleted else unchanged)
        news.append(history.added[0] if history.added else unchanged)
    composite_class = state.mapper.composites[key].composite_class

    def whole(values: list[Any]) -> Any:
        return None if all(value is None for value in values) else composite_class(*values)

    return whole(olds), whole(news)


def _label(item: Any) -> str:
    return str(item)


def _column_changes(instance: Controlled, *, include_unchanged: bool) -> dict[str, list[Any]]:
    state = inspect(instance)
    mapper = state.mapper
    columns_of_composites = _columns_of_composites(mapper)
    in_composites = {key for keys in columns_of_composites.values() for key in keys}
    # A new record lists every attribute; on an update only those the unit of
    # work saw modified can have history, so the rest need not be looked at.
    keys = (
        [*mapper.column_attrs.keys(), *mapper.relationships.keys()]
        if include_unchanged
        else list(state.committed_state)
    )
    changes: dict[str, list[Any]] = {}
    for composite_key, column_keys in columns_of_composites.items():
        if composite_key not in instance.audit_system_fields and (
            include_unchanged or any(key in state.committed_state for key in column_keys)
        ):
            old, new = _composite_history(instance, composite_key, column_keys)
            if include_unchanged or old != new:
                changes[composite_key] = [chain.stable_value(old), chain.stable_value(new)]
    for key in keys:
        if key in instance.audit_system_fields or key in in_composites:
            continue
        if key in mapper.column_attrs:
            history: History = state.attrs[key].history
            if history.has_changes():
                old = history.deleted[0] if history.deleted else None
                new = history.added[0] if history.added else None
            elif include_unchanged:
                old, new = None, state.dict.get(key)
            else:
                continue
            if key in instance.audit_redacted_fields:
                old, new = (REDACTED if old is not None else None), REDACTED
            changes[key] = [chain.stable_value(old), chain.stable_value(new)]
        # Of the relationships, only many-to-many links live outside the record's own columns.
        elif key in mapper.relationships and mapper.relationships[key].secondary is not None:
            history = state.attrs[key].history
            if history.has_changes():
                kept = [_label(item) for item in history.unchanged]
                changes[key] = [
                    sorted(kept + [_label(item) for item in history.deleted]),
                    sorted(kept + [_label(item) for item in history.added]),
                ]
    return changes


def creation_changes(model: type[Controlled], values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What the trail records of a ``model`` record created with ``values`` (by attribute; a quantity whole), exactly
    as the flush hook records an insert: every column and quantity, its old value None.

    For an area that inserts many records at once outside the unit of work and appends their events itself
    (``lims.audit.chain.append_creations``).
    """
    stable = chain.stable_value
    return {
        key: [None, REDACTED if redacted else _PLAIN_VALUE.get(type(values.get(key)), stable)(values.get(key))]
        for key, redacted in _creation_keys(model)
    }


def creation_changes_many(model: type[Controlled], rows: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, list[Any]]]:
    """``creation_changes`` of each of ``rows``, in order, for records inserted together.

    A set of rows shares most of its values (a manifest's sample type, container, quantity, collection time): each
    value object is made stable text once, remembered by identity, which holds while ``rows`` keeps them all alive
    (equal values of different objects, ``Decimal("1.5")`` and ``Decimal("1.50")``, are never taken for each
    other).
    """
    keys = _creation_keys(model)
    stable = chain.stable_value
    made: dict[int, Any] = {}
    for values in rows:
        changes: dict[str, list[Any]] = {}
        for key, redacted in keys:
            value = values.get(key)
            if redacted:
                changes[key] = [None, REDACTED]
            elif type(value) in _PLAIN_VALUE:
                changes[key] = [None, value]
            else:
                known = made.get(id(value), _UNKNOWN)
                if known is _UNKNOWN:
                    known = made[id(value)] = stable(value)
                changes[key] = [None, known]
        yield changes


_UNKNOWN = object()
_CREATION_KEYS: dict[type[Controlled], tuple[tuple[str, bool], ...]] = {}


def _creation_keys(model: type[Controlled]) -> tuple[tuple[str, bool], ...]:
    """(attribute, redacted) of what a creation records, composites first then columns: fixed per model."""
    if model in _CREATION_KEYS:
        return _CREATION_KEYS[model]
    mapper: Mapper[Any] = inspect(model)
    columns_of_composites = _columns_of_composites(mapper)
    in_composites = {key for keys in columns_of_composites.values() for key in keys}
    keys = [(key, False) for key in columns_of_composites if key not in model.audit_system_fields]
    keys += [
        (column.key, column.key in model.audit_redacted_fields)
        for column in mapper.column_attrs
        if column.key not in model.audit_system_fields and column.key not in in_composites
    ]
    _CREATION_KEYS[model] = tuple(keys)
    return _CREATION_KEYS[model]


def _as_is(value: Any) -> Any:
    return value


#: the value types ``chain.stable_value`` keeps as they are, skipped on the hot path of a bulk creation
_PLAIN_VALUE = {type(None): _as_is, bool: _as_is, int: _as_is, str: _as_is}


def _refuse_deletes_and_require_reasons(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """Before a flush: no controlled record is deleted, and none is changed outside ``reason_for_change``."""
    for instance in session.deleted:
        if isinstance(instance, Controlled):
            raise DeletionRefused(
                f"This {instance.__tablename__.replace('_', ' ')} is a regulated record and is never "
                "deleted: retire, cancel or void it with a reason instead."
            )
    if stated_reason(session):
        return
    for instance in session.dirty:
        if isinstance(instance, Controlled) and _column_changes(instance, include_unchanged=False):
            raise ReasonRequired(f"Give the reason for changing this {instance.__tablename__.replace('_', ' ')}.")


def _audit_flushed_changes(session: Session, _context: UOWTransaction) -> None:
    """After a flush: append an event for each controlled record created or changed."""
    for instance in list(session.new):
        if isinstance(instance, Controlled):
            entity_type, entity_id = chain.entity_key(instance)
            chain.append(
                session,
                "create",
                entity_type=entity_type,
                entity_id=entity_id,
                changes=_column_changes(instance, include_unchanged=True),
            )
    for instance in list(session.dirty):
        if isinstance(instance, Controlled):
            changes = _column_changes(instance, include_unchanged=False)
            if changes:
                entity_type, entity_id = chain.entity_key(instance)
                chain.append(session, "update", entity_type=entity_type, entity_id=entity_id, changes=changes)


#: (target, event, listener), in the order they are hung: on every Session, a flush's checks and events and the
#: anchoring after a commit that signed or exported; on every Engine, the chain's state on the connection.
FLUSH_HOOKS: tuple[tuple[type, str, Callable[..., None]], ...] = (
    (Session, "before_flush", _refuse_deletes_and_require_reasons),
    (Session, "after_flush", _audit_flushed_changes),
    (Session, "after_commit", anchors.anchor_after_commit),
)
CONNECTION_HOOKS: tuple[tuple[type, str, Callable[..., None]], ...] = (
    (Engine, "begin", chain.forget_head_and_pending_events),
    (Engine, "rollback", chain.forget_head_and_pending_events),
    (Engine, "rollback_savepoint", chain.forget_head_and_pending_events),
    (Engine, "commit", chain.write_pending_events),
    (Engine, "savepoint", chain.write_pending_events),
    (Engine, "release_savepoint", chain.write_pending_events),
    (Engine, "before_cursor_execute", chain.write_pending_events_before_reading),
)


def install() -> None:
    """Hang the audit listeners on every Session and Engine; those already hung are left as they are."""
    for target, name, listener in (*FLUSH_HOOKS, *CONNECTION_HOOKS):
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)
