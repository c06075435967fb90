"""Training is in force until the end of its expiry day at the facility, whatever the UTC date says."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lims.errors import DateInFuture
from lims.identity.models import RoleName
from lims.training import service
from lims.training.errors import NotTrained
from tests.lims.local_dates import EXPIRY, JUST_AFTER_MIDNIGHT_EAST, JUST_BEFORE_MIDNIGHT_WEST, at_facility

SUBJECT = "MBR CAR-T-001 v1"


@pytest.fixture
def trained_until_expiry(db_session, create_user):
    technician = create_user(RoleName.TECHNICIAN, full_name="Thi Nguyen")
    with at_facility(JUST_BEFORE_MIDNIGHT_WEST):
        service.record_training(
            db_session,
            user=technician,
            subject=SUBJECT,
            trained_on=EXPIRY - timedelta(days=365),
            expires_on=EXPIRY,
            recorded_by=create_user(RoleName.MANAGER),
        )
    return technician


def test_training_that_expired_yesterday_local_time_is_not_in_force_from_local_midnight(
    db_session, trained_until_expiry
):
    with at_facility(JUST_AFTER_MIDNIGHT_EAST), pytest.raises(NotTrained, match="in force on 2030-04-16"):
        service.require_training(db_session, trained_until_expiry, SUBJECT)


def test_training_is_in_force_until_the_end_of_its_expiry_day_local_time(db_session, trained_until_expiry):
    with at_facility(JUST_BEFORE_MIDNIGHT_WEST):
        service.require_training(db_session, trained_until_expiry, SUBJECT)


def test_training_given_today_local_time_is_not_a_future_date(db_session, create_user):
    manager = create_user(RoleName.MANAGER)
    with at_facility(JUST_AFTER_MIDNIGHT_EAST):
        record = service.record_training(
            db_session,
            user=create_user(),
            subject=SUBJECT,
            trained_on=date(2030, 4, 16),
            expires_on=None,
            recorded_by=manager,
        )
    assert record.trained_on == date(2030, 4, 16)
    with at_facility(JUST_BEFORE_MIDNIGHT_WEST), pytest.raises(DateInFuture):
        service.record_training(
            db_session,
            user=create_user(),
            subject=SUBJECT,
            trained_on=date(2030, 4, 16),
            expires_on=None,
            recorded_by=manager,
        )


@pytest.mark.parametrize(
    ("moment", "expired"),
    [(JUST_AFTER_MIDNIGHT_EAST, True), (JUST_BEFORE_MIDNIGHT_WEST, False)],
    ids=["UTC+8 just after midnight", "UTC-5 just before midnight"],
)
def test_the_training_page_marks_expiry_on_the_local_date(
    client, db_session, trained_until_expiry, signed_in, moment, expired
):
    db_session.commit()
    with at_facility(moment):
        signed_in(RoleName.TECHNICIAN)
        page = client.get("/training")
    assert page.status_code == 200 and "Thi Nguyen" in page.text
    assert ('<span class="badge badge-danger">Expired</span>' in page.text) is expired
