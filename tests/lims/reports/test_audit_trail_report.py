"""The audit trail report's scopes: a user's events, and days as the display time zone counts them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from batch_records.models import DeviationCategory
from batch_records.service import batches, deviations
from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.documents.times import Times
from lims.identity.models import RoleName
from lims.reports.service import audit_trail
from lims.reports.service.generation import Setting
from tests.lims.documents.conftest import localtime_in
from tests.lims.reports.conftest import SETTING, TODAY

BERLIN = Setting(
    times=Times(localtime_in("Europe/Berlin")), zone=ZoneInfo("Europe/Berlin"), today=TODAY, due_soon_days=14
)


def rows(session, setting=SETTING, **parameters):
    chosen = {"entity_type": "", "entity_id": "", "user_id": None, "date_from": None, "date_to": None} | parameters
    return list(audit_trail.REPORT.prepare(session, chosen, setting).rows(session))


def record_as(session, user, action: str, moment: datetime) -> None:
    audit_context.act_as(session, audit_context.Actor(user.id, user.full_name))
    with clock.frozen(moment):
        audit_chain.record(session, action, details={"note": "<b>bold</b> & =1+1"})


def test_a_users_report_holds_their_events_and_no_one_elses(db_session, create_user):
    mine, theirs = create_user(RoleName.QA, full_name="Quinn Okafor"), create_user(RoleName.QA, full_name="Sam Lee")
    record_as(db_session, mine, "test.mine", datetime(2030, 4, 9, 10, tzinfo=UTC))
    record_as(db_session, theirs, "test.theirs", datetime(2030, 4, 9, 11, tzinfo=UTC))
    listed = rows(db_session, user_id=mine.id)
    assert [row[3] for row in listed if row[3].startswith("test.")] == ["test.mine"]
    assert all(row[2] == "Quinn Okafor" for row in listed)
    [row] = [row for row in listed if row[3] == "test.mine"]
    assert row[5] == "note: <b>bold</b> & =1+1"


def test_days_are_the_display_time_zones(db_session, create_user):
    user = create_user(RoleName.QA)
    # 23:30 UTC on the 8th is already the 9th in Berlin (UTC+2); 22:30 UTC on the 9th is the 10th there.
    record_as(db_session, user, "test.late_on_the_8th_utc", datetime(2030, 4, 8, 23, 30, tzinfo=UTC))
    record_as(db_session, user, "test.evening_of_the_9th_utc", datetime(2030, 4, 9, 22, 30, tzinfo=UTC))
    on_the_9th = [
        row[3] for row in rows(db_session, BERLIN, date_from=TODAY.replace(day=9), date_to=TODAY.replace(day=9))
    ]
    assert "test.late_on_the_8th_utc" in on_the_9th and "test.evening_of_the_9th_utc" not in on_the_9th
    in_utc = [row[3] for row in rows(db_session, date_from=TODAY.replace(day=9), date_to=TODAY.replace(day=9))]
    assert "test.late_on_the_8th_utc" not in in_utc and "test.evening_of_the_9th_utc" in in_utc
    [late] = [row for row in rows(db_session, BERLIN, user_id=user.id) if row[3] == "test.late_on_the_8th_utc"]
    assert late[1] == "2030-04-09 01:30:00 CEST"


def test_a_batchs_report_holds_its_deviations_and_their_events(db_session, line, batch):
    deviation = deviations.raise_deviation(db_session, batch, description="Bag seal found loose", user=line.operator)
    deviations.record_investigation(
        db_session,
        deviation,
        deviations.InvestigationInput(DeviationCategory.MINOR, "Seal re-checked", None, None, None, None),
        reason="First findings",
    )
    listed = rows(db_session, entity_type="batch", entity_id=batch.batch_number)
    on_the_deviation = [row for row in listed if row[4] == f"deviation {deviation.number}"]
    assert [row[3] for row in on_the_deviation] == ["create", "update"]
    assert "description: Bag seal found loose" in on_the_deviation[0][5]
    assert on_the_deviation[1][6] == "First findings"
    # Another batch's deviation stays out of it.
    other = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 123457 5",
        user=line.operator,
    )
    deviations.raise_deviation(db_session, other, description="Not this batch's", user=line.operator)
    assert "Not this batch's" not in str(rows(db_session, entity_type="batch", entity_id=batch.batch_number))
