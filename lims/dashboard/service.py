"""Work queues: each area contributes the lists of records waiting for someone."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lims.identity import service as identity
from lims.identity.models import RoleName, User


@dataclass(frozen=True)
class WorkQueue:
    title: str
    description: str
    roles: frozenset[RoleName]
    count: Callable[[Session, User], int]
    #: endpoint and query arguments of the page that lists the queue's records
    endpoint: str
    arguments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class QueueSummary:
    queue: WorkQueue
    count: int


WORK_QUEUES: tuple[WorkQueue, ...] = (
    WorkQueue(
        title="Locked accounts",
        description="Users locked out after repeated failed sign-ins, waiting for an unlock.",
        roles=frozenset({RoleName.ADMIN}),
        count=lambda session, _user: identity.locked_users_count(session),
        endpoint="identity.users",
        arguments=(("status", "locked"),),
    ),
)


def work_queues_for(session: Session, user: User) -> list[QueueSummary]:
    """Return the queues ``user``'s roles are responsible for, with their current size."""
    return [
        QueueSummary(queue=queue, count=queue.count(session, user))
        for queue in WORK_QUEUES
        if user.has_any_role(queue.roles)
    ]
