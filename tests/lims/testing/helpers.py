"""What tests of QC results share: analysts trained on the test methods."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lims import clock
from lims.identity.models import User
from lims.testing import service as testing
from lims.training import service as training


def trained(session: Session, user: User) -> User:
    """``user`` with training in force on every test method defined so far."""
    for definition in testing.list_definitions(session):
        training.record_training(
            session,
            user=user,
            subject=definition.training_subject,
            trained_on=clock.today(),
            expires_on=None,
            recorded_by=user,
        )
    return user
