"""A lot expires at the end of its expiry day at the facility, whatever the UTC date says."""

from __future__ import annotations

import pytest

from lims.identity.models import RoleName
from lims.materials import service
from lims.materials.errors import LotExpired
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD
from tests.lims.local_dates import EXPIRY, JUST_AFTER_MIDNIGHT_EAST, JUST_BEFORE_MIDNIGHT_WEST, at_facility
from tests.lims.materials.conftest import TODAY


@pytest.fixture
def lot_expiring(receive, create_user, db_session):
    lot = receive(expires_in_days=(EXPIRY - TODAY).days)
    signatures.sign(
        db_session, lot, meaning=SignatureMeaning.RELEASED, user=create_user(RoleName.QA), password=PASSWORD
    )
    assert lot.expires_on == EXPIRY
    return lot


def take_a_millilitre(db_session, lot, user):
    service.consume(db_session, lot, parse_measurement("1 mL"), user=user, record_type="assay", record_id=1)


def test_a_lot_that_expired_yesterday_local_time_is_refused_from_local_midnight(db_session, lot_expiring, receive):
    with at_facility(JUST_AFTER_MIDNIGHT_EAST), pytest.raises(LotExpired, match="expired on 2030-04-15"):
        take_a_millilitre(db_session, lot_expiring, receive.technician)
    with at_facility(JUST_AFTER_MIDNIGHT_EAST):
        assert service.usable_lots(db_session, lot_expiring.material).items == []
        assert [state.reason for _lot, state in service.unusable_lots(db_session, lot_expiring.material)] == [
            "expired on 2030-04-15"
        ]


def test_a_lot_is_usable_until_the_end_of_its_expiry_day_local_time(db_session, lot_expiring, receive):
    with at_facility(JUST_BEFORE_MIDNIGHT_WEST):
        take_a_millilitre(db_session, lot_expiring, receive.technician)
        assert service.usable_lots(db_session, lot_expiring.material).items == [lot_expiring]


def test_qa_release_counts_expiry_in_local_days(db_session, receive, create_user):
    qa = create_user(RoleName.QA)
    east, west = receive(expires_in_days=(EXPIRY - TODAY).days), receive(expires_in_days=(EXPIRY - TODAY).days)
    with at_facility(JUST_AFTER_MIDNIGHT_EAST), pytest.raises(LotExpired):
        signatures.sign(db_session, east, meaning=SignatureMeaning.RELEASED, user=qa, password=PASSWORD)
    with at_facility(JUST_BEFORE_MIDNIGHT_WEST):
        signatures.sign(db_session, west, meaning=SignatureMeaning.RELEASED, user=qa, password=PASSWORD)


@pytest.mark.parametrize(
    ("moment", "shown"),
    [(JUST_AFTER_MIDNIGHT_EAST, "Not usable: expired on 2030-04-15"), (JUST_BEFORE_MIDNIGHT_WEST, "Usable")],
    ids=["UTC+8 just after midnight", "UTC-5 just before midnight"],
)
def test_the_lot_page_shows_usability_on_the_local_date(client, db_session, lot_expiring, signed_in, moment, shown):
    with at_facility(moment):
        signed_in(RoleName.TECHNICIAN)
        page = client.get(f"/materials/lots/{lot_expiring.id}")
    assert page.status_code == 200
    assert f">{shown}</span>" in page.text
