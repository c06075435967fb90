"""The audit trail's compliance checks: the whole chain verified (a finding when it is broken), and the events not
yet anchored (a finding when one was altered, or when the oldest waits beyond N minutes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit import anchors
from lims.audit.models import AuditEvent
from tests.lims.audit.tampering import alter_action, drop_append_only_triggers
from tests.lims.compliance.checking import found

WRITTEN = datetime(2030, 4, 10, 8, tzinfo=UTC)


def test_an_intact_chain_finds_nothing_and_the_verification_is_audited(db_session, create_organization):
    create_organization()
    db_session.flush()
    assert not found(db_session, "audit.chain-integrity", at=clock.now())
    assert db_session.scalar(select(AuditEvent.action).order_by(AuditEvent.sequence.desc()).limit(1)) == (
        "audit.verified"
    )


def test_an_altered_event_is_a_critical_finding_on_the_trail(db_session, connection, create_organization):
    for number in range(3):
        create_organization(name=f"Client {number}")
    db_session.flush()
    drop_append_only_triggers(connection)
    alter_action(connection, 2, "tampered")
    condition = found(db_session, "audit.chain-integrity", at=clock.now())["chain"]
    assert "broken at event 2" in condition.detail and condition.link == "/audit/integrity"


@pytest.mark.parametrize(("minutes_waiting", "is_found"), [(59, False), (60, False), (61, True)])
def test_events_waiting_beyond_the_minutes_set_to_be_anchored_are_found(
    db_session, create_organization, minutes_waiting, is_found
):
    clock.freeze(WRITTEN)
    create_organization()
    db_session.flush()
    conditions = found(db_session, "audit.unanchored-tail", at=WRITTEN + timedelta(minutes=minutes_waiting))
    assert ("tail" in conditions) is is_found
    if is_found:
        assert "not anchored outside the database, the oldest for 61 minutes" in conditions["tail"].detail


def test_an_anchored_tail_finds_nothing_and_an_altered_one_is_found(db_session, connection, create_organization):
    clock.freeze(WRITTEN)
    create_organization()
    db_session.flush()
    anchors.write_checkpoint(connection, db_session.info[anchors.CHECKPOINT_PATH])
    later = WRITTEN + timedelta(hours=3)
    assert not found(db_session, "audit.unanchored-tail", at=later)
    create_organization()
    db_session.flush()
    head = db_session.scalar(select(AuditEvent.sequence).order_by(AuditEvent.sequence.desc()).limit(1))
    drop_append_only_triggers(connection)
    alter_action(connection, head, "tampered")
    assert "does not match its hash" in found(db_session, "audit.unanchored-tail", at=later)["tail"].detail
