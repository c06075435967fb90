"""The rules of training: recording it, and refusing work to whoever has no training in force on it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import Exists, SQLColumnExpression, exists, or_, select
from sqlalchemy.orm import Session

from lims import clock, registry
from lims.errors import DateInFuture, DatesOutOfOrder
from lims.identity.models import User
from lims.training.errors import NotTrained
from lims.training.models import TrainingRecord


def record_training(
    session: Session, *, user: User, subject: str, trained_on: date, expires_on: date | None, recorded_by: User
) -> TrainingRecord:
    """Record that ``user`` is trained on ``subject`` (a master batch record version or an SOP)."""
    if trained_on > clock.today():
        raise DateInFuture("Training cannot be recorded for a future date.", field="trained_on")
    if expires_on is not None and expires_on <= trained_on:
        raise DatesOutOfOrder("The training expires before or on the day it was given.", field="expires_on")
    record = TrainingRecord(
        user_id=user.id,
        subject=subject.strip(),
        trained_on=trained_on,
        expires_on=expires_on,
        recorded_by_id=recorded_by.id,
    )
    session.add(record)
    session.flush()
    return record


def in_force(user: User, subject: str | SQLColumnExpression[str], *, on: date | None = None) -> Exists:
    """The condition that a training record of ``user`` on ``subject`` (a subject, or a column naming one per row:
    a list of work filters on it) is in force on ``on`` (today by default)."""
    on = on or clock.today()
    return exists(
        select(TrainingRecord.id).where(
            TrainingRecord.user_id == user.id,
            TrainingRecord.subject == subject,
            TrainingRecord.trained_on <= on,
            or_(TrainingRecord.expires_on.is_(None), TrainingRecord.expires_on >= on),
        )
    )


def subjects_in_force(session: Session, user: User, subjects: Collection[str], *, on: date | None = None) -> set[str]:
    """Which of ``subjects`` ``user`` has training in force on, on ``on`` (today by default), in one statement."""
    on = on or clock.today()
    return set(
        session.scalars(
            select(TrainingRecord.subject)
            .distinct()
            .where(
                TrainingRecord.user_id == user.id,
                TrainingRecord.subject.in_(list(subjects)),
                TrainingRecord.trained_on <= on,
                or_(TrainingRecord.expires_on.is_(None), TrainingRecord.expires_on >= on),
            )
        )
    )


def require_training(session: Session, user: User, subject: str, *, on: date | None = None) -> None:
    """Refuse ``user`` unless a training record on ``subject`` is in force on ``on`` (today by default)."""
    on = on or clock.today()
    if not session.scalar(select(in_force(user, subject, on=on))):
        raise NotTrained(f"{user.full_name} has no training on {subject} in force on {on.isoformat()}.")


def training_records(session: Session, *, user: User | None = None) -> list[TrainingRecord]:
    query = select(TrainingRecord).order_by(TrainingRecord.subject, TrainingRecord.trained_on.desc())
    if user is not None:
        query = query.where(TrainingRecord.user_id == user.id)
    return list(session.scalars(query))


def required_subjects(session: Session) -> list[str]:
    """The subjects the areas require training on now (the training form offers them; an SOP is typed)."""
    return [subject for finder in registry.current().training_subject_finders for subject in finder(session)]
