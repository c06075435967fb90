"""Training's part of the demo data set: the technician's training on the QC SOP (training on the master record
comes with the master record, in batch records' part)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user
from lims.training import service as training
from lims.training.models import TrainingRecord

SOP_SUBJECT = "SOP-QC-014 v3"


def load_training(session: Session) -> None:
    """The manager records the technician's training on the QC SOP."""
    if session.scalar(select(TrainingRecord.id).where(TrainingRecord.subject == SOP_SUBJECT).limit(1)) is not None:
        return
    today = clock.today()
    manager, technician = demo_user(session, "m.larsen"), demo_user(session, "t.nguyen")
    with acting_as(session, manager):
        training.record_training(
            session,
            user=technician,
            subject=SOP_SUBJECT,
            trained_on=today - timedelta(days=90),
            expires_on=today + timedelta(days=275),
            recorded_by=manager,
        )
