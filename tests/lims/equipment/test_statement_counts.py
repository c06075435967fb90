"""An equipment item's page and a calibration's page send as many statements for an item with ten calibrations,
uses, maintenance records and signatures as for one with one of each."""

from __future__ import annotations

from datetime import timedelta

from lims import clock
from lims.equipment.models import CalibrationRecord, Equipment, MaintenanceKind
from lims.equipment.service import maintenance, use
from lims.identity.models import RoleName, User
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD, counted_statements, login
from tests.lims.equipment.conftest import DUE_SOON_DAYS


def _history(db_session, equipment: Equipment, calibrate, people: list[User], times: int) -> CalibrationRecord:
    """``times`` signed calibrations, uses and maintenance records, a day apart up to today, each by the next of
    ``people``; the latest calibration."""
    for day in range(times, 0, -1):
        user = people[day % len(people)]
        record = calibrate(equipment, "37.1 °C", performed_on=clock.today() - timedelta(days=day), recorded_by=user)
        signatures.sign(db_session, record, meaning=SignatureMeaning.PERFORMED, user=user, password=PASSWORD)
        use.record_use(
            db_session,
            equipment,
            user=user,
            record_type="bench_test",
            record_id=day,
            purpose=f"Incubation {day}",
            due_soon_days=DUE_SOON_DAYS,
        )
        opened = maintenance.start_maintenance(
            db_session, equipment, kind=MaintenanceKind.PLANNED, description=f"Filter change {day}", user=user
        )
        maintenance.close_maintenance(db_session, opened, outcome="Back in service", user=user)
    return record


def test_the_equipment_and_calibration_pages_send_as_many_statements_for_a_long_history_as_for_a_short_one(
    app, db_session, create_equipment, calibrate, create_user
):
    viewer = create_user(RoleName.QA)
    people = [create_user(RoleName.TECHNICIAN) for _ in range(3)]
    short, long = create_equipment(), create_equipment()
    short_latest = _history(db_session, short, calibrate, people, 1)
    long_latest = _history(db_session, long, calibrate, people, 10)
    db_session.commit()
    client = app.test_client()
    assert login(client, viewer).status_code == 302

    def statements(url: str) -> int:
        assert client.get(url).status_code == 200
        with counted_statements(db_session.get_bind()) as traffic:
            page = client.get(url)
        assert page.status_code == 200
        return len(traffic.statements)

    assert statements(f"/equipment/{long.id}") == statements(f"/equipment/{short.id}")
    assert statements(f"/equipment/calibrations/{long_latest.id}") == statements(
        f"/equipment/calibrations/{short_latest.id}"
    )
