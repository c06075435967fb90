"""The steps waiting for a second person or for QA: counted and listed in SQL from the content hash each step keeps,
with only what the viewer could sign, a page at a time."""

from __future__ import annotations

import importlib

from sqlalchemy import text

from batch_records.models import BatchStep
from batch_records.service import batches, execution, step_signatures
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from tests.batch_records.test_batch_views import queue_count, signed_in_as
from tests.batch_records.test_execution import do_selection, enter, sign
from tests.helpers import PASSWORD

VERIFIED, REVIEWED = SignatureMeaning.VERIFIED, SignatureMeaning.REVIEWED


def waiting(session, meaning, user=None, **paging) -> list[BatchStep]:
    return step_signatures.steps_awaiting_signature(session, meaning, for_user=user, **paging).items


def counted(session, meaning, user=None) -> int:
    return step_signatures.count_steps_awaiting_signature(session, meaning, for_user=user)


def performed_receipt(session, batch, line) -> BatchStep:
    step = batch.steps[0]
    enter(session, step, {"Volume": "180", "Temperature on receipt": "5"}, line.operator)
    sign(session, step, SignatureMeaning.PERFORMED, line.operator)
    return step


def assert_hash_current(step: BatchStep) -> None:
    assert step.content_hash == signatures.content_hash(step)


def test_a_step_keeps_the_hash_of_its_content_through_entries_corrections_yields_and_skipping(db_session, line, batch):
    for step in batch.steps:
        assert_hash_current(step)
    receipt = batch.steps[0]
    before = receipt.content_hash
    (volume,) = enter(db_session, receipt, {"Volume": "180"}, line.operator)
    assert receipt.content_hash != before
    assert_hash_current(receipt)
    execution.correct_entry(db_session, volume, "190", reason="Misread the scale", user=line.operator)
    assert_hash_current(receipt)
    enter(db_session, receipt, {"Temperature on receipt": "5"}, line.operator)
    sign(db_session, receipt, SignatureMeaning.PERFORMED, line.operator)
    sign(db_session, receipt, VERIFIED, line.second_operator)
    do_selection(db_session, batch, line)
    step_signatures.skip_step(db_session, batch.steps[2], reason="On target", user=line.operator, password=PASSWORD)
    assert_hash_current(batch.steps[2])
    harvest = batch.steps[3]
    execution.record_yield(db_session, harvest, parse_measurement("1.9 ×10^9 cells"), user=line.operator)
    assert_hash_current(harvest)


def test_a_correction_after_signing_sends_the_step_back_to_its_performer_before_any_verifier(db_session, line, batch):
    step = performed_receipt(db_session, batch, line)
    assert waiting(db_session, VERIFIED, line.second_operator) == [step]
    assert counted(db_session, VERIFIED, line.second_operator) == 1
    sign(db_session, step, VERIFIED, line.second_operator)
    assert counted(db_session, VERIFIED, line.second_operator) == 0

    entry = step.parameters[0].current_entry
    execution.correct_entry(db_session, entry, "190", reason="Misread the scale", user=line.operator)
    # Both signatures are invalidated: the performer signs again first.
    assert counted(db_session, VERIFIED, line.second_operator) == 0 and waiting(db_session, VERIFIED) == []
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    assert waiting(db_session, VERIFIED, line.second_operator) == [step]
    assert counted(db_session, VERIFIED, line.second_operator) == 1


def test_only_a_verifier_trained_on_the_master_record_is_offered_the_step(app, db_session, line, batch):
    step = performed_receipt(db_session, batch, line)
    assert signatures.may_sign(db_session, step, VERIFIED, line.untrained) is False
    assert counted(db_session, VERIFIED, line.untrained) == 0 and waiting(db_session, VERIFIED, line.untrained) == []
    assert counted(db_session, VERIFIED, line.second_operator) == 1
    untrained = signed_in_as(app, db_session, line.untrained)
    assert queue_count(untrained.get("/").text, "Steps to verify") == 0
    assert "Nothing is waiting." in untrained.get("/batch-steps/awaiting/verified").text


def test_the_hold_points_to_review_are_counted_like_they_are_listed(db_session, line, batch):
    selection = batch.steps[1]
    enter(db_session, batch.steps[0], {"Volume": "180", "Temperature on receipt": "5"}, line.operator)
    sign(db_session, batch.steps[0], SignatureMeaning.PERFORMED, line.operator)
    sign(db_session, batch.steps[0], VERIFIED, line.second_operator)
    execution.record_equipment_use(db_session, selection, line.cabinet, user=line.operator, due_soon_days=14)
    execution.record_equipment_use(db_session, selection, line.centrifuge, user=line.operator, due_soon_days=14)
    execution.record_material_use(
        db_session, selection, selection.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    enter(db_session, selection, {"CD3+ purity": "92.4"}, line.operator)
    assert counted(db_session, REVIEWED) == 0
    sign(db_session, selection, SignatureMeaning.PERFORMED, line.operator)
    assert counted(db_session, REVIEWED) == 1 and waiting(db_session, REVIEWED) == [selection]
    sign(db_session, selection, REVIEWED, line.qa)
    assert counted(db_session, REVIEWED) == 0 and waiting(db_session, REVIEWED) == []


def test_the_steps_to_verify_come_a_page_at_a_time_in_the_order_they_were_completed(app, db_session, line, batch):
    second = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 654321 C",
        user=line.operator,
    )
    first_step = performed_receipt(db_session, batch, line)
    second_step = performed_receipt(db_session, second, line)
    page = step_signatures.steps_awaiting_signature(db_session, VERIFIED, for_user=line.second_operator, limit=1)
    assert page.items == [first_step] and page.next_key is not None
    rest = step_signatures.steps_awaiting_signature(
        db_session, VERIFIED, for_user=line.second_operator, limit=1, after=page.next_key
    )
    assert rest.items == [second_step] and rest.next_key is None

    client = signed_in_as(app, db_session, line.second_operator)
    listed = client.get("/batch-steps/awaiting/verified").text
    assert batch.batch_number in listed and second.batch_number in listed and 'rel="next"' not in listed
    refused = client.get("/batch-steps/awaiting/verified?cursor=not-a-cursor")
    assert refused.status_code == 422 and "cursor" in refused.text


def test_the_migration_gives_existing_steps_the_hash_of_their_content(db_session, line, batch):
    step = performed_receipt(db_session, batch, line)
    entry = step.parameters[0].current_entry
    execution.correct_entry(db_session, entry, "190", reason="Misread the scale", user=line.operator)
    for each in batch.steps:  # as steps were when the migration ran: before their signatures bound equipment and lots
        each.bound_uses = None
        each.content_hash = signatures.content_hash(each)
    db_session.flush()
    expected = {each.id: each.content_hash for each in batch.steps}
    connection = db_session.connection()
    connection.execute(text("UPDATE batch_step SET content_hash = 'unknown'"))
    migration = importlib.import_module("migrations.versions.20261205_speed_step_content_hash")
    migration._backfill(connection)
    found = dict(connection.execute(text("SELECT id, content_hash FROM batch_step")).all())
    assert found == expected and found[step.id] == signatures.content_hash(step)
