"""Checking the chain in bulk, batch by batch, and walking only a batch that fails."""

from __future__ import annotations

import pytest

from lims.audit import anchors as audit_anchors
from lims.audit import chain as audit_chain
from lims.audit import verification as audit_verification
from lims.audit.verification import BreakKind
from tests.lims.audit.helpers import TRICKY_TEXTS, events
from tests.lims.audit.tampering import alter_payload, drop_append_only_triggers


@pytest.mark.parametrize("batch_size", [1, 2, 3, 100])
def test_a_break_is_found_at_its_event_whatever_the_batches(db_session, connection, batch_size):
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit_chain.record(db_session, "test.tricky", details={"text": tricky}, reason=f"reason {number}")
    db_session.flush()
    intact = audit_verification.verify_chain(connection, batch_size=batch_size)
    assert intact.intact and intact.events_checked == len(TRICKY_TEXTS)
    drop_append_only_triggers(connection)
    alter_payload(connection, 4, "reason 3", "reason 3 (edited)")
    verification = audit_verification.verify_chain(connection, batch_size=batch_size)
    assert (verification.first_break.sequence, verification.first_break.kind) == (4, BreakKind.HASH_MISMATCH)
    assert (verification.events_checked, verification.head_hash) == (3, events(db_session)[2].hash)


def test_an_intact_chain_is_verified_in_bulk_without_walking_it_event_by_event(
    db_session, connection, monkeypatch, tmp_path
):
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit_chain.record(db_session, "test.tricky", details={"text": tricky}, reason=f"{tricky} {number}")
    db_session.flush()
    checkpoint = audit_anchors.write_checkpoint(connection, tmp_path / "checkpoints.jsonl")
    audit_chain.record(db_session, "test.after-the-checkpoint")
    db_session.flush()

    def walk(*_args):
        raise AssertionError("an intact batch was walked event by event")

    monkeypatch.setattr(audit_verification, "_first_break", walk)
    progress: list[int] = []
    verification = audit_verification.verify_chain(
        connection, checkpoints=[checkpoint], batch_size=3, progress=progress.append
    )
    assert verification.intact and verification.events_checked == checkpoint.sequence + 1
    assert sum(progress) == verification.events_checked and max(progress) == 3
