"""Checkpoints: a chain rewritten with every link recomputed still disagrees with what they recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from lims.audit import anchors as audit_anchors
from lims.audit import verification as audit_verification
from lims.audit.errors import AnchorRefused, CheckpointUnreadable
from lims.audit.models import GENESIS_HASH, AuditEvent
from lims.audit.verification import BreakKind
from tests.lims.audit.helpers import MOMENT
from tests.lims.audit.tampering import drop_append_only_triggers, relink_whole_chain


def test_a_relinked_chain_is_caught_by_the_checkpoint(db_session, connection, create_organization, tmp_path):
    for number in range(5):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    checkpoint = audit_anchors.write_checkpoint(connection, checkpoint_file)
    assert audit_anchors.read_checkpoints(checkpoint_file) == [checkpoint]
    drop_append_only_triggers(connection)
    relink_whole_chain(connection, from_sequence=2)
    assert audit_verification.verify_chain(connection).intact, "without an anchor the rewrite goes unseen"
    checkpoints = audit_anchors.read_checkpoints(checkpoint_file)
    verification = audit_verification.verify_chain(connection, checkpoints=checkpoints)
    assert verification.first_break.kind == BreakKind.CHECKPOINT_MISMATCH
    assert verification.first_break.sequence == checkpoint.sequence


def test_a_relinked_chain_is_not_anchored_again(db_session, connection, create_organization, tmp_path):
    for number in range(5):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    first = audit_anchors.write_checkpoint(connection, checkpoint_file)
    create_organization(name="Client 5")
    db_session.flush()
    drop_append_only_triggers(connection)
    relink_whole_chain(connection, from_sequence=2)
    with pytest.raises(AnchorRefused, match=f"event {first.sequence}, anchored by the checkpoint written"):
        audit_anchors.write_checkpoint(connection, checkpoint_file)
    assert audit_anchors.read_checkpoints(checkpoint_file) == [first], "a refused checkpoint writes nothing"


def test_every_checkpoint_is_compared_not_only_the_latest(db_session, connection, create_organization, tmp_path):
    """A later checkpoint that anchored a rewritten chain does not vouch for it: the earlier one still disagrees."""
    for number in range(3):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    first = audit_anchors.write_checkpoint(connection, checkpoint_file)
    drop_append_only_triggers(connection)
    relink_whole_chain(connection, from_sequence=2)
    create_organization(name="Client 3")
    db_session.flush()
    head = db_session.scalar(select(AuditEvent).order_by(AuditEvent.sequence.desc()).limit(1))
    forged = {"sequence": head.sequence, "hash": head.hash, "written_at": datetime.now(UTC).isoformat()}
    with checkpoint_file.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")

    checkpoints = audit_anchors.read_checkpoints(checkpoint_file)
    verification = audit_verification.verify_chain(connection, checkpoints=checkpoints)
    assert (verification.first_break.kind, verification.first_break.sequence) == (
        BreakKind.CHECKPOINT_MISMATCH,
        first.sequence,
    )


def test_an_intact_chain_matches_all_its_checkpoints(db_session, connection, create_organization, tmp_path):
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    audit_anchors.write_checkpoint(connection, checkpoint_file)
    for number in range(3):
        create_organization(name=f"Client {number}")
        db_session.flush()
        audit_anchors.write_checkpoint(connection, checkpoint_file)
    checkpoints = audit_anchors.read_checkpoints(checkpoint_file)
    verification = audit_verification.verify_chain(connection, checkpoints=checkpoints, batch_size=2)
    assert verification.intact and verification.checkpoints == tuple(checkpoints)
    assert f"matches all 4 checkpoints, the latest of event {checkpoints[-1].sequence}" in verification.summary()


def test_a_truncated_chain_disagrees_with_its_checkpoint(db_session, connection, create_organization, tmp_path):
    for number in range(3):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint = audit_anchors.write_checkpoint(connection, tmp_path / "c.jsonl")
    drop_append_only_triggers(connection)
    connection.execute(text("DELETE FROM audit_event WHERE sequence = :last"), {"last": checkpoint.sequence})
    verification = audit_verification.verify_chain(connection, checkpoints=[checkpoint])
    assert (verification.first_break.kind, verification.first_break.sequence) == (
        BreakKind.CHECKPOINT_MISMATCH,
        checkpoint.sequence,
    )


def test_a_corrupt_checkpoint_file_is_reported(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"sequence": 1, "hash": GENESIS_HASH, "written_at": MOMENT.isoformat()}) + "\n\nnot json\n"
    )
    with pytest.raises(CheckpointUnreadable, match="Line 3 of the checkpoint file"):
        audit_anchors.read_checkpoints(path)
