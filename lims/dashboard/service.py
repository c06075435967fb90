"""Work queues: each area declares the lists of records waiting for someone (``Registry.work_queue``), and the
records held up until someone acts (``Registry.held_records``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lims import registry
from lims.identity.models import RoleName, User


@dataclass(frozen=True)
class WorkQueue:
    title: str
    description: str
    roles: frozenset[RoleName]
    #: the number of records waiting, given the session, the user and the app's settings
    count: Callable[[Session, User, Mapping[str, Any]], int]
    #: endpoint and query arguments of the page that lists the queue's records
    endpoint: str
    arguments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class QueueSummary:
    queue: WorkQueue
    count: int


def work_queues_for(session: Session, user: User, settings: Mapping[str, Any]) -> list[QueueSummary]:
    """Return the queues ``user``'s roles are responsible for, with their current size."""
    return [
        QueueSummary(queue=queue, count=queue.count(session, user, settings))
        for queue in registry.current().work_queues
        if user.has_any_role(queue.roles)
    ]


@dataclass(frozen=True)
class HeldRecord:
    """A record that cannot go on until someone acts: what it waits for, and who can unblock it."""

    #: the record as people call it, e.g. "Batch CART-HLX19-260003, step 4. Activation"
    label: str
    #: what it waits for, e.g. "no usable lot of IL-2 (lot IL2-001-260518-001 expired on 2026-11-30)"
    waiting_for: str
    #: who can unblock it, by role, e.g. "QA (release lot …)"
    unblocked_by: str
    endpoint: str
    arguments: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class HeldSummary:
    """An area's held records: how many in all, what they are ("batches held up"), the first few named, and the page
    that lists them all."""

    total: int
    what: str
    records: Sequence[HeldRecord]
    #: how many of the ``total`` the records name (a record may wait for several things, a record each)
    shown: int
    endpoint: str
    arguments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HeldRecords:
    """An area's records held up, for the dashboards of ``roles``: ``find`` counts them and names the first few in a
    fixed number of queries however many there are."""

    roles: frozenset[RoleName]
    find: Callable[[Session, Mapping[str, Any]], HeldSummary]


def held_records_for(session: Session, user: User, settings: Mapping[str, Any]) -> list[HeldSummary]:
    """The held records of the areas whose declarations name one of ``user``'s roles (those holding any)."""
    summaries = [
        declaration.find(session, settings)
        for declaration in registry.current().held_record_declarations
        if user.has_any_role(declaration.roles)
    ]
    return [summary for summary in summaries if summary.total]
