"""The training matrix: who is trained on what, until when; each person's latest training on each subject."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lims.identity.models import RoleName, User
from lims.identity.service.users import get_user
from lims.reports.service.generation import Column, Content, ReportType, Setting
from lims.training.models import TrainingRecord

CHUNK = 1000


def prepare(session: Session, parameters: dict[str, Any], setting: Setting) -> Content:
    subject, user_id, in_force_only = parameters["subject"], parameters["user_id"], parameters["in_force_only"]
    latest = select(
        TrainingRecord.id,
        func.row_number()
        .over(
            partition_by=(TrainingRecord.user_id, TrainingRecord.subject),
            order_by=(TrainingRecord.trained_on.desc(), TrainingRecord.id.desc()),
        )
        .label("newest_first"),
    ).subquery()
    query = (
        select(
            User.full_name,
            User.username,
            TrainingRecord.subject,
            TrainingRecord.trained_on,
            TrainingRecord.expires_on,
        )
        .join(latest, (latest.c.id == TrainingRecord.id) & (latest.c.newest_first == 1))
        .join(User, TrainingRecord.user_id == User.id)
    )
    stated = []
    if subject:
        query = query.where(func.lower(TrainingRecord.subject).contains(subject.lower(), autoescape=True))
        stated.append(("Subject contains", subject))
    if user_id is not None:
        user = get_user(session, user_id)
        query = query.where(TrainingRecord.user_id == user_id)
        stated.append(("Person", f"{user.full_name} ({user.username})"))
    if in_force_only:
        query = query.where(
            TrainingRecord.trained_on <= setting.today,
            or_(TrainingRecord.expires_on.is_(None), TrainingRecord.expires_on >= setting.today),
        )
    stated += [
        ("Training", "in force only" if in_force_only else "in force and expired"),
        ("Status on", setting.today.isoformat()),
    ]
    query = query.order_by(User.full_name, User.username, TrainingRecord.subject).execution_options(yield_per=CHUNK)

    def rows(reading: Session) -> Iterator[Sequence[str]]:
        for name, username, trained_subject, trained_on, expires_on in reading.execute(query):
            if expires_on is not None and expires_on < setting.today:
                status = "expired"
            elif trained_on > setting.today:
                status = "not yet in force"
            else:
                status = "in force"
            yield (
                f"{name} ({username})",
                trained_subject,
                trained_on.isoformat(),
                expires_on.isoformat() if expires_on else "no expiry",
                status,
            )

    return Content(stated, rows)


REPORT = ReportType(
    key="training-matrix",
    title="Training matrix",
    purpose="Who is trained on what (master record versions, SOPs) and until when: each person's latest training "
    "on each subject, with whether it is in force.",
    columns=(
        Column("Person", 130),
        Column("Subject", 170),
        Column("Trained on", 65),
        Column("Expires on", 65),
        Column("Status", 80),
    ),
    roles=frozenset({RoleName.QA, RoleName.MANAGER}),
    prepare=prepare,
)
