"""A batch step stores whether its performer's, verifier's and QA's review signatures cover its content as it stands:
the state the work queues count from always equals the one the signatures give when recomputed from their hashes."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text

from batch_records.models import BatchStep
from batch_records.service import execution, step_signatures
from lims.signatures import service as signatures
from lims.signatures.errors import AlreadySigned
from lims.signatures.models import SignatureMeaning
from tests.batch_records.test_execution import do_receipt, do_selection, enter, sign
from tests.helpers import PASSWORD

PERFORMED, VERIFIED, REVIEWED = SignatureMeaning.PERFORMED, SignatureMeaning.VERIFIED, SignatureMeaning.REVIEWED


def stored(session, step: BatchStep) -> dict[SignatureMeaning, bool]:
    """The state as the database holds it (read back, not from the session's copy)."""
    session.flush()
    row = session.execute(
        text("SELECT performed_signed, verified_signed, reviewed_signed FROM batch_step WHERE id = :id"),
        {"id": step.id},
    ).one()
    return {PERFORMED: bool(row[0]), VERIFIED: bool(row[1]), REVIEWED: bool(row[2])}


def recomputed(session, step: BatchStep) -> dict[SignatureMeaning, bool]:
    """The state the signatures give, each checked against the step's content hashed afresh."""
    signed = signatures.signatures_of(session, step)
    return {meaning: bool(signatures.holding(signed, meaning)) for meaning in (PERFORMED, VERIFIED, REVIEWED)}


def assert_state(session, step: BatchStep, **expected: bool) -> None:
    state = {PERFORMED: False, VERIFIED: False, REVIEWED: False} | {
        SignatureMeaning(meaning): value for meaning, value in expected.items()
    }
    assert stored(session, step) == recomputed(session, step) == state


def test_performing_and_verifying_a_step_store_each_signature_as_holding(db_session, line, batch):
    step = batch.steps[0]
    assert_state(db_session, step)
    enter(db_session, step, {"Volume": "180", "Temperature on receipt": "5"}, line.operator)
    sign(db_session, step, PERFORMED, line.operator)
    assert_state(db_session, step, performed=True)
    sign(db_session, step, VERIFIED, line.second_operator)
    assert_state(db_session, step, performed=True, verified=True)


def test_a_correction_invalidates_both_signatures_and_the_performer_signs_again_before_the_verifier(
    db_session, line, batch
):
    step = do_receipt(db_session, batch, line)
    volume = step.parameters[0].current_entry
    execution.correct_entry(db_session, volume, "190", reason="Misread the scale", user=line.operator)
    assert_state(db_session, step)
    assert step_signatures.count_steps_awaiting_signature(db_session, VERIFIED) == 0
    sign(db_session, step, PERFORMED, line.operator)
    assert_state(db_session, step, performed=True)
    assert step_signatures.count_steps_awaiting_signature(db_session, VERIFIED) == 1
    sign(db_session, step, VERIFIED, line.second_operator)
    assert_state(db_session, step, performed=True, verified=True)
    assert step_signatures.count_steps_awaiting_signature(db_session, VERIFIED) == 0


def test_content_changed_back_to_what_was_signed_makes_those_signatures_hold_again(db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    volume = step.parameters[0].current_entry
    corrected = execution.correct_entry(db_session, volume, "190", reason="Misread the scale", user=line.operator)
    assert_state(db_session, step)
    execution.correct_entry(db_session, corrected, "180", reason="The first reading was right", user=line.operator)
    assert_state(db_session, step, performed=True, verified=True)
    with pytest.raises(AlreadySigned):
        sign(db_session, step, VERIFIED, line.second_operator)


def test_qa_review_of_a_hold_point_is_stored_and_a_later_change_to_what_it_covers_sends_it_back_to_qa(
    db_session, line, batch
):
    do_receipt(db_session, batch, line)
    selection = do_selection(db_session, batch, line)
    assert_state(db_session, selection, performed=True, reviewed=True)
    assert step_signatures.count_steps_awaiting_signature(db_session, REVIEWED) == 0
    # The equipment and lots the signatures bind, changed and brought up to date as the services do after a change.
    selection.bound_uses = '{"equipment": [], "lots": []}'
    signatures.refresh_signature_state(db_session, selection)
    assert_state(db_session, selection)
    assert step_signatures.count_steps_awaiting_signature(db_session, REVIEWED) == 1


def test_a_skipped_step_keeps_no_performer_or_verifier_state(db_session, line, batch):
    do_receipt(db_session, batch, line)
    do_selection(db_session, batch, line)
    skipped = batch.steps[2]
    step_signatures.skip_step(db_session, skipped, reason="On target", user=line.operator, password=PASSWORD)
    assert_state(db_session, skipped)
    assert [signature.meaning for signature, _status in signatures.signatures_of(db_session, skipped)] == [
        SignatureMeaning.SKIPPED
    ]


def test_the_migration_stores_the_state_the_signatures_give_for_existing_steps(db_session, line, batch):
    receipt = do_receipt(db_session, batch, line)
    selection = do_selection(db_session, batch, line)
    volume = receipt.parameters[0].current_entry
    execution.correct_entry(db_session, volume, "190", reason="Misread the scale", user=line.operator)
    sign(db_session, receipt, PERFORMED, line.operator)
    db_session.flush()
    expected = {step.id: recomputed(db_session, step) for step in batch.steps}
    connection = db_session.connection()
    connection.execute(text("UPDATE batch_step SET performed_signed = NOT performed_signed, reviewed_signed = true"))
    migration = importlib.import_module("migrations.versions.20261207_perf_step_signed")
    migration.backfill(connection)
    db_session.expire_all()
    assert {step.id: stored(db_session, step) for step in batch.steps} == expected
    assert expected[receipt.id] == {PERFORMED: True, VERIFIED: False, REVIEWED: False}
    assert expected[selection.id] == {PERFORMED: True, VERIFIED: False, REVIEWED: True}
