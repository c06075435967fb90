"""Training: recorded by a manager, in force from the day given until its expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lims import clock
from lims.identity.models import RoleName
from lims.training import service
from lims.training.errors import NotTrained

TODAY = date(2030, 4, 10)


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=UTC))


def test_training_must_be_in_force(db_session, create_user):
    manager, technician = create_user(RoleName.MANAGER), create_user(RoleName.TECHNICIAN)
    with pytest.raises(NotTrained, match="no training on MBR CAR-T-001 v1"):
        service.require_training(db_session, technician, "MBR CAR-T-001 v1")
    service.record_training(
        db_session,
        user=technician,
        subject="MBR CAR-T-001 v1",
        trained_on=TODAY - timedelta(days=30),
        expires_on=TODAY + timedelta(days=335),
        recorded_by=manager,
    )
    service.require_training(db_session, technician, "MBR CAR-T-001 v1")
    with pytest.raises(NotTrained):
        service.require_training(db_session, technician, "MBR CAR-T-001 v2")
    with pytest.raises(NotTrained):
        service.require_training(db_session, technician, "MBR CAR-T-001 v1", on=TODAY + timedelta(days=336))
    service.require_training(db_session, technician, "MBR CAR-T-001 v1", on=TODAY + timedelta(days=335))
