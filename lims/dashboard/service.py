"""Work queues: each area declares the lists of records waiting for someone (``Registry.work_queue``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
