"""QA's equipment review lists, the pages the dashboard's calibration and impact queues open, go a keyset page at a
time, oldest first, each list on its own."""

from __future__ import annotations

from datetime import timedelta

from lims import clock
from lims.equipment.service import calibrations, impact_assessments
from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD


def test_calibrations_to_review_come_oldest_first_a_page_at_a_time(
    client, db_session, create_equipment, calibrate, signed_in
):
    recorded = []
    for day in (3, 2, 1):
        record = calibrate(create_equipment(), "37.1 °C", performed_on=clock.today() - timedelta(days=day))
        signatures.sign(
            db_session, record, meaning=SignatureMeaning.PERFORMED, user=calibrate.technician, password=PASSWORD
        )
        recorded.append(record)
    first = calibrations.calibrations_awaiting_review(db_session, limit=2)
    assert first.items == recorded[:2] and first.next_key is not None
    rest = calibrations.calibrations_awaiting_review(db_session, after=first.next_key, limit=2)
    assert rest.items == recorded[2:] and rest.next_key is None
    assert calibrations.count_awaiting_review(db_session) == 3
    assert impact_assessments.open_impact_assessments(db_session).items == []

    signed_in(RoleName.QA)
    page = client.get("/equipment/review").text
    assert all(record.equipment.asset_tag in page for record in recorded) and 'rel="next"' not in page
    refused = client.get("/equipment/review?assessments=not-a-cursor")
    assert refused.status_code == 422 and "cursor" in refused.text
