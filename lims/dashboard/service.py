"""Work queues: each area contributes the lists of records waiting for someone."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lims.equipment.models import EquipmentStatus
from lims.equipment.service.calibrations import calibrations_awaiting_review
from lims.equipment.service.impact_assessments import open_impact_assessments_count
from lims.equipment.service.inventory import count_with_status
from lims.identity.models import RoleName, User
from lims.identity.service.sign_in import locked_users_count


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


#: The queues of the core; domain areas add theirs with register_work_queue.
WORK_QUEUES: list[WorkQueue] = [
    WorkQueue(
        title="Locked accounts",
        description="Users locked out after repeated failed sign-ins, waiting for an unlock.",
        roles=frozenset({RoleName.ADMIN}),
        count=lambda session, _user, _settings: locked_users_count(session),
        endpoint="identity.users",
        arguments=(("status", "locked"),),
    ),
    WorkQueue(
        title="Calibrations overdue",
        description="Equipment that may not be used until it is calibrated.",
        roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
        count=lambda session, _user, settings: count_with_status(
            session, frozenset({EquipmentStatus.OVERDUE}), due_soon_days=settings["CALIBRATION_DUE_SOON_DAYS"]),
        endpoint="equipment.index",
        arguments=(("status", EquipmentStatus.OVERDUE.value),),
    ),
    WorkQueue(
        title="Calibrations due soon",
        description="Equipment to calibrate before it falls due.",
        roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
        count=lambda session, _user, settings: count_with_status(
            session, frozenset({EquipmentStatus.DUE_SOON}), due_soon_days=settings["CALIBRATION_DUE_SOON_DAYS"]),
        endpoint="equipment.index",
        arguments=(("status", EquipmentStatus.DUE_SOON.value),),
    ),
    WorkQueue(
        title="Calibrations to review",
        description="Calibrations signed by their performer, waiting for QA review.",
        roles=frozenset({RoleName.QA}),
        count=lambda session, _user, _settings: len(calibrations_awaiting_review(session)),
        endpoint="equipment.review",
    ),
    WorkQueue(
        title="Out-of-tolerance impact assessments",
        description="Uses of equipment found out of tolerance, waiting for QA's conclusion.",
        roles=frozenset({RoleName.QA}),
        count=lambda session, _user, _settings: open_impact_assessments_count(session),
        endpoint="equipment.review",
    ),
]


def register_work_queue(queue: WorkQueue) -> None:
    """Show ``queue`` on the dashboards of its roles (domain areas call this once)."""
    WORK_QUEUES.append(queue)


def work_queues_for(session: Session, user: User, settings: Mapping[str, Any]) -> list[QueueSummary]:
    """Return the queues ``user``'s roles are responsible for, with their current size."""
    return [
        QueueSummary(queue=queue, count=queue.count(session, user, settings))
        for queue in WORK_QUEUES
        if user.has_any_role(queue.roles)
    ]
