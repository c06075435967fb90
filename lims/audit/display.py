"""An event's changes as a reader takes them: references by the referenced record's name, times as times, long
hashes shortened (the full value on demand); and a record's history grouped by its parts (a batch's steps)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect

from lims.audit import naming, trail
from lims.audit.chain import entity_key
from lims.audit.models import AuditEvent, Controlled
from lims.audit.naming import RecordKey
from lims.registry import RecordName

_STORED_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00")
_LONG_HASH = re.compile(r"[0-9a-f]{40,}")
#: how much of a hash is shown: enough to tell two apart at a glance
HASH_SHOWN = 12


@dataclass(frozen=True)
class Shown:
    """A value of a change: ``text`` to show, or ``moment`` to show in the display time zone; ``full`` the whole
    value where the text shortens or replaces it."""

    text: str = ""
    moment: datetime | None = None
    full: str | None = None


@dataclass(frozen=True)
class Change:
    field: str
    old: Shown | None
    new: Shown | None


# A page asks this for every field of every event shown; the mapped models are fixed once the areas are installed.
@functools.cache
def _reference_target(entity_type: str, field: str) -> str | None:
    model = trail.controlled_models().get(entity_type)
    if model is None:
        return None
    columns = inspect(model).local_table.c
    if field not in columns:
        return None
    targets = {foreign_key.column.table.name for foreign_key in columns[field].foreign_keys}
    return targets.pop() if len(targets) == 1 else None


def references(events: Iterable[AuditEvent]) -> list[RecordKey]:
    """The records the changes of ``events`` refer to, to be named with the page's other records."""
    keys = []
    for event in events:
        for field, old, new in trail.describe_changes(event):
            target = event.entity_type and _reference_target(event.entity_type, field)
            if target:
                keys += [(target, str(value)) for value in (old, new) if value is not None]
    return keys


def _shown(value: Any, target: str | None, names: Mapping[RecordKey, RecordName]) -> Shown | None:
    if value is None:
        return None
    text = str(value)
    if target:
        referent = naming.referent_label(target, text, names)
        return Shown(referent, full=f"{target.replace('_', ' ')} {text}") if referent else Shown(text)
    if isinstance(value, str) and _STORED_TIME.fullmatch(value):
        return Shown(moment=datetime.fromisoformat(value).astimezone(UTC))
    if isinstance(value, str) and _LONG_HASH.fullmatch(value):
        return Shown(f"{value[:HASH_SHOWN]}…", full=value)
    return Shown(text)


def written_out(shown: Shown | None) -> str | None:
    """A value in full, for an export: a reference by name with the record it names, a time in UTC, a whole hash."""
    if shown is None:
        return None
    if shown.moment is not None:
        return shown.moment.isoformat()
    if shown.full is None:
        return shown.text
    if shown.text.endswith("…") and shown.full.startswith(shown.text[:-1]):
        return shown.full
    return f"{shown.text} ({shown.full})"


def changes(event: AuditEvent, names: Mapping[RecordKey, RecordName]) -> list[Change]:
    """The event's changes as shown: a reference field ("parameter_id") by what it refers to ("parameter")."""
    shown = []
    for field, old, new in trail.describe_changes(event):
        target = (event.entity_type and _reference_target(event.entity_type, field)) or None
        label = field.removesuffix("_id").replace("_", " ") if target else field
        shown.append(Change(label, _shown(old, target, names), _shown(new, target, names)))
    return shown


def part_groups(record: Controlled) -> dict[RecordKey, RecordKey]:
    """For a record's history: the key of each of its parts (at any depth), to the key of the direct part it belongs
    to (a parameter's entry to its step); the record's own key to itself."""
    own = entity_key(record)
    groups = {own: own}
    for relationship in record.audit_parts:
        for part in getattr(record, relationship):
            part_key = entity_key(part)
            for key in trail.record_and_parts(part):
                groups[key] = part_key
    return groups


def grouped(
    events: list[AuditEvent], groups: Mapping[RecordKey, RecordKey]
) -> list[tuple[RecordKey | None, list[AuditEvent]]]:
    """The page's events by the part they belong to, in the order of the parts (the record's own first); without
    parts, one group of them all (none without events)."""
    if not groups:
        return [(None, events)] if events else []
    order = list(dict.fromkeys(groups.values()))
    by_group: dict[RecordKey, list[AuditEvent]] = {}
    for event in events:
        key = groups.get((event.entity_type or "", event.entity_id or ""), order[0])
        by_group.setdefault(key, []).append(event)
    return [(key, by_group[key]) for key in order if key in by_group]
