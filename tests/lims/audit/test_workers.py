"""A chain checked in parts by worker processes: verified whole, every break still found where it is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lims import schema
from lims.audit import anchors as audit_anchors
from lims.audit import chain as audit_chain
from lims.audit import verification as audit_verification
from lims.audit.models import AuditEvent
from lims.audit.verification import BreakKind
from lims.db import create_engine_for
from tests.lims.audit.tampering import alter_payload, drop_append_only_triggers

COMMITTED_EVENTS = 60
PARTS = 3  # events 1-20 and 21-40 go to worker processes, 41-60 stay with the calling connection


@pytest.fixture
def committed_chain(fresh_database_url):
    """An engine on a database whose chain is committed, so that worker processes can read it too."""
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    with Session(engine) as session:
        for number in range(COMMITTED_EVENTS):
            audit_chain.record(session, "test.committed", details={"number": number}, reason=f"reason {number}.")
        session.commit()
    yield engine
    engine.dispose()


def test_a_chain_checked_in_parts_by_worker_processes_is_verified_whole(committed_chain, monkeypatch):
    checked_here: list[tuple[int, int]] = []
    verify_part = audit_verification._verify_part

    def verify_part_here(connection, part, *args):
        checked_here.append((part.after, part.last))
        return verify_part(connection, part, *args)

    monkeypatch.setattr(audit_verification, "_verify_part", verify_part_here)
    progress: list[int] = []
    with committed_chain.connect() as connection:
        verification = audit_verification.verify_chain(
            connection, processes=PARTS, batch_size=4, progress=progress.append
        )
        head_hash = connection.execute(select(AuditEvent.hash).where(AuditEvent.sequence == COMMITTED_EVENTS)).scalar()
    assert verification.intact and (verification.events_checked, verification.head_hash) == (
        COMMITTED_EVENTS,
        head_hash,
    )
    assert checked_here == [(40, 60)], "the workers vouched for the first two parts"
    assert sum(progress) == COMMITTED_EVENTS, "the workers' progress is passed on, each event once"


@pytest.mark.parametrize("altered", [7, 21, 50])
def test_an_altered_event_is_found_at_its_place_whichever_part_holds_it(committed_chain, altered):
    with committed_chain.begin() as connection:
        drop_append_only_triggers(connection)
        alter_payload(connection, altered, f"reason {altered - 1}.", f"reason {altered - 1} (edited).")
        if altered < 50:
            alter_payload(connection, 50, "reason 49.", "reason 49 (edited).")  # a later break is not the first
    with committed_chain.connect() as connection:
        verification = audit_verification.verify_chain(connection, processes=PARTS, batch_size=4)
    assert (verification.first_break.sequence, verification.first_break.kind) == (altered, BreakKind.HASH_MISMATCH)
    assert verification.events_checked == altered - 1


def test_events_missing_where_a_worker_s_part_ends_are_a_gap(committed_chain):
    with committed_chain.begin() as connection:
        drop_append_only_triggers(connection)
        connection.execute(text("DELETE FROM audit_event WHERE sequence IN (20, 21)"))
    with committed_chain.connect() as connection:
        verification = audit_verification.verify_chain(connection, processes=PARTS, batch_size=4)
    assert (verification.first_break.sequence, verification.first_break.kind) == (20, BreakKind.GAP)
    assert verification.first_break.detail == "events 20 to 21 are missing" and verification.events_checked == 19


def test_a_checkpoint_disagreeing_with_a_worker_s_part_is_reported(committed_chain):
    rewritten = audit_anchors.Checkpoint(10, "f" * 64, datetime(2030, 1, 1, tzinfo=UTC))
    with committed_chain.connect() as connection:
        verification = audit_verification.verify_chain(
            connection, checkpoints=[rewritten], processes=PARTS, batch_size=4
        )
    assert (verification.first_break.sequence, verification.first_break.kind) == (10, BreakKind.CHECKPOINT_MISMATCH)


def test_parts_the_workers_cannot_see_are_checked_by_the_calling_connection(db_session, connection):
    for number in range(12):
        audit_chain.record(db_session, "test.uncommitted", details={"number": number})
    db_session.flush()
    head = audit_verification.count_events(connection)
    progress: list[int] = []
    # Not committed, so the workers find nothing in their parts, and the caller reads them itself.
    verification = audit_verification.verify_chain(connection, processes=PARTS, batch_size=2, progress=progress.append)
    assert verification.intact and verification.events_checked == head
    assert sum(progress) == head
