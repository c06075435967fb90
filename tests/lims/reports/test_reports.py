"""What each report lists, filtered and counted by the database: the rows a QA officer reads."""

from __future__ import annotations

from datetime import timedelta

from batch_records.cart_line import calibrated
from batch_records.models import BatchStatus, DeviationCategory
from batch_records.service import batches, deviations
from lims import clock
from lims.equipment.models import EquipmentType
from lims.equipment.service import inventory
from lims.reports.service import audit_trail, batch_reviews, calibration, releases, training
from lims.reports.service import deviations as open_deviations
from lims.training import service as training_records
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, release_batch
from tests.lims.reports.conftest import TODAY, rows_of


def new_equipment(session, tag: str):
    return inventory.create_equipment(
        session,
        asset_tag=tag,
        name=f"Item {tag}",
        equipment_type=EquipmentType.PIPETTE,
        location="QC lab",
        manufacturer="Acme",
        model="P200",
        serial_number=f"SN-{tag}",
        calibration_interval_days=90,
        owner=None,
    )


def test_the_calibration_list_puts_what_is_most_urgent_first_and_counts_days_until_due(db_session, line):
    never = new_equipment(db_session, "PIP-NEVER")
    overdue = calibrated(db_session, new_equipment(db_session, "PIP-LATE"), due_on=TODAY - timedelta(days=3))
    soon = calibrated(db_session, new_equipment(db_session, "PIP-SOON"), due_on=TODAY + timedelta(days=5))
    retired = calibrated(db_session, new_equipment(db_session, "PIP-OLD"), due_on=TODAY - timedelta(days=9))
    inventory.retire_equipment(db_session, retired, reason="Broken beyond repair")

    rows = rows_of(db_session, calibration.REPORT)
    assert [row[0] for row in rows] == [never.asset_tag, overdue.asset_tag, soon.asset_tag, "BSC-01", "CEN-01"]
    assert rows[0][4:] == ("calibration overdue", "never", "now", "")
    assert rows[1][4:] == ("calibration overdue", "2030-03-11", "2030-04-07", "-3")
    assert rows[2][4] == "calibration due soon" and rows[2][7] == "5"

    due_within = rows_of(db_session, calibration.REPORT, due_within_days="7", include_retired="on")
    assert [row[0] for row in due_within] == ["PIP-NEVER", "PIP-OLD", "PIP-LATE", "PIP-SOON"]
    assert due_within[1][4] == "retired"


def test_open_deviations_show_their_age_and_category_oldest_first(db_session, line, batch):
    clock.freeze(clock.now() - timedelta(days=20))
    old = deviations.raise_deviation(
        db_session, batch, description="=HYPERLINK(label)", user=line.operator, category=DeviationCategory.MAJOR
    )
    clock.freeze(clock.now() + timedelta(days=18))
    recent = deviations.raise_deviation(
        db_session, batch, description="Late label", user=line.operator, step=batch.steps[0]
    )
    clock.freeze(clock.now() + timedelta(days=2))

    rows = rows_of(db_session, open_deviations.REPORT)
    assert [row[0] for row in rows] == [old.number, recent.number]
    assert rows[0][2:6] == ("major", "2030-03-21 08:00:00 UTC", "Tran Nguyen", "20")
    assert rows[1][2] == "not classified yet" and rows[1][5] == "2" and rows[1][6].startswith("1. ")

    assert [row[0] for row in rows_of(db_session, open_deviations.REPORT, older_than_days="3")] == [old.number]
    assert [row[0] for row in rows_of(db_session, open_deviations.REPORT, older_than_days="2")] == [
        old.number,
        recent.number,
    ]
    assert [row[0] for row in rows_of(db_session, open_deviations.REPORT, category="unclassified")] == [recent.number]
    assert rows_of(db_session, open_deviations.REPORT, category="critical") == []


def test_the_release_register_names_who_released_or_rejected_what_under_which_master_record(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    release_batch(db_session, batch, line)

    rows = rows_of(db_session, releases.REPORT)
    assert rows == [
        (
            "2030-04-10 08:00:00 UTC",
            "released",
            f"{batch.batch_number}\nsubject {line.subject.code}",
            batch.product,
            batch.mbr_label,
            f"Quinn Okafor ({line.qa.username})",
            "",
        )
    ]
    assert rows_of(db_session, releases.REPORT, decision="rejected") == []
    assert rows_of(db_session, releases.REPORT, date_from="2030-04-11") == []
    assert len(rows_of(db_session, releases.REPORT, date_from="2030-04-10", date_to="2030-04-10")) == 1


def test_the_training_matrix_shows_each_persons_latest_training_and_whether_it_is_in_force(db_session, line):
    record = training_records.record_training
    record(
        db_session,
        user=line.untrained,
        subject="SOP-QC-014 v3",
        trained_on=TODAY - timedelta(days=400),
        expires_on=TODAY - timedelta(days=35),
        recorded_by=line.author,
    )
    record(
        db_session,
        user=line.second_operator,
        subject="SOP-QC-014 v3",
        trained_on=TODAY - timedelta(days=400),
        expires_on=TODAY - timedelta(days=35),
        recorded_by=line.author,
    )
    record(
        db_session,
        user=line.second_operator,
        subject="SOP-QC-014 v3",
        trained_on=TODAY - timedelta(days=30),
        expires_on=TODAY + timedelta(days=335),
        recorded_by=line.author,
    )

    rows = rows_of(db_session, training.REPORT, subject="sop-qc")
    assert rows == [
        (f"Noah Berg ({line.untrained.username})", "SOP-QC-014 v3", "2029-03-06", "2030-03-06", "expired"),
        (f"Sara Lind ({line.second_operator.username})", "SOP-QC-014 v3", "2030-03-11", "2031-03-11", "in force"),
    ]
    assert [row[0] for row in rows_of(db_session, training.REPORT, subject="SOP-QC", in_force_only="on")] == [
        f"Sara Lind ({line.second_operator.username})"
    ]
    everyone = rows_of(db_session, training.REPORT, user_id=str(line.operator.id))
    assert everyone and all(row[0].startswith("Tran Nguyen") for row in everyone)
    assert any(row[1] == line.version.training_subject for row in everyone)


def test_the_batch_review_summary_counts_what_review_by_exception_looks_at(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    deviations.raise_deviation(db_session, batch, description="Label smudged", user=line.operator)
    [row] = rows_of(db_session, batch_reviews.REPORT)
    assert row[0] == batch.batch_number and row[2] == "awaiting review"
    assert row[3] == f"{len(batch.steps)} of {len(batch.steps)}"
    assert row[4] == "0 out of limits\n0 corrected\n0 late"
    assert row[5] == "1 open of 1" and row[6] == f"0 of {len(batch.release_tests)} conforming"
    assert row[7] == "none yet"
    assert rows_of(db_session, batch_reviews.REPORT, status=BatchStatus.RELEASED.value) == []
    assert rows_of(db_session, batch_reviews.REPORT, batch_number="CART-NOPE") == []


def test_the_audit_trail_of_a_batch_takes_in_its_parts_and_no_other_batch(db_session, line, batch):
    other = line.subjects[1]
    another = batches.start_batch(
        db_session, line.version, subject=other, starting_material_identity="W1234 26 654321 C", user=line.operator
    )
    execute_all_steps(db_session, batch, line)
    rows = rows_of(db_session, audit_trail.REPORT, entity_type="batch", entity_id=batch.batch_number)
    records = {row[4] for row in rows}
    assert f"batch {batch.batch_number}" in records
    assert any(record.startswith("step ") for record in records)
    assert not any(another.batch_number in record for record in records)
    sequences = [int(row[0]) for row in rows]
    assert sequences == sorted(sequences)
